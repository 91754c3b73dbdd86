// Package runner runs conversations. Accept (inbox.go) records what a
// channel hands it durably before the channel acknowledges it; the work
// queue (queue.go) gives each person's turns, in order, to one worker at a
// time; a turn (runner.go, turn.go) loads the person under a lock, lets
// the pure Decider decide (safety rules, then flows.Resolve and
// flows.Step, then rendering: render.go, discreet.go) and commits the new
// session, profile, replies, cases and effects in one store transaction;
// the send loops (outbox.go) drain each person's outbox in order through
// their channel. Effects are applied in one place, one file per kind
// (effects.go, effect_*.go); cases.go records escalations for the coach
// module; retention.go erases people silent for too long.
//
// Imports: bot, flows, flows/content, flows/crisis and store. Never a
// channel adapter or a module: channels reach it through bot.Receiver,
// modules through OnEffect and OnAction (before it runs: runner.go), and
// cmd/lifeline wires them.
package runner
