// Package telegram is Lifeline's Telegram channel, on go-telegram/bot. It
// receives updates by long polling (one process) or by webhook (several),
// hands each person's message to the runtime as a bot.Inbound, and sends
// bot.Outbound messages as plain text with inline buttons, under the
// Telegram rate limits.
//
// Wiring, in cmd/:
//
//	tg, err := telegram.New(telegram.Config{Token: ..., APIURL: ..., WebhookURL: ..., WebhookSecret: ...}, logger)
//	tg.Group = coaches.Group        // optional, before Run
//	tg.OnMember = ...               // optional, before Run: record blocking (store.MarkReachable)
//	tg.Register(mux)                // serves POST /telegram/webhook; refuses all without a secret
//	err = tg.Setup(ctx, commands, names, descriptions) // log errors, don't stop
//	go tg.Run(ctx, runtime)         // polls, or sets the webhook and waits
//
// Tests drive it against the fake Bot API in package telegramtest.
//
// Imports: bot only (and go-telegram/bot). Never bot/runner or store: it
// meets the runner only through bot.Receiver and bot.Channel.
package telegram
