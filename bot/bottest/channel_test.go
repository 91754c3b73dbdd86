package bottest_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
)

// TestChannelRecordsAndFails: a failure hook sees each address's attempts
// from 1; refused sends are not recorded; Lines shows buttons' labels.
func TestChannelRecordsAndFails(t *testing.T) {
	ch := bottest.NewChannel("test")
	busy := errors.New("busy")
	ch.FailWith(func(addr string, n int) error {
		if addr == "+1" && n == 1 {
			return busy
		}
		return nil
	})
	ctx := context.Background()
	if _, err := ch.Send(ctx, "+1", bot.Outbound{Text: "a"}); !errors.Is(err, busy) {
		t.Fatalf("first attempt: %v", err)
	}
	for _, s := range []struct{ addr, text string }{{"+1", "a"}, {"+2", "b"}} {
		if _, err := ch.Send(ctx, s.addr, bot.Outbound{Text: s.text, Options: []bot.OutOption{{ID: "x", Label: "X"}, {ID: "y", Label: "Y"}}}); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(ch.Lines(), "\n"); got != "+1: a [X | Y]\n+2: b [X | Y]" {
		t.Errorf("lines %q", got)
	}
	if got := ch.Texts("+2"); len(got) != 1 || got[0] != "b [X | Y]" {
		t.Errorf("texts to +2: %q", got)
	}
	if got := ch.To("+1"); len(got) != 1 || !bottest.Said(got, "a") || ch.Total() != 2 {
		t.Errorf("to +1: %+v, total %d", got, ch.Total())
	}
}

// TestReceiverHook: the hook's error is Accept's, and what it refuses is
// not recorded.
func TestReceiverHook(t *testing.T) {
	r := bottest.NewReceiver(func(n int, _ bot.Inbound) error {
		if n == 2 {
			return errors.New("down")
		}
		return nil
	})
	for i, want := range []bool{true, false, true} {
		if err := r.Accept(context.Background(), bot.Inbound{MessageID: string(rune('a' + i))}); (err == nil) != want {
			t.Errorf("call %d: %v", i+1, err)
		}
	}
	if got := r.Accepted(); len(got) != 2 || got[1].MessageID != "c" {
		t.Errorf("accepted %+v", got)
	}
}
