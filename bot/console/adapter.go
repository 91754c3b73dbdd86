package console

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lifeline-org/lifeline/bot"
)

// Address is the console person's address.
const Address = "local"

// Adapter reads lines from In and prints replies to Out.
type Adapter struct {
	in  io.Reader
	out io.Writer
	mu  sync.Mutex
	// Settle, when set, is called after the input ends, so every reply is
	// printed before Run returns.
	Settle func(ctx context.Context) error
	start  int64
}

// New returns a console channel on in and out.
func New(in io.Reader, out io.Writer) *Adapter {
	return &Adapter{in: in, out: out, start: time.Now().UnixNano()}
}

// Name implements bot.Channel.
func (a *Adapter) Name() string { return "console" }

// Run reads one message per line until the input ends or ctx is done. The
// first message is "start", as when a person opens a chat.
func (a *Adapter) Run(ctx context.Context, in bot.Receiver) error {
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(a.in)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	n := 0
	send := func(text string) error {
		n++
		return in.Accept(ctx, bot.Inbound{
			Channel: a.Name(), Address: Address, Text: text,
			MessageID: "c" + strconv.FormatInt(a.start, 36) + "-" + strconv.Itoa(n), At: time.Now(),
		})
	}
	if err := send("start"); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case line, ok := <-lines:
			if !ok {
				if a.Settle != nil {
					return a.Settle(ctx)
				}
				return nil
			}
			if strings.TrimSpace(line) == "" {
				continue
			}
			if err := send(line); err != nil {
				return err
			}
		}
	}
}

// Send implements bot.Channel: the text, then the options numbered.
func (a *Adapter) Send(_ context.Context, _ string, msg bot.Outbound) (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, err := io.WriteString(a.out, Format(msg))
	return 0, err
}

// Format renders a message as the console and SMS show it.
func Format(msg bot.Outbound) string {
	var b strings.Builder
	b.WriteString(msg.Text)
	b.WriteByte('\n')
	for i, o := range msg.Options {
		fmt.Fprintf(&b, "  %d  %s\n", i+1, o.Label)
	}
	return b.String()
}
