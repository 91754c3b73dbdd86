package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTranslationsCommand drives status, export and import on an override
// directory (as CONTENT_DIR/locales): empty at first, so the shipped texts
// are the ones exported; the import writes the override file.
func TestTranslationsCommand(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCmd(t, nil, "", "translations", "status", "--dir", dir)
	if code != 0 || !strings.Contains(out, "needs review") || !strings.Contains(out, "\nes  ") {
		t.Fatalf("status: exit %d\n%s%s", code, out, errOut)
	}
	po := filepath.Join(t.TempDir(), "es.po")
	if code, _, errOut := runCmd(t, nil, "", "translations", "export", "es", "--dir", dir, "-o", po); code != 0 {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	buf, err := os.ReadFile(po)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(buf), "#, fuzzy\nmsgctxt \"opt.menu\"\nmsgid \"Menu\"\nmsgstr \"Menú principal\"",
		"msgctxt \"opt.menu\"\nmsgid \"Menu\"\nmsgstr \"Menú\"", 1)
	text = strings.Replace(text, "msgstr \"Primer mensaje: {{.value}}\"", "msgstr \"Primer mensaje\"", 1)
	if text == string(buf) {
		t.Fatal("export does not have the expected entries")
	}
	if err := os.WriteFile(po, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCmd(t, nil, "", "translations", "import", po, "--dir", dir)
	if code != 1 || !strings.Contains(errOut, po+":") || !strings.Contains(errOut, "mydata.since: placeholders none, but the English has {{.value}}") ||
		!strings.Contains(out, "es: 1 texts changed, 1 marked reviewed, 1 refused; wrote core.es.yaml, review/es.yaml") {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	if buf, err := os.ReadFile(filepath.Join(dir, "core.es.yaml")); err != nil || !strings.Contains(string(buf), "opt.menu: \"Menú\"\n") {
		t.Errorf("core.es.yaml: %q, %v", buf, err)
	}
	code, out, _ = runCmd(t, nil, "", "translations", "status", "es", "--dir", dir)
	if fields := strings.Fields(strings.Split(out, "\n")[1]); code != 0 || len(fields) != 7 || fields[0] != "es" || fields[3] != "1" {
		t.Errorf("status es after import: exit %d\n%s", code, out)
	}
	if code, _, errOut := runCmd(t, nil, "", "translations", "export", "xx", "--dir", dir); code != 1 || !strings.Contains(errOut, "no \"xx\" texts") {
		t.Errorf("unknown language: exit %d %s", code, errOut)
	}
	if code, _, _ := runCmd(t, nil, "", "translations", "frobnicate"); code != 2 {
		t.Errorf("unknown subcommand: exit %d", code)
	}
}
