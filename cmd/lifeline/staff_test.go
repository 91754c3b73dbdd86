package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/store/storetest"
)

// TestStaffCommand runs `lifeline staff` as an operator would: add (a
// link, or a password from stdin), refusals with exit 2, list, disable,
// reset, unlock.
func TestStaffCommand(t *testing.T) {
	srv := storetest.StartServer(t)
	env := map[string]string{"REDIS_URL": srv.URL(), "LIFELINE_DATA_KEY": testKey, "PUBLIC_URL": "https://lifeline.example.org/"}
	staff := func(stdin string, args ...string) (string, int) {
		t.Helper()
		var out, errs bytes.Buffer
		code := run(context.Background(), append([]string{"staff"}, args...), func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errs)
		return out.String() + errs.String(), code
	}
	out, code := staff("", "add", "amina", "--role", "staff")
	if code != 0 || !strings.Contains(out, "https://lifeline.example.org/console/welcome?t=") {
		t.Fatalf("add: %d\n%s", code, out)
	}
	for _, tc := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"", []string{"add", "amina", "--role", "staff"}, "exists"},
		{"", []string{"add", "bob", "--role", "boss"}, "unknown role"},
		{"", []string{"add", "a b", "--role", "staff"}, "a name is"},
		{"short\n", []string{"add", "cora", "--role", "coach", "--password-stdin"}, "at least 12"},
		{"", []string{"disable", "nobody"}, "no such account"},
		{"", []string{"frobnicate", "amina"}, "usage"},
	} {
		if out, code := staff(tc.stdin, tc.args...); code != 2 || !strings.Contains(out, tc.want) {
			t.Errorf("staff %v: %d, want 2 and %q\n%s", tc.args, code, tc.want, out)
		}
	}
	if out, code := staff("cora-password-123\n", "add", "cora", "--role", "coach", "--password-stdin"); code != 0 || !strings.Contains(out, "password set") {
		t.Errorf("add with a password: %d\n%s", code, out)
	}
	for _, args := range [][]string{{"disable", "amina"}, {"reset", "cora"}, {"unlock", "cora"}} {
		if out, code := staff("", args...); code != 0 {
			t.Errorf("staff %v: %d\n%s", args, code, out)
		}
	}
	out, _ = staff("", "list")
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(l, "time=") { // the log, on stderr
			lines = append(lines, l)
		}
	}
	if len(lines) != 3 || strings.Join(strings.Fields(lines[1]), " ") != "amina staff disabled false" ||
		strings.Join(strings.Fields(lines[2]), " ") != "cora coach active false" {
		// (reset makes a new link but the password set on stdin stays)
		t.Errorf("list:\n%s", out)
	}
	var aout, aerr bytes.Buffer
	run(context.Background(), []string{"audit"}, func(k string) string { return env[k] }, strings.NewReader(""), &aout, &aerr)
	for _, want := range []string{"account.add", "account.disable", "account.reset"} {
		if !strings.Contains(aout.String(), want) {
			t.Errorf("lifeline audit lacks %s:\n%s", want, aout.String())
		}
	}
}

// TestConsoleConfig: case targets and the second-factor rule are read,
// and bad values refused.
func TestConsoleConfig(t *testing.T) {
	cfg, err := LoadConfig(func(k string) string {
		return map[string]string{"CASE_TARGETS": "urgent=10m, normal=12h", "CONSOLE_REQUIRE_2FA": "true"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CaseTargets["urgent"] != 10*time.Minute || cfg.CaseTargets["normal"] != 12*time.Hour || !cfg.ConsoleRequire2FA {
		t.Errorf("config %v %v", cfg.CaseTargets, cfg.ConsoleRequire2FA)
	}
	for _, env := range []map[string]string{{"CASE_TARGETS": "urgent=soon"}, {"CASE_TARGETS": "high=1h"}, {"CASE_TARGETS": "urgent=-1m"}, {"CONSOLE_REQUIRE_2FA": "maybe"}} {
		if _, err := LoadConfig(func(k string) string { return env[k] }); err == nil {
			t.Errorf("%v accepted", env)
		}
	}
}
