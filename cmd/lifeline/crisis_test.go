package main

import (
	"strings"
	"testing"
)

// TestCrisisCommand: one line out per line in, from the runtime's matcher,
// for a person of the language given (or of none).
func TestCrisisCommand(t *testing.T) {
	in := "je vais me suicider\nj'ai enfermé mes clés dans la voiture\n\nau secours\n"
	code, out, errOut := runCmd(t, nil, in, "crisis", "-lang", "fr")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("want 4 lines, got %q", lines)
	}
	for i, want := range []bool{true, false, false, true} {
		urgent, phrase, _ := strings.Cut(lines[i], "\t")
		if got := urgent == "urgent" && phrase != ""; got != want || (!want && lines[i] != "-") {
			t.Errorf("line %d: %q, want urgent=%v", i+1, lines[i], want)
		}
	}
	// A Portuguese speaker's "closed" is no alarm; the same word from a
	// Spanish speaker is.
	if _, out, _ := runCmd(t, nil, "estou encerrado\n", "crisis", "-lang", "pt"); out != "-\n" {
		t.Errorf("pt: %q", out)
	}
	if code, _, errOut := runCmd(t, nil, "x\n", "crisis", "-lang", "xx"); code != 2 || !strings.Contains(errOut, "no language") {
		t.Errorf("unknown language: exit %d, %q", code, errOut)
	}
}

// TestCheckCrisisLists: lifeline check reports a phrase that cannot match.
func TestCheckCrisisLists(t *testing.T) {
	code, out, _ := runCmd(t, nil, "", "check", "testdata/check/bad_crisis")
	if code != 1 || !strings.Contains(out, `en.yaml: "** hit me": starts with a wildcard`) {
		t.Errorf("exit %d:\n%s", code, out)
	}
}
