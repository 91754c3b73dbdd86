// Package bottest is the one test kit of the bot packages: a recording
// channel and receiver with failure hooks, a settable clock, the test
// sealer, the shipped content, a log sink, polling with a deadline, and a
// runtime harness (a runner.Runtime on the shared test Redis, running
// until the test ends) with options for what differs between packages.
//
// Only tests import it. It imports bot, bot/runner, flows/content, store
// and store/storetest, never a channel adapter or a module (bot/sms,
// bot/telegram, bot/coach, bot/broadcast, bot/checkin), so each of those
// may use it in its own package's tests without an import cycle.
package bottest
