// Package workspace is the channel through which a case's conversation
// reaches the coach workspace in the console: the runtime relays a
// person's words to it (address: the case alias) as it relays them to a
// coach's Telegram chat, through the same durable outbox, and Send keeps
// each one, sealed, in the case's conversation log. Coaches read the log
// in the console; their answers go to the person on the person's own
// channel.
//
// Imports: bot and store.
package workspace

import (
	"context"
	"encoding/json"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/store"
)

// Name is the channel's name, the relay channel of a case a coach holds
// in the console.
const Name = bot.WorkspaceChannel

// Entry is one message of a case's conversation.
type Entry struct {
	At time.Time `json:"at"`
	// From is "person" or "coach"; Coach names the coach who wrote.
	From  string `json:"from"`
	Coach string `json:"coach,omitempty"`
	Text  string `json:"text"`
}

// Log keeps case conversations.
type Log struct {
	st     *store.Store
	sealer *store.Sealer
	now    func() time.Time
}

// New returns the channel, keeping conversations in st sealed by sealer.
func New(st *store.Store, sealer *store.Sealer, clock func() time.Time) *Log {
	if clock == nil {
		clock = time.Now
	}
	return &Log{st: st, sealer: sealer, now: clock}
}

// Name is Name.
func (l *Log) Name() string { return Name }

// Run has nothing to receive: coaches write through the console.
func (l *Log) Run(ctx context.Context, _ bot.Receiver) error {
	<-ctx.Done()
	return nil
}

// Send keeps a person's relayed message in the conversation of the case
// alias.
func (l *Log) Send(ctx context.Context, alias string, msg bot.Outbound) (int64, error) {
	return 0, l.Add(ctx, alias, Entry{At: l.now(), From: "person", Text: msg.Text})
}

// Add keeps e in the conversation of the case alias.
func (l *Log) Add(ctx context.Context, alias string, e Entry) error {
	b, _ := json.Marshal(e) // plain data
	if err := l.st.AppendCaseLog(ctx, alias, l.sealer.Seal(b)); err != nil {
		return &bot.SendError{Retryable: true, Err: err}
	}
	return nil
}

// Read opens the conversation of the case alias, oldest first; an entry
// that does not open is left out.
func (l *Log) Read(ctx context.Context, alias string) ([]Entry, error) {
	raw, err := l.st.CaseLog(ctx, alias)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(raw))
	for _, r := range raw {
		plain, err := l.sealer.Open(r)
		if err != nil {
			continue
		}
		var e Entry
		if json.Unmarshal(plain, &e) == nil {
			out = append(out, e)
		}
	}
	return out, nil
}
