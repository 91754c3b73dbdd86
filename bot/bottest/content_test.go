package bottest_test

import (
	"testing"

	"github.com/lifeline-org/lifeline/bot/bottest"
)

// TestDigits: the digits of the shipped menus.
func TestDigits(t *testing.T) {
	if d := bottest.LangDigit(t, "en"); d != "1" {
		t.Errorf("English is %s", d)
	}
	if d := bottest.Digit(t, "rights", "", "documents"); d == "" {
		t.Error("no documents lesson")
	}
	if s := bottest.Text(t, "en", "runtime.crisis"); s == "" {
		t.Error("no crisis text")
	}
}
