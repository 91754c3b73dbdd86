// Package smstest is the one fake of Twilio's Messages API for tests, and
// the webhook signature Twilio puts on what it posts. It imports nothing
// from Lifeline, so bot/sms's own tests can use it.
package smstest
