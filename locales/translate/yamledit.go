package translate

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// setYAML sets message id to t in the YAML text buf, rewriting only the
// lines of that message (comments, blank lines and the order of the others
// stay as they are). A new id goes at the end.
func setYAML(buf []byte, id string, t text) ([]byte, error) {
	lines := strings.SplitAfter(string(buf), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	var root yaml.Node
	if err := yaml.Unmarshal(buf, &root); err != nil {
		return nil, err
	}
	var doc *yaml.Node
	if len(root.Content) > 0 {
		doc = root.Content[0]
		if doc.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("not a mapping of message ids")
		}
	}
	render := renderYAML(id, t)
	for i := 0; doc != nil && i+1 < len(doc.Content); i += 2 {
		key, val := doc.Content[i], doc.Content[i+1]
		if key.Value != id {
			continue
		}
		start := key.Line - 1 // 0-based first line of the message
		end := len(lines)     // one past its last line
		if i+2 < len(doc.Content) {
			end = doc.Content[i+2].Line - 1
		}
		for end > start+1 && isFiller(lines[end-1]) {
			end--
		}
		if c := val.LineComment + key.LineComment; c != "" && !t.plural() {
			render = strings.TrimSuffix(render, "\n") + " " + c + "\n"
		}
		out := strings.Join(lines[:start], "") + render + strings.Join(lines[end:], "")
		return []byte(out), nil
	}
	out := bytes.Clone(buf)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return append(out, render...), nil
}

// isFiller reports a blank or comment line (which belongs to what follows).
func isFiller(line string) bool {
	s := strings.TrimSpace(line)
	return s == "" || strings.HasPrefix(s, "#")
}

// renderYAML writes a message as the locale files do: id: "text", or the
// plural forms indented under the id, in CLDR order.
func renderYAML(id string, t text) string {
	if !t.plural() {
		return yamlKey(id) + ": " + yamlQuote(t.plain) + "\n"
	}
	var b strings.Builder
	b.WriteString(yamlKey(id) + ":\n")
	for _, f := range pluralOrder {
		if s, ok := t.forms[f]; ok {
			b.WriteString("  " + f + ": " + yamlQuote(s) + "\n")
		}
	}
	return b.String()
}

var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.\-]*$`)

func yamlKey(id string) string {
	if plainKey.MatchString(id) && !strings.HasSuffix(id, "-") {
		return id
	}
	return yamlQuote(id)
}

// yamlQuote writes s as a YAML double-quoted scalar.
func yamlQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '"':
			b.WriteString(`\"`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f || r == 0x85 || r == 0x2028 || r == 0x2029 || r == 0xfeff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
