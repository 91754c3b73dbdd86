package crisis_test

import (
	"strings"
	"testing"
)

// BenchmarkMatch measures one message against the shipped lists: a
// typical short one, and the longest text a person may send (4096 runes).
func BenchmarkMatch(b *testing.B) {
	c := loadShipped(b)
	short := "hello, can you tell me about my rights at work and the minimum wage please"
	long := strings.Repeat("my employer says the contract ends next month and I need a new job soon ", 56)
	for _, bc := range []struct{ name, lang, text string }{
		{"short/en", "en", short}, {"short/none", "", short}, {"long/en", "en", long}, {"long/none", "", long},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				c.Crisis.Match(bc.lang, bc.text)
			}
		})
	}
}
