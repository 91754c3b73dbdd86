// Package checkin keeps coaching check-ins going for the people who agreed
// to them (ILO guidelines 3d and 3g.3): weekly in the first year, monthly
// to year 3, then every three months to year 5 (monthly to year 5 for a
// person a coach marked for long follow-up, followup.go), at a time of day
// each person chose, never inside quiet hours. It asks a few skippable
// questions (flows/defs/checkin.yaml), sends one gentle reminder, opens a
// welfare case after missed check-ins, and keeps anonymous weekly figures
// a programme can use (guidelines 3h).
//
// Everything lives in Redis: due items in one sorted set scored by due
// time, claimed atomically so that several processes fire each item once,
// and each person's own schedule state in their profile (fields "ci.*").
// The figures are counters that never name a person.
//
// Imports: bot, bot/runner, flows and store (which keeps the due items,
// schedules and counters). Never a channel adapter or another module.
package checkin
