package sms

import "strings"

// carrierKeywords are the words Twilio answers itself on long codes: the
// opt-out keywords (the person is then blocked at Twilio until they opt in
// again) and the opt-in keywords. HELP is not among them: Lifeline answers
// it itself (help.go).
var carrierKeywords = map[string]bool{
	"STOP": true, "STOPALL": true, "UNSUBSCRIBE": true, "CANCEL": true,
	"END": true, "QUIT": true, "REVOKE": true, "OPTOUT": true,
	"START": true, "UNSTOP": true, "YES": true,
}

// IsCarrierKeyword reports whether text is a keyword that Twilio handles
// and answers itself (STOP, START and their synonyms). Like Twilio, it
// matches the whole message, ignoring case and surrounding white space.
// Lifeline still records such a message, but must not answer it: the
// person has already had Twilio's reply.
func IsCarrierKeyword(text string) bool {
	return carrierKeywords[strings.ToUpper(strings.TrimSpace(text))]
}
