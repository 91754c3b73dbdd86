// Package broadcast sends programme staff's messages to many people at
// once: one-off broadcasts, the rotating rights reminders and job alerts
// (instant or as a weekly digest). Staff drive it through an HTTP API
// (Register) or the command line (Main); Run does the sending in every
// serving process.
//
// A broadcast is durable in Redis. Its audience is read from a set of
// person ids in batches (SSCAN) into a stream of chunks that any process
// may take through a consumer group; a chunk a dead process held is claimed
// by another. Before each send the broadcast's sent-set is checked and
// right after the send the person is recorded in it, so a crash repeats at
// most the one send in flight, and nobody is missed. Messages are queued
// through Runtime.SendTo, so each channel's rate limiter applies.
//
// Imports: bot, bot/runner, flows and store (which keeps a broadcast's
// state). Never a channel adapter or another module.
package broadcast
