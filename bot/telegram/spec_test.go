package telegram

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/lifeline-org/lifeline/bot/telegram/telegramtest"
)

var (
	updateGolden = flag.Bool("update", false, "regenerate testdata/"+telegramtest.SpecFile+" from -botapi-spec")
	specSrc      = flag.String("botapi-spec", "../../../shared/specs/telegram-bot-api-9.4.json", "Bot API spec (JSON) to extract methods from")
)

// extractMethods reads the published Bot API spec into {method: [param]},
// parameters in the spec's order.
func extractMethods(spec []byte) (map[string][]string, error) {
	var doc struct {
		Methods map[string]struct {
			Fields []struct {
				Name string `json:"name"`
			} `json:"fields"`
		} `json:"methods"`
	}
	if err := json.Unmarshal(spec, &doc); err != nil {
		return nil, err
	}
	out := make(map[string][]string, len(doc.Methods))
	for name, m := range doc.Methods {
		params := make([]string, 0, len(m.Fields))
		for _, f := range m.Fields {
			params = append(params, f.Name)
		}
		out[name] = params
	}
	return out, nil
}

func encodeMethods(m map[string][]string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// TestSpecMethods keeps testdata's method list in step with the spec: with
// -update it writes the list, otherwise it checks the list against the spec
// when the spec is at hand, and that the list holds what the adapter uses.
func TestSpecMethods(t *testing.T) {
	dst := filepath.Join("testdata", telegramtest.SpecFile)
	spec, err := os.ReadFile(*specSrc)
	switch {
	case err == nil:
		methods, err := extractMethods(spec)
		if err != nil {
			t.Fatalf("read spec: %v", err)
		}
		want, err := encodeMethods(methods)
		if err != nil {
			t.Fatal(err)
		}
		if *updateGolden {
			if err := os.WriteFile(dst, want, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(dst)
		if err != nil {
			t.Fatalf("%v (run go test -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the spec; run go test -update", dst)
		}
	case *updateGolden:
		t.Fatalf("read spec: %v", err)
	default:
		t.Logf("spec not found (%v); checking the committed list only", err)
	}

	methods, err := telegramtest.SpecMethods()
	if err != nil {
		t.Fatal(err)
	}
	if len(methods) < 100 {
		t.Errorf("only %d methods in the list", len(methods))
	}
	// A call the spec lacks is reported; one it has is not.
	bad, err := telegramtest.NotInSpec([]telegramtest.Call{
		{Method: "sendMessage", Params: map[string]string{"chat_id": "1", "text": "x", "parse_mod": "x"}},
		{Method: "sendMesage"},
		{Method: "deleteMessages", Params: map[string]string{"chat_id": "1", "message_ids": "[1]"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"sendMesage", "sendMessage.parse_mod"}; !slices.Equal(bad, want) {
		t.Errorf("NotInSpec = %q, want %q", bad, want)
	}
}
