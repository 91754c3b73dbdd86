// Package sms is Lifeline's SMS channel, through Twilio. Texts arrive by
// webhook (Register), replies go out through Twilio's Messages API (Send),
// and lasting delivery failures come back by status callback (OnStatus).
//
// Wiring, in cmd:
//
//	a, err := sms.New(cfg, logger)
//	a.OnStatus = func(ctx context.Context, address string, unreachable, optedOut bool) { ... }
//	a.Register(mux)  // before the HTTP server starts
//	go a.Run(ctx, receiver)
//
// Imports: bot, and flows for the HELP reply's outputs (help.go). Never
// bot/runner or store: like every channel adapter it meets the runner only
// through bot.Receiver and bot.Channel.
package sms
