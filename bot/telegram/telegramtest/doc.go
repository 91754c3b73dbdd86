// Package telegramtest is an in-process fake of the Telegram Bot API for
// tests: it records every call, serves getUpdates from a queue, keeps the
// messages the bot sent per chat, and answers with scripted errors (429,
// 403, 400, a dropped connection) where a test asks for them. Point the
// adapter's APIURL at Server.URL.
//
// A Server checks at the end of the test that every method and parameter
// it was sent exists in Bot API 9.4 (see CheckSpec).
//
// Imports: nothing from Lifeline, so bot/telegram's own tests can use it.
package telegramtest
