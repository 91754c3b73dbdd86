package chart

import (
	"fmt"
	"hash/fnv"
	"html/template"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Bar is one row of a bar chart.
type Bar struct {
	Label string
	Value float64
	// Suppressed hides a count too small to show without risk of
	// identifying someone: the bar is drawn as an empty dashed stub with
	// the suppressed text beside it, and Value is never rendered.
	Suppressed bool
}

// Layout, in SVG user units. Each row has its label on one line and its
// bar below, so a label of any length never overlaps a bar.
const (
	width       = 600
	barArea     = 480 // the longest bar; the rest of the width holds its value
	rowHeight   = 40
	labelY      = 14 // label baseline, from the row's top
	barY        = 20 // bar top, from the row's top
	barHeight   = 14
	valueY      = 31 // value baseline, from the row's top
	valueGap    = 6  // between a bar's end and its value
	stubWidth   = 16 // a suppressed bar: a mark, not a length
	padding     = 4  // above the first row and below the last
	fontSize    = 13
	defaultHide = "<5"
)

// Bars renders a horizontal bar chart: one row per bar, each a label, a
// <rect> whose width is its value scaled so the largest value fills the
// bar area, and the value as format gives it (strconv's shortest form if
// format is nil). Negative, NaN and infinite values draw as empty bars.
// A suppressed bar shows suppressedText ("<5" if empty) and never its
// value. With no bars the SVG holds only its title.
//
// title is the chart's accessible name (<title>, through aria-labelledby);
// a <desc> lists every label with its value for screen readers. Element
// ids come from a hash of the content, so identical charts on one page
// share ids but distinct ones do not.
func Bars(title string, bars []Bar, format func(float64) string, suppressedText string) template.HTML {
	if format == nil {
		format = func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	}
	if suppressedText == "" {
		suppressedText = defaultHide
	}
	shown := make([]string, len(bars))
	max := 0.0
	for i, b := range bars {
		if b.Suppressed {
			shown[i] = suppressedText
			continue
		}
		shown[i] = format(b.Value)
		if v := drawable(b.Value); v > max {
			max = v
		}
	}
	id := chartID(title, bars, shown)

	height := 0
	if len(bars) > 0 {
		height = 2*padding + len(bars)*rowHeight
	}
	var s strings.Builder
	fmt.Fprintf(&s, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-labelledby="%s-title"`, id)
	if len(bars) > 0 {
		fmt.Fprintf(&s, ` aria-describedby="%s-desc"`, id)
	}
	fmt.Fprintf(&s, ` viewBox="0 0 %d %d" direction="ltr" font-size="%d">`, width, height, fontSize)
	fmt.Fprintf(&s, `<title id="%s-title">%s</title>`, id, escape(title))
	if len(bars) == 0 {
		s.WriteString(`</svg>`)
		return template.HTML(s.String())
	}

	fmt.Fprintf(&s, `<desc id="%s-desc">`, id)
	for i, b := range bars {
		if i > 0 {
			s.WriteString("; ")
		}
		fmt.Fprintf(&s, "%s: %s", escape(b.Label), escape(shown[i]))
	}
	s.WriteString(`</desc>`)

	for i, b := range bars {
		top := padding + i*rowHeight
		s.WriteString(`<g class="row">`)
		fmt.Fprintf(&s, `<text class="label" x="0" y="%d" fill="currentColor">%s</text>`, top+labelY, escape(b.Label))
		var end float64
		if b.Suppressed {
			end = stubWidth
			fmt.Fprintf(&s, `<rect class="bar suppressed" x="0.5" y="%d.5" width="%d" height="%d" fill="none" stroke="currentColor" stroke-dasharray="3 2"/>`,
				top+barY, stubWidth-1, barHeight-1)
		} else {
			if max > 0 {
				end = math.Round(drawable(b.Value)/max*barArea*10) / 10
			}
			fmt.Fprintf(&s, `<rect class="bar" x="0" y="%d" width="%s" height="%d" fill="currentColor"/>`,
				top+barY, strconv.FormatFloat(end, 'f', -1, 64), barHeight)
		}
		fmt.Fprintf(&s, `<text class="value" x="%s" y="%d" fill="currentColor">%s</text>`,
			strconv.FormatFloat(end+valueGap, 'f', -1, 64), top+valueY, escape(shown[i]))
		s.WriteString(`</g>`)
	}
	s.WriteString(`</svg>`)
	return template.HTML(s.String())
}

// drawable is v as a bar length: 0 for what cannot be drawn.
func drawable(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0
	}
	return v
}

// chartID names a chart's elements after its content.
func chartID(title string, bars []Bar, shown []string) string {
	h := fnv.New64a()
	h.Write([]byte(title))
	for i, b := range bars {
		fmt.Fprintf(h, "\x00%s\x00%s\x00%t", b.Label, shown[i], b.Suppressed)
	}
	return fmt.Sprintf("chart-%016x", h.Sum64())
}

// escape makes s safe as the text of an element in both HTML and XML:
// markup characters become references, and what XML 1.0 forbids (control
// characters, invalid UTF-8, lone surrogates, U+FFFE and U+FFFF) becomes
// U+FFFD.
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '"':
			b.WriteString("&#34;")
		case r == '\'':
			b.WriteString("&#39;")
		case r == utf8.RuneError && n == 1, !xmlChar(r):
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// xmlChar reports whether XML 1.0 allows r in text.
func xmlChar(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' ||
		(r >= 0x20 && r <= 0xd7ff) ||
		(r >= 0xe000 && r <= 0xfffd) ||
		(r >= 0x10000 && r <= 0x10ffff)
}
