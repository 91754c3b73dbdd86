// Command lifeline runs Lifeline: the conversation runtime with every
// configured channel, or, with no credentials, a chat in the terminal.
//
// It owns the wiring: configuration (config.go), building each part with
// its options, and running them as components of serve, which stops them
// all on the first error. It is the only package that imports channels and
// modules together; it may import every package of Lifeline.
package main
