// Package bot is the contract between Lifeline's parts: what a channel
// adapter (bot/telegram, bot/sms, bot/console) and a module (bot/coach,
// bot/checkin, bot/broadcast) share with the runner (bot/runner) without
// importing it.
//
// It owns the normalised messages (Inbound, Outbound, Delivery), the
// Channel, Clearer and Receiver interfaces, SendError, what a module gives
// the runner (Action, EffectHandler), the profile field names more than one
// part reads (profile.go), and helpers channels and modules share: the
// rate Limiter, QuietHours, the staff API's guard and JSON decoding,
// CleanText and Sleep.
//
// Imports: flows only (for the outputs and effects in Action and
// EffectHandler). Never bot/runner, store, a channel or a module: they all
// import bot, so bot stays the leaf they meet at.
package bot
