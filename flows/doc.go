// Package flows holds Lifeline's conversation engine and the flow
// definitions it runs. Definitions are data (YAML files embedded in the
// binary, overridable from CONTENT_DIR); the engine is a pure function from
// (definition, session, input, time) to (session, outputs, effects).
//
// It owns the definition (definition.go), the session and its versioned
// envelope (session.go, envelope.go: the store keeps the bytes), the
// engine's Step (engine.go), turning typed text into an input (resolve.go)
// and the words that do it (lexicon.go, read from any Texts: the locales),
// and resource packs (packs.go).
//
// Imports: flows/overlay only. Never locales (the Lexicon reads a Texts
// interface), store or bot: the runner calls the engine, not the other way
// round.
package flows
