package sms

import (
	"errors"
	"testing"
	"unicode"
)

func TestNormalizeE164(t *testing.T) {
	tests := []struct {
		name, in, want string // want "" means ErrInvalidNumber
	}{
		{"e164", "+447700900123", "+447700900123"},
		{"spaces", "+44 7700 900123", "+447700900123"},
		{"dashes and parentheses", "+1 (415) 867-5309", "+14158675309"},
		{"trunk zero in parentheses", "+44 (0) 7700 900123", "+447700900123"},
		{"dots", "+977.980.123.4567", "+9779801234567"},
		{"00 prefix", "00447700900123", "+447700900123"},
		{"no-break space and en dash", "+44\u00a07700\u2013900123", "+447700900123"},
		{"direction marks", "\u202a+971 50 123 4567\u202c", "+971501234567"},
		{"full-width", "＋４４７７００９００１２３", "+447700900123"},
		{"arabic-indic digits", "٠٠٩٧١٥٠١٢٣٤٥٦٧", "+971501234567"},
		{"eastern arabic-indic digits", "+۹۸۹۱۲۳۴۵۶۷۸۹", "+989123456789"},
		{"devanagari digits", "+९७७ ९८०१२३४५६७", "+9779801234567"},
		{"bengali digits", "+৮৮০১৭১২৩৪৫৬৭৮", "+8801712345678"},
		{"thai digits", "+๖๖๘๑๒๓๔๕๖๗๘", "+66812345678"},
		{"8 digits", "+12345678", "+12345678"},
		{"15 digits", "+123456789012345", "+123456789012345"},
		{"7 digits", "+1234567", ""},
		{"16 digits", "+1234567890123456", ""},
		{"no plus", "447700900123", ""},
		{"national", "07700 900123", ""},
		{"zero country code", "+0447700900123", ""},
		{"plus inside", "+44+7700900123", ""},
		{"plus late", "44+7700900123", ""},
		{"letters", "+44 7700 HELLO", ""},
		{"whatsapp prefix", "whatsapp:+447700900123", ""},
		{"empty", "", ""},
		{"only plus", "+", ""},
		{"00 only", "00", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizeE164(tc.in)
			if tc.want == "" {
				if !errors.Is(err, ErrInvalidNumber) {
					t.Errorf("NormalizeE164(%q) = %q, %v; want ErrInvalidNumber", tc.in, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("NormalizeE164(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestDigitValueEveryScript(t *testing.T) {
	// digitValue relies on each Nd range being whole runs of 0 to 9.
	check := func(lo, hi, stride uint32) {
		if stride != 1 || (hi-lo+1)%10 != 0 {
			t.Errorf("Nd range %U-%U stride %d is not whole runs of ten digits", lo, hi, stride)
		}
	}
	for _, r := range unicode.Nd.R16 {
		check(uint32(r.Lo), uint32(r.Hi), uint32(r.Stride))
	}
	for _, r := range unicode.Nd.R32 {
		check(r.Lo, r.Hi, r.Stride)
	}
	for _, zero := range []rune{'0', '٠', '۰', '०', '০', '๐', '０', '𝟎'} {
		for d := range rune(10) {
			if v, ok := digitValue(zero + d); !ok || v != int(d) {
				t.Errorf("digitValue(%U) = %d, %v; want %d", zero+d, v, ok, d)
			}
		}
	}
}
