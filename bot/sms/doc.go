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
// The same adapter is the WhatsApp channel when its sender is a
// "whatsapp:+..." address (whatsapp.go): Twilio carries WhatsApp on the
// same API, signature and reports, so only addresses, paths and the
// 24-hour window differ.
//
// Imports: bot, and flows for the HELP reply's outputs (help.go). Never
// bot/runner or store: like every channel adapter it meets the runner only
// through bot.Receiver and bot.Channel.
package sms
