package runner

import (
	"testing"

	"github.com/lifeline-org/lifeline/bot"
)

// TestStartedStampsPurpose: a message Lifeline starts with a purpose gets
// the person's language and when they last wrote, for a channel with a
// reply window (WhatsApp); one without a purpose is left as it was.
func TestStartedStampsPurpose(t *testing.T) {
	profile := map[string]string{"last": "1764000000000"}
	msgs := []bot.Outbound{{Text: "news", Purpose: "broadcast"}, {Text: "plain"}}
	got := started(profile, "es", msgs)
	if got[0].Lang != "es" || got[0].Last != 1764000000000 || got[0].Purpose != "broadcast" {
		t.Errorf("with a purpose: %+v", got[0])
	}
	if got[1].Lang != "" || got[1].Last != 0 || got[1].Purpose != "" {
		t.Errorf("without a purpose: %+v", got[1])
	}
	if msgs[0].Lang != "" {
		t.Error("started changed its argument")
	}
	l := look{purpose: "checkin", lang: "en", last: 5}
	if m := l.apply([]bot.Outbound{{Text: "How are you?"}})[0]; m.Purpose != "checkin" || m.Lang != "en" || m.Last != 5 {
		t.Errorf("a triggered flow's message: %+v", m)
	}
}
