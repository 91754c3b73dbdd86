package bot

import (
	"slices"
	"testing"
)

// TestCleanText: invalid bytes become U+FFFD, control characters go but
// newlines and tabs stay, and the text is cut at max runes (not bytes).
func TestCleanText(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"hello", 0, "hello"},
		{"a\x00b\x07c\x7fd\x1b[31m", 0, "abcd[31m"},
		{"line one\n\tline two\r\n", 0, "line one\n\tline two\n"},
		{"bad \xff byte", 0, "bad \uFFFD byte"},
		{"مرحبا بك", 3, "مرح"},
		{"नमस्ते", 0, "नमस्ते"},
		{"short", 10, "short"},
	} {
		if got := CleanText(tc.in, tc.max); got != tc.want {
			t.Errorf("CleanText(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

// TestSplitList: items trimmed, empty ones dropped.
func TestSplitList(t *testing.T) {
	if got := SplitList(" a, b ,,c ,"); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("got %q", got)
	}
	if got := SplitList(" , "); got != nil {
		t.Fatalf("nothing but commas: got %q", got)
	}
}
