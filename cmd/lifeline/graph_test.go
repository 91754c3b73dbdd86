package main

import (
	"go/build"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/lifeline-org/lifeline"

// projectImports reads, for every package of the module, the packages it
// imports outside its tests (as go list does for this machine).
func projectImports(t *testing.T) map[string][]string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found: %v", err)
	}
	imports := map[string][]string{}
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if name := d.Name(); path != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		pkg, err := build.Default.ImportDir(path, 0)
		if err != nil {
			return nil // no Go files here
		}
		rel, _ := filepath.Rel(root, path)
		imports[strings.TrimSuffix(module+"/"+filepath.ToSlash(rel), "/.")] = pkg.Imports
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return imports
}

// deps returns the module's packages p depends on, directly or not.
func deps(imports map[string][]string, p string) []string {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(p string) {
		for _, q := range imports[p] {
			if strings.HasPrefix(q, module+"/") && !seen[q] {
				seen[q] = true
				walk(q)
			}
		}
	}
	walk(p)
	var out []string
	for q := range seen {
		out = append(out, strings.TrimPrefix(q, module+"/"))
	}
	slices.Sort(out)
	return out
}

// TestPackageGraph keeps the rules of docs/architecture.md: the leaves
// import nothing of Lifeline, the engine knows neither texts nor store,
// channels know only the contract, modules do not know each other, and
// only store talks to Redis.
func TestPackageGraph(t *testing.T) {
	imports := projectImports(t)
	if len(imports) < 10 {
		t.Fatalf("read only %d packages", len(imports))
	}
	for pkg, allowed := range map[string][]string{
		"locales":           nil,
		"locales/translate": {"locales"},
		"store":             nil,
		"flows/overlay":     nil,
		"flows":             {"flows/overlay"},
		"flows/crisis":      {"flows", "flows/overlay"},
		"bot":               {"flows", "flows/overlay"},
		"bot/telegram":      {"bot", "flows", "flows/overlay"},
		"bot/sms":           {"bot", "flows", "flows/overlay"},
		"bot/console":       {"bot", "flows", "flows/overlay"},
		"web/chart":         nil,
		"bot/workspace":     {"bot", "store", "flows", "flows/overlay"},
	} {
		if _, ok := imports[module+"/"+pkg]; !ok {
			t.Errorf("package %s not found", pkg)
			continue
		}
		for _, d := range deps(imports, module+"/"+pkg) {
			if !slices.Contains(allowed, d) {
				t.Errorf("%s depends on %s; it may depend only on %v", pkg, d, allowed)
			}
		}
	}
	modules := []string{"bot/coach", "bot/checkin", "bot/broadcast"}
	for _, m := range modules {
		for _, d := range deps(imports, module+"/"+m) {
			if slices.Contains(modules, d) || d == "bot/telegram" || d == "bot/sms" || d == "bot/console" {
				t.Errorf("module %s depends on %s: modules meet only through the runner and cmd/lifeline", m, d)
			}
		}
	}
	// The console drives the modules; nothing but cmd/lifeline drives the
	// console, and it reaches people only through the modules and the runner.
	for _, d := range deps(imports, module+"/web") {
		if d == "bot/telegram" || d == "bot/console" {
			t.Errorf("web depends on %s: the console reaches people through the runner", d)
		}
	}
	for p := range imports {
		if rel := strings.TrimPrefix(p, module+"/"); rel != "cmd/lifeline" && rel != "web" && slices.Contains(deps(imports, p), "web") {
			t.Errorf("%s depends on web: only cmd/lifeline wires the console", rel)
		}
	}
	for p, imps := range imports {
		rel := strings.TrimPrefix(p, module)
		if rel == "/store" || strings.HasPrefix(rel, "/store/") {
			continue
		}
		for _, q := range imps {
			if strings.HasPrefix(q, "github.com/redis/go-redis/") {
				t.Errorf("%s imports %s: only store talks to Redis", p, q)
			}
		}
	}
}
