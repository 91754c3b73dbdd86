// Package content loads everything a programme can adapt without
// recompiling — flows, locales and resource packs — from the files embedded
// in the binary and an optional directory that overrides them, and checks
// that they fit together.
package content

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/lifeline-org/lifeline/flows"
	"github.com/lifeline-org/lifeline/locales"
)

// Content is the loaded, immutable content a runtime serves.
type Content struct {
	Def     *flows.Definition
	Catalog *locales.Catalog
	Packs   map[string]*flows.Pack
	// Pack is the resource pack in use (RESOURCE_PACK).
	Pack *flows.Pack
}

// DefaultPack is the resource pack used when none is configured.
const DefaultPack = "international"

// Load reads the shipped content, overridden by dir when it is not empty:
// dir/flows/*.yaml, dir/locales/*.yaml and dir/packs/*.yaml replace or add
// files of the same name.
func Load(dir, defaultLang, pack string) (*Content, error) {
	var flowsFS, localesFS, packsFS fs.FS
	if dir != "" {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("content directory %q is not a readable directory", dir)
		}
		flowsFS = optionalDir(filepath.Join(dir, "flows"))
		localesFS = optionalDir(filepath.Join(dir, "locales"))
		packsFS = optionalDir(filepath.Join(dir, "packs"))
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
	c := &Content{Def: def, Catalog: cat, Packs: packs, Pack: packs[pack]}
	if c.Pack == nil {
		return nil, fmt.Errorf("resource pack %q not found (have %v)", pack, packNames(packs))
	}
	return c, nil
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
	ids := append(slices.Clone(flows.EngineMessages), RuntimeMessages...)
	for _, id := range append(ids, extra...) {
		if missing := c.Catalog.Missing(id); len(missing) > 0 {
			probs = append(probs, flows.Problem{File: "locales", Node: id, Reason: fmt.Sprintf("message id missing in %v", missing)})
		}
	}
	names := packNames(c.Packs)
	for _, n := range names {
		probs = append(probs, flows.CheckPack(c.Packs[n], now)...)
	}
	return probs
}

// RuntimeMessages are message ids the runtime and channels send outside any
// flow.
var RuntimeMessages = []string{
	"runtime.text_only", "runtime.slow_down", "runtime.crisis", "crisis.words",
	"coach.relay_from", "coach.not_text", "bot.name", "bot.description",
	"mydata.summary", "mydata.language", "mydata.channel", "mydata.since", "mydata.lessons",
	"mydata.subscriptions", "mydata.topic.checkins", "mydata.topic.jobs", "mydata.topic.reminders",
	"mydata.about", "mydata.case", "mydata.safeword", "mydata.stopped",
	"smalltalk.1", "smalltalk.2", "smalltalk.3", "retention.notice",
	"cmd.menu", "cmd.language", "cmd.coach", "cmd.stop", "cmd.start", "cmd.delete", "cmd.clear", "cmd.mydata",
}

// Data returns the template data for rendering: the resource pack entries.
func (c *Content) Data() map[string]string { return c.Pack.Data() }
