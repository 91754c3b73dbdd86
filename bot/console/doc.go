// Package console is a terminal channel: one person chats with Lifeline on
// standard input and output, with numbered options as on SMS. It makes
// `go run ./cmd/lifeline` a working demo with no credentials, and works with
// piped input too.
//
// Imports: bot only, like every channel adapter.
package console
