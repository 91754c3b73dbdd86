package bot

import (
	"strings"
	"unicode/utf8"
)

// CleanText makes text from outside (what a person typed, what staff
// wrote for a broadcast) safe to keep and show: valid UTF-8 (a bad byte
// becomes U+FFFD), no NUL or other control character but newlines and
// tabs, and at most max runes (0 for no limit).
func CleanText(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if max > 0 && utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max])
	}
	return s
}

// SplitList splits a comma-separated list (an environment variable, a
// flag, a query parameter), trimming each item and dropping empty ones.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
