package bot

import "time"

// A person's reintegration plan and their coach's notes (guidelines 3c,
// 3d) are kept sealed in the person's profile, so that MY DATA shows them
// and DELETE erases them with everything else: the plan under FieldPlan,
// each note under FieldNotePrefix and the time it was written.
const (
	FieldPlan       = "plan"
	FieldNotePrefix = "note."
)

// Plan is a person's reintegration plan: goals, the services they use,
// and referrals with a status and a date.
type Plan struct {
	Goals     []string   `json:"goals,omitempty"`
	Services  []string   `json:"services,omitempty"`
	Referrals []Referral `json:"referrals,omitempty"`
	Updated   time.Time  `json:"updated,omitzero"`
}

// Referral is one referral of a plan, picked from the resource pack.
type Referral struct {
	Service string `json:"service"` // a resource pack entry's id
	Status  string `json:"status"`  // one of ReferralStatuses
	Date    string `json:"date,omitempty"`
}

// ReferralStatuses are a referral's steps.
var ReferralStatuses = []string{"planned", "made", "attended", "closed"}

// Note is a coach's private note about a person.
type Note struct {
	At    time.Time `json:"at"`
	Coach string    `json:"coach"`
	Text  string    `json:"text"`
}
