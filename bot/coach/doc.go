// Package coach hands a conversation to a human coach: it turns
// escalations into cases, announces them to the coaches' Telegram group
// (first to the coach who helped the person last), lets one coach claim a
// case, relays messages both ways without either side seeing the other's
// number or account, and raises cases nobody claims.
//
// Every input is durable: escalations arrive on the runtime's case stream,
// coaches' messages and button presses are recorded on a stream of their
// own before Telegram is answered, and timers live in a Redis sorted set
// claimed atomically, so each fires once however many processes run.
//
// Coaches also work in the console (workspace.go): claim, answer, hand over
// to a named coach and close with an outcome; a case held there relays to
// the workspace channel's conversation log (bot/workspace).
//
// Imports: bot, bot/runner, bot/workspace (the case conversation log),
// flows and store (which keeps cases, timers and
// the coaches' queue), and go-telegram's models for the group's updates.
// It sends through a Sender (the Telegram adapter) and hears the group
// through the function cmd/lifeline sets as the adapter's Group: it
// imports no channel adapter and no other module.
package coach
