// Package content loads everything a programme can adapt without
// recompiling — flows, locales and resource packs — from the files embedded
// in the binary and an optional directory that overrides them, and checks
// that they fit together.
//
// Imports: flows, flows/crisis and locales. It is where the engine and the
// texts meet: Content.Lexicon is flows.NewLexicon over the locales.
package content
