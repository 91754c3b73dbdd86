package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lifeline-org/lifeline/flows/content"
)

func runCmd(t *testing.T, env map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCheck(t *testing.T) {
	cases := []struct {
		name, dir string
		code      int
		want      string
	}{
		{"shipped content", "", 0, "content ok"},
		{"missing message id", "testdata/check/missing_message", 1, `broken.yaml:a: message id "no.such.message" missing in en, ar, es, fr`},
		{"unreachable node", "testdata/check/unreachable", 1, `broken.yaml:orphan: node is unreachable from start "a"`},
		{"dangling target", "testdata/check/dangling", 1, `broken.yaml:a: target "nowhere" does not exist`},
		{"old pack entry warns", "testdata/check/stale_pack", 0, "oldland.yaml:emergency: warning: last checked 2020-01-01, over a year ago"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"check"}
			if tc.dir != "" {
				args = append(args, tc.dir)
			}
			code, out, errOut := runCmd(t, nil, "", args...)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, want %d; output lacks %q:\n%s%s", code, tc.code, tc.want, out, errOut)
			}
		})
	}
}

func TestHelpListsEveryVariable(t *testing.T) {
	code, out, _ := runCmd(t, nil, "", "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, s := range settings {
		if !strings.Contains(out, s.name) {
			t.Errorf("--help lacks %s", s.name)
		}
	}
}

func TestBadConfigFailsFast(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"quiet hours": {"QUIET_HOURS": "late"},
		"time zone":   {"DEFAULT_TIMEZONE": "Mars/Base"},
		"no data key": {"TELEGRAM_BOT_TOKEN": "1:x"},
		"short key":   {"TELEGRAM_BOT_TOKEN": "1:x", "LIFELINE_DATA_KEY": "c2hvcnQ="},
		"zero rate":   {"TELEGRAM_MPS": "0"},
		"bad rate":    {"TWILIO_MPS": "fast"},
		"warm turns":  {"WARM_TURNS": "-1"},
	} {
		t.Run(name, func(t *testing.T) {
			code, _, errOut := runCmd(t, env, "", "serve")
			if code == 0 || errOut == "" {
				t.Errorf("exit %d, stderr %q: want a clear failure", code, errOut)
			}
		})
	}
}

// TestConsoleDemo runs the terminal chat with piped input, as a new user's
// first `go run ./cmd/lifeline` does.
func TestConsoleDemo(t *testing.T) {
	c, err := content.Load("", "en", "")
	if err != nil {
		t.Fatal(err)
	}
	es := slices.Index(c.Def.Languages, "es") + 1
	code, out, errOut := runCmd(t, map[string]string{"LISTEN_ADDR": "127.0.0.1:0"}, fmt.Sprintf("%d\n1\n", es), "serve")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"1  English", fmt.Sprintf("%d  Español", es), "bienvenida a Lifeline", "NOTHING SURVIVES A RESTART"} {
		if !strings.Contains(out+errOut, want) {
			t.Errorf("output lacks %q:\n%s\n%s", want, out, errOut)
		}
	}
}

// TestAdaptContent follows docs/content.md as a programme officer would:
// a new country pack and a reworded lesson message in CONTENT_DIR, checked,
// then served.
func TestAdaptContent(t *testing.T) {
	dir := t.TempDir()
	for path, text := range map[string]string{
		"packs/kenya.yaml": `country: kenya
entries:
  emergency: {value: "999 or 112", source: "test pack", checked: 2026-11-01}
  hotline: {value: "call 1195, free", source: "test pack", checked: 2026-11-01}
  inspectorate: {value: "the county labour office", source: "test pack", checked: 2026-11-01}
  legal_aid: {value: "ask your coach", source: "test pack", checked: 2026-11-01}
  union: {value: "ask your coach", source: "test pack", checked: 2026-11-01}
  minimum_wage: {value: "it depends on the job; ask your coach", source: "test pack", checked: 2026-11-01}
`,
		"locales/core.en.yaml": "menu.main: \"What shall we do today?\"\n",
	} {
		full := filepath.Join(dir, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"CONTENT_DIR": dir, "RESOURCE_PACK": "kenya", "LISTEN_ADDR": "127.0.0.1:0"}
	if code, out, errOut := runCmd(t, env, "", "check"); code != 0 || !strings.Contains(out, "content ok") {
		t.Fatalf("check exit %d:\n%s%s", code, out, errOut)
	}
	code, out, errOut := runCmd(t, env, "1\n1\nmy data\nI am in danger\n", "serve")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"What shall we do today?", "call 999 or 112"} {
		if !strings.Contains(out, want) {
			t.Errorf("the adapted content lacks %q:\n%s", want, out)
		}
	}
}
