package content

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/lifeline-org/lifeline/flows"
	"github.com/lifeline-org/lifeline/flows/crisis"
	"github.com/lifeline-org/lifeline/locales"
)

// Content is the loaded, immutable content a runtime serves.
type Content struct {
	Def     *flows.Definition
	Catalog *locales.Catalog
	// Lexicon is the catalog's words indexed for flows.Resolve.
	Lexicon *flows.TextLexicon
	Packs   map[string]*flows.Pack
	// Pack is the resource pack in use (RESOURCE_PACK).
	Pack *flows.Pack
	// Crisis holds every language's crisis phrases; Crisis.Match is what
	// the runtime and `lifeline crisis` ask.
	Crisis      *crisis.Detector
	CrisisLists map[string]*crisis.List
}

// DefaultPack is the resource pack used when none is configured.
const DefaultPack = "international"

// Load reads the shipped content, overridden by dir when it is not empty:
// dir/flows/*.yaml, dir/locales/*.yaml, dir/locales/crisis/*.yaml and
// dir/packs/*.yaml replace or add files of the same name.
func Load(dir, defaultLang, pack string) (*Content, error) {
	var flowsFS, localesFS, packsFS, crisisFS fs.FS
	if dir != "" {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("content directory %q is not a readable directory", dir)
		}
		flowsFS = optionalDir(filepath.Join(dir, "flows"))
		localesFS = optionalDir(filepath.Join(dir, "locales"))
		packsFS = optionalDir(filepath.Join(dir, "packs"))
		crisisFS = optionalDir(filepath.Join(dir, "locales", "crisis"))
	}
	def, err := flows.Load(flows.Defs(), flowsFS)
	if err != nil {
		return nil, fmt.Errorf("load flows: %w", err)
	}
	cat, err := locales.Load(locales.Files, localesFS, defaultLang)
	if err != nil {
		return nil, fmt.Errorf("load locales: %w", err)
	}
	def.Languages = cat.Languages()
	packs, err := flows.LoadPacks(flows.Packs(), packsFS)
	if err != nil {
		return nil, fmt.Errorf("load resource packs: %w", err)
	}
	if pack == "" {
		pack = DefaultPack
	}
	shipped, err := fs.Sub(locales.CrisisFiles, "crisis")
	if err != nil {
		return nil, err
	}
	lists, err := crisis.Load(shipped, crisisFS)
	if err != nil {
		return nil, fmt.Errorf("load crisis phrases: %w", err)
	}
	c := &Content{Def: def, Catalog: cat, Lexicon: flows.NewLexicon(cat), Packs: packs, Pack: packs[pack], CrisisLists: lists}
	if c.Pack == nil {
		return nil, fmt.Errorf("resource pack %q not found (have %v)", pack, packNames(packs))
	}
	c.Crisis = crisis.New(lists, c.BotTexts())
	return c, nil
}

// BotTexts returns every text the bot may send, in every language and
// rendered with the resource pack: what a person may copy back to it. Word
// lists (kw.*, *.kw) and notes for translators (meta.*) are not texts.
func (c *Content) BotTexts() []string {
	var texts []string
	for _, lang := range c.Catalog.Languages() {
		data := c.DataFor(lang)
		for _, id := range c.Catalog.IDs(lang) {
			if strings.HasPrefix(id, "kw.") || strings.HasSuffix(id, ".kw") || strings.HasPrefix(id, "meta.") {
				continue
			}
			t, err := c.Catalog.Text(lang, id, data)
			if err != nil && t == "" {
				t = c.Catalog.Raw(lang, id)
			}
			texts = append(texts, t)
		}
	}
	return texts
}

func optionalDir(path string) fs.FS {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return os.DirFS(path)
	}
	return nil
}

func packNames(packs map[string]*flows.Pack) []string {
	var names []string
	for n := range packs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Check validates the content as a whole and returns its problems, errors
// and warnings alike, in a stable order.
//
// extra names message ids that other Go code renders (the broadcast and
// coach modules), so they are checked in every locale too.
func (c *Content) Check(now time.Time, extra ...string) []flows.Problem {
	vars := map[string]bool{}
	for _, k := range flows.PackKeys {
		vars[k] = true
	}
	for _, p := range c.Packs {
		for k := range p.Entries {
			vars[k] = true
		}
	}
	probs := c.Def.Check(c.Catalog, vars)
	probs = append(probs, checkGuidelines(c.Def)...)
	ids := append(slices.Clone(flows.EngineMessages), RuntimeMessages...)
	for _, id := range append(ids, extra...) {
		if missing := c.Catalog.Missing(id); len(missing) > 0 {
			probs = append(probs, flows.Problem{File: "locales", Node: id, Reason: fmt.Sprintf("message id missing in %v", missing)})
		}
	}
	names := packNames(c.Packs)
	for _, n := range names {
		probs = append(probs, flows.CheckPack(c.Packs[n], now)...)
		probs = append(probs, flows.CheckPackLanguages(c.Packs[n], c.Catalog.Languages())...)
	}
	for _, p := range crisis.Check(c.CrisisLists, c.Catalog.Languages()) {
		probs = append(probs, flows.Problem{File: "locales/crisis", Reason: p})
	}
	return probs
}

// RuntimeMessages are message ids the runtime and channels send outside any
// flow.
var RuntimeMessages = []string{
	"runtime.text_only", "runtime.slow_down", "runtime.crisis",
	"coach.relay_from", "coach.not_text", "bot.name", "bot.description",
	"mydata.summary", "mydata.language", "mydata.channel", "mydata.since", "mydata.lessons",
	"mydata.subscriptions", "mydata.topic.checkins", "mydata.topic.jobs", "mydata.topic.reminders",
	"mydata.about", "mydata.case", "mydata.safeword", "mydata.stopped", "mydata.followup",
	"smalltalk.1", "smalltalk.2", "smalltalk.3", "retention.notice",
	"cmd.menu", "cmd.language", "cmd.coach", "cmd.stop", "cmd.start", "cmd.delete", "cmd.clear", "cmd.mydata",
}

// Data returns the resource pack entries as template data in the pack's
// default language (flows.PackLang).
func (c *Content) Data() map[string]string { return c.Pack.Data() }

// DataFor returns the template data for rendering a text in lang: the
// resource pack entries in lang, isolated for a right-to-left language
// (flows.Pack.DataFor). Every text a person reads is rendered with it.
func (c *Content) DataFor(lang string) map[string]string { return c.Pack.DataFor(lang) }
