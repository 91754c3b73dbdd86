package broadcast

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
)

// TestStaffActionsAreAudited: every staff operation leaves one entry in the
// append-only audit stream, naming the broadcast or job.
func TestStaffActionsAreAudited(t *testing.T) {
	st := newStore(t)
	p := newProc(t, st, procOpts{chans: []bot.Channel{bottest.NewChannel("telegram")}})
	ctx := context.Background()
	id, err := p.svc.Create(ctx, Spec{Text: map[string]string{"en": "A reminder"}, SendAt: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.svc.Pause(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := p.svc.Cancel(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := p.svc.Cancel(ctx, id); err == nil {
		t.Fatal("cancelling twice should fail")
	}
	log, err := st.AuditLog(ctx, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range log {
		if e.Target != id || e.Actor != "staff" {
			t.Errorf("entry %+v", e)
		}
		got = append(got, e.Action)
	}
	if want := "broadcast.create broadcast.pause broadcast.cancel"; strings.Join(got, " ") != want {
		t.Fatalf("audit %q, want %q (a failed operation leaves no entry)", strings.Join(got, " "), want)
	}
}
