// Package web is the staff console: named accounts with roles (admin,
// supervisor, staff, coach), sign-in with an argon2id password and an
// optional TOTP second factor, sessions kept in Redis by the hash of their
// id, and server-rendered pages under /console/ for the programme's
// figures, broadcasts, rights reminders, jobs, content and the audit log.
// Its texts are the console catalog in locales/console; its templates and
// static files are embedded. Pages work without JavaScript; a small
// script (static/console.js) updates counts and progress live. Every
// action is written to the audit log under the account's name.
//
// Imports: bot, the modules (bot/broadcast, bot/checkin), bot/sms for SMS
// segment counts, flows and flows/content, locales, store and web/chart.
// Only cmd/lifeline imports it.
package web
