// Package overlay reads content files the way every loader of Lifeline
// does: the shipped files embedded in the binary first, then a programme's
// own (CONTENT_DIR) over them, strictly (an unknown key is an error).
// flows.Load reads through it, flows.LoadPacks and crisis.Load decode
// through it (Each).
//
// Imports: nothing from Lifeline (yaml only). locales keeps its own short
// walk, because locales imports nothing from Lifeline either.
package overlay
