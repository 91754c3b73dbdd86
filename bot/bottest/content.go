package bottest

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/lifeline-org/lifeline/flows/content"
	"github.com/lifeline-org/lifeline/store"
)

// LoadContent returns the shipped flows, packs and texts (English by
// default), loaded once for the test binary.
var LoadContent = sync.OnceValues(func() (*content.Content, error) { return content.Load("", "en", "") })

// Content is LoadContent's content, failing the test if it does not load.
func Content(t testing.TB) *content.Content {
	t.Helper()
	c, err := LoadContent()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Sealer returns a sealer with a fixed all-zero key, so every process in a
// test (and every test) derives the same person ids.
func Sealer(t testing.TB) *store.Sealer {
	t.Helper()
	k := make([]byte, 32)
	s, err := store.NewSealer(k, k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Digit is the digit that picks choice id at node of flow in the shipped
// content, as a person on SMS types it; node "" is the flow's start.
func Digit(t testing.TB, flow, node, id string) string {
	t.Helper()
	f, ok := Content(t).Def.Flows[flow]
	if !ok {
		t.Fatalf("no flow %s", flow)
	}
	if node == "" {
		node = f.Start
	}
	for i, ch := range f.Nodes[node].Choices {
		if ch.ID == id {
			return fmt.Sprint(i + 1)
		}
	}
	t.Fatalf("no choice %s at %s/%s", id, flow, node)
	return ""
}

// LangDigit is the onboarding digit that picks lang.
func LangDigit(t testing.TB, lang string) string {
	t.Helper()
	i := slices.Index(Content(t).Catalog.Languages(), lang)
	if i < 0 {
		t.Fatalf("no language %s", lang)
	}
	return fmt.Sprint(i + 1)
}

// Text renders message id in lang as the runtime does: with the shipped
// resource pack in lang (Content.DataFor).
func Text(t testing.TB, lang, id string) string {
	t.Helper()
	c := Content(t)
	s, err := c.Catalog.Text(lang, id, c.DataFor(lang))
	if err != nil {
		t.Fatalf("%s %s: %v", lang, id, err)
	}
	return s
}
