package chart

import (
	"encoding/xml"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
)

// node is an element of the rendered SVG: its name, attributes and the
// text directly inside it.
type node struct {
	name  string
	attr  map[string]string
	text  string
	class string
}

// parse walks svg with encoding/xml, failing the test on any error, and
// returns its elements in document order.
func parse(t *testing.T, svg string) []*node {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(svg))
	d.Strict = true
	var all, open []*node
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not XML: %v\n%s", err, svg)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &node{name: tok.Name.Local, attr: map[string]string{}}
			for _, a := range tok.Attr {
				n.attr[a.Name.Local] = a.Value
			}
			n.class = n.attr["class"]
			all = append(all, n)
			open = append(open, n)
		case xml.EndElement:
			open = open[:len(open)-1]
		case xml.CharData:
			if len(open) > 0 {
				open[len(open)-1].text += string(tok)
			}
		}
	}
	if len(all) == 0 || all[0].name != "svg" {
		t.Fatalf("no svg root: %s", svg)
	}
	return all
}

func find(nodes []*node, name, class string) []*node {
	var out []*node
	for _, n := range nodes {
		if n.name == name && (class == "" || n.class == class) {
			out = append(out, n)
		}
	}
	return out
}

func rectWidth(t *testing.T, n *node) float64 {
	t.Helper()
	w, err := strconv.ParseFloat(n.attr["width"], 64)
	if err != nil {
		t.Fatalf("rect width %q: %v", n.attr["width"], err)
	}
	return w
}

func TestBarsEscapes(t *testing.T) {
	svg := string(Bars(`Cases & "reports" <b>`, []Bar{
		{Label: "<script>alert(1)</script>", Value: 3},
		{Label: "it's \x01 \xff done", Value: 1},
	}, func(v float64) string { return "<" + strconv.Itoa(int(v)) + ">" }, ""))
	for _, bad := range []string{"<script", "<b>", "<3>", "\x01", "\xff"} {
		if strings.Contains(svg, bad) {
			t.Errorf("output holds %q unescaped:\n%s", bad, svg)
		}
	}
	nodes := parse(t, svg)
	if got := find(nodes, "title", "")[0].text; got != `Cases & "reports" <b>` {
		t.Errorf("title = %q", got)
	}
	labels := find(nodes, "text", "label")
	if len(labels) != 2 || labels[0].text != "<script>alert(1)</script>" {
		t.Fatalf("labels = %v", labels)
	}
	if labels[1].text != "it's \ufffd \ufffd done" {
		t.Errorf("label with a control character and invalid UTF-8 = %q", labels[1].text)
	}
	if v := find(nodes, "text", "value")[0].text; v != "<3>" {
		t.Errorf("formatted value = %q", v)
	}
}

func TestBarsSuppressed(t *testing.T) {
	svg := string(Bars("By country", []Bar{
		{Label: "Nepal", Value: 40},
		{Label: "Qatar", Value: 3, Suppressed: true},
	}, func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }, "<5"))
	nodes := parse(t, svg)
	values := find(nodes, "text", "value")
	if len(values) != 2 || values[0].text != "40.0" || values[1].text != "<5" {
		t.Fatalf("values = %+v", values)
	}
	if strings.Contains(svg, "3.0") || strings.Contains(svg, ">3<") {
		t.Errorf("suppressed value appears:\n%s", svg)
	}
	desc := find(nodes, "desc", "")[0].text
	if desc != "Nepal: 40.0; Qatar: <5" {
		t.Errorf("desc = %q", desc)
	}
	rects := find(nodes, "rect", "bar suppressed")
	if len(rects) != 1 || rects[0].attr["fill"] != "none" || rects[0].attr["stroke-dasharray"] == "" {
		t.Fatalf("suppressed rect = %+v", rects)
	}
	if w := rectWidth(t, rects[0]); w >= barArea/4 {
		t.Errorf("suppressed bar is %v wide: it must not look like a measure", w)
	}
	// The largest shown value fills the area; a suppressed one never
	// counts towards the scale, even when its hidden value is larger.
	svg = string(Bars("", []Bar{{Label: "a", Value: 2}, {Label: "b", Value: 99, Suppressed: true}}, nil, ""))
	nodes = parse(t, svg)
	if w := rectWidth(t, find(nodes, "rect", "bar")[0]); w != barArea {
		t.Errorf("only shown bar is %v wide, want %v", w, barArea)
	}
	if v := find(nodes, "text", "value")[1].text; v != "<5" {
		t.Errorf("default suppressed text = %q", v)
	}
	if strings.Contains(svg, "99") {
		t.Errorf("suppressed value appears:\n%s", svg)
	}
}

