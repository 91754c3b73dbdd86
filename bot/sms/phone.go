package sms

import (
	"errors"
	"strings"
	"unicode"
)

// ErrInvalidNumber is returned for a phone number that is not E.164. It
// never includes the number, which is personal data.
var ErrInvalidNumber = errors.New("invalid phone number")

// NormalizeE164 returns s as an E.164 number ("+" and 8 to 15 digits). It
// drops spaces, dashes, parentheses, dots and invisible direction marks,
// reads digits of any script (Arabic-Indic, Devanagari, full-width...) as
// ASCII digits, takes a "00" international prefix for "+", and drops a
// trunk prefix written "(0)" as in "+44 (0)20...".
func NormalizeE164(s string) (string, error) {
	s = strings.ReplaceAll(s, "(0)", "")
	var b strings.Builder
	b.Grow(16)
	plus := false
	for _, r := range s {
		switch {
		case r == '+' || r == '＋':
			if plus || b.Len() > 0 {
				return "", ErrInvalidNumber
			}
			plus = true
		case unicode.IsDigit(r):
			d, ok := digitValue(r)
			if !ok {
				return "", ErrInvalidNumber
			}
			b.WriteByte(byte('0' + d))
		case unicode.IsSpace(r), unicode.Is(unicode.Pd, r), unicode.Is(unicode.Cf, r),
			r == '(', r == ')', r == '.', r == '（', r == '）':
		default:
			return "", ErrInvalidNumber
		}
	}
	digits := b.String()
	if !plus {
		if !strings.HasPrefix(digits, "00") {
			return "", ErrInvalidNumber
		}
		digits = digits[2:]
	}
	if len(digits) < 8 || len(digits) > 15 || digits[0] == '0' {
		return "", ErrInvalidNumber
	}
	return "+" + digits, nil
}

// digitValue is the value of a decimal digit of any script. Unicode keeps
// every script's digits 0 to 9 in one contiguous run, and the Nd table's
// ranges are unions of such runs.
func digitValue(r rune) (int, bool) {
	if r >= '0' && r <= '9' {
		return int(r - '0'), true
	}
	for _, rg := range unicode.Nd.R16 {
		if lo, hi := rune(rg.Lo), rune(rg.Hi); r >= lo && r <= hi && rg.Stride == 1 {
			return int(r-lo) % 10, true
		}
	}
	for _, rg := range unicode.Nd.R32 {
		if lo, hi := rune(rg.Lo), rune(rg.Hi); r >= lo && r <= hi && rg.Stride == 1 {
			return int(r-lo) % 10, true
		}
	}
	return 0, false
}