func TestBarsScale(t *testing.T) {
	svg := string(Bars("Scale", []Bar{
		{Label: "half", Value: 50},
		{Label: "full", Value: 100},
		{Label: "quarter", Value: 25},
		{Label: "zero", Value: 0},
		{Label: "negative", Value: -10},
		{Label: "nan", Value: math.NaN()},
		{Label: "inf", Value: math.Inf(1)},
	}, nil, ""))
	nodes := parse(t, svg)
	rects := find(nodes, "rect", "bar")
	want := []float64{barArea / 2, barArea, barArea / 4, 0, 0, 0, 0}
	if len(rects) != len(want) {
		t.Fatalf("%d rects, want %d", len(rects), len(want))
	}
	for i, r := range rects {
		if w := rectWidth(t, r); w != want[i] {
			t.Errorf("bar %d is %v wide, want %v", i, w, want[i])
		}
	}
	values := find(nodes, "text", "value")
	if values[0].text != "50" || values[1].text != "100" {
		t.Errorf("default format gave %q, %q", values[0].text, values[1].text)
	}
	for _, n := range nodes {
		for k, v := range n.attr {
			if strings.Contains(v, "NaN") || strings.Contains(v, "Inf") {
				t.Errorf("%s %s=%q", n.name, k, v)
			}
		}
	}
	// All zero: no bar has length, nothing divides by zero.
	for _, r := range find(parse(t, string(Bars("z", []Bar{{Label: "a"}, {Label: "b"}}, nil, ""))), "rect", "bar") {
		if w := rectWidth(t, r); w != 0 {
			t.Errorf("zero bar is %v wide", w)
		}
	}
}

func TestBarsEmpty(t *testing.T) {
	svg := string(Bars("Nothing yet", nil, nil, ""))
	nodes := parse(t, svg)
	if len(nodes) != 2 || nodes[1].name != "title" || nodes[1].text != "Nothing yet" {
		t.Fatalf("empty chart holds more than its title: %s", svg)
	}
	root := nodes[0]
	if root.attr["role"] != "img" || root.attr["aria-labelledby"] != nodes[1].attr["id"] {
		t.Errorf("root %v does not name the title %v", root.attr, nodes[1].attr)
	}
}

func TestBarsCSP(t *testing.T) {
	// No inline style or script, no event handlers: the console's CSP
	// would refuse them.
	svg := string(Bars("t", []Bar{{Label: "a", Value: 1}, {Label: "b", Suppressed: true}}, nil, ""))
	nodes := parse(t, svg)
	for _, n := range nodes {
		if n.name == "style" || n.name == "script" || n.name == "foreignObject" {
			t.Errorf("element %s", n.name)
		}
		for k := range n.attr {
			if k == "style" || strings.HasPrefix(k, "on") || k == "href" {
				t.Errorf("%s has attribute %s", n.name, k)
			}
		}
	}
	root := nodes[0]
	if root.attr["aria-labelledby"] != find(nodes, "title", "")[0].attr["id"] ||
		root.attr["aria-describedby"] != find(nodes, "desc", "")[0].attr["id"] {
		t.Errorf("aria attributes %v do not name the title and desc", root.attr)
	}
	if !strings.HasPrefix(svg, `<svg `) {
		t.Errorf("output does not start with <svg: %.40s", svg)
	}
}

func TestBarsIDs(t *testing.T) {
	id := func(s string) string { return parse(t, s)[0].attr["aria-labelledby"] }
	a := id(string(Bars("Cases", []Bar{{Label: "x", Value: 1}}, nil, "")))
	b := id(string(Bars("Cases", []Bar{{Label: "x", Value: 2}}, nil, "")))
	c := id(string(Bars("Cases", []Bar{{Label: "x", Value: 1}}, nil, "")))
	if a == b {
		t.Errorf("charts of different data share id %s", a)
	}
	if a != c {
		t.Errorf("the same chart got ids %s and %s", a, c)
	}
}
