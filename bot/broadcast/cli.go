package broadcast

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/runner"
)

// Usage is the help of the broadcast and jobs commands.
const Usage = `lifeline broadcast send (--text LANG=TEXT ... | --message ID) [--lang en,es] [--channel sms] [--tag T] [--at RFC3339] [--urgent]
lifeline broadcast status ID | list | pause ID | resume ID | cancel ID
lifeline broadcast reminders on --every monthly [--lang ..] [--channel ..] [--tag ..] [--at RFC3339]
lifeline broadcast reminders off | status
lifeline jobs add --title T --employer E --sector S --location L --pay P --hours H --contact C --expires RFC3339
                  [--languages en,ne] --no-fees --written-contract --employer-vetted   (or --json FILE, - for stdin)
lifeline jobs list | show ID | delete ID | lists | digest

The commands work on the same Redis as the serving processes, which do the
sending (their broadcast Run loop).`

// Main runs "lifeline broadcast ..." and "lifeline jobs ...": args starts
// with "broadcast" or "jobs". It prints results as JSON on stdout and
// returns the exit code (2 for a usage error, 1 for a refused or failed
// operation).
func Main(ctx context.Context, rt *runner.Runtime, args []string, stdout, stderr io.Writer) int {
	return MainWith(ctx, New(Config{Runtime: rt}), args, stdout, stderr)
}

// MainWith is Main on a Service already configured (its clock, its log).
func MainWith(ctx context.Context, s *Service, args []string, stdout, stderr io.Writer) int {
	if len(args) < 2 {
		fmt.Fprintln(stderr, Usage)
		return 2
	}
	var v any
	var err error
	switch args[0] + " " + args[1] {
	case "broadcast send":
		v, err = s.cliSend(ctx, args[2:], stderr)
	case "broadcast list":
		v, err = s.List(ctx, 100)
	case "broadcast status", "broadcast pause", "broadcast resume", "broadcast cancel":
		if len(args) != 3 {
			return usage(stderr, "give one broadcast id")
		}
		id := args[2]
		switch args[1] {
		case "pause":
			err = s.Pause(ctx, id)
		case "resume":
			err = s.Resume(ctx, id)
		case "cancel":
			err = s.Cancel(ctx, id)
		}
		if err == nil {
			v, err = s.Get(ctx, id)
		}
	case "broadcast reminders":
		v, err = s.cliReminders(ctx, args[2:], stderr)
	case "jobs add":
		v, err = s.cliJob(ctx, args[2:], stderr)
	case "jobs list":
		v, err = s.ListJobs(ctx)
	case "jobs show", "jobs delete":
		if len(args) != 3 {
			return usage(stderr, "give one job id")
		}
		if args[1] == "show" {
			v, err = s.GetJob(ctx, args[2])
		} else if err = s.DeleteJob(ctx, args[2]); err == nil {
			v = map[string]string{"deleted": strings.ToLower(args[2])}
		}
	case "jobs lists":
		v = Lists(s.rt.Content().Def)
	case "jobs digest":
		var id string
		id, err = s.SendDigest(ctx)
		v = map[string]string{"id": id}
	default:
		return usage(stderr, fmt.Sprintf("unknown command %q", strings.Join(args[:2], " ")))
	}
	var ue usageError
	if errors.As(err, &ue) {
		return usage(stderr, ue.msg)
	}
	if err != nil {
		var inv *InvalidError
		if errors.As(err, &inv) && len(inv.Failed) > 0 {
			fmt.Fprintf(stderr, "lifeline: %s (failed checks: %s)\n", inv.Reason, strings.Join(inv.Failed, ", "))
		} else {
			fmt.Fprintln(stderr, "lifeline:", err)
		}
		return 1
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintln(stderr, "lifeline:", err)
		return 1
	}
	return 0
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usage(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "lifeline: %s\n\n%s\n", msg, Usage)
	return 2
}

// list is a repeatable or comma-separated flag.
type list []string

func (l *list) String() string { return strings.Join(*l, ",") }
func (l *list) Set(v string) error {
	*l = append(*l, bot.SplitList(v)...)
	return nil
}

// texts is a repeatable LANG=TEXT flag.
type texts map[string]string

func (t texts) String() string { return "" }
func (t texts) Set(v string) error {
	lang, text, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("want LANG=TEXT")
	}
	t[strings.TrimSpace(lang)] = text
	return nil
}

func audienceFlags(fs *flag.FlagSet) *Audience {
	a := &Audience{}
	fs.Var((*list)(&a.Languages), "lang", "only people using these languages")
	fs.Var((*list)(&a.Channels), "channel", "only people on these channels")
	fs.Var((*list)(&a.Tags), "tag", "only people with one of these tags or subscriptions")
	return a
}

func parse(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected arguments %v", fs.Args())}
	}
	return nil
}

func parseTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return t, usageError{fmt.Sprintf("%q is not an RFC 3339 time like 2026-12-01T09:00:00Z", v)}
	}
	return t, nil
}

func (s *Service) cliSend(ctx context.Context, args []string, stderr io.Writer) (any, error) {
	fs := flag.NewFlagSet("broadcast send", flag.ContinueOnError)
	txt := texts{}
	fs.Var(txt, "text", "LANG=TEXT, once per language (plain text)")
	msg := fs.String("message", "", "a message id of the locales instead of text")
	at := fs.String("at", "", "when to start (RFC 3339); now when empty")
	urgent := fs.Bool("urgent", false, "send during quiet hours too")
	aud := audienceFlags(fs)
	if err := parse(fs, args, stderr); err != nil {
		return nil, err
	}
	sendAt, err := parseTime(*at)
	if err != nil {
		return nil, err
	}
	spec := Spec{MessageID: *msg, Audience: *aud, SendAt: sendAt, Urgent: *urgent}
	if len(txt) > 0 {
		spec.Text = txt
	}
	id, err := s.Create(ctx, spec)
	if err != nil {
		return nil, err
	}
	return map[string]string{"id": id}, nil
}

func (s *Service) cliReminders(ctx context.Context, args []string, stderr io.Writer) (any, error) {
	if len(args) == 0 {
		return nil, usageError{"reminders needs on, off or status"}
	}
	switch args[0] {
	case "status":
		return s.RemindersStatus(ctx)
	case "off":
		if err := s.StopReminders(ctx); err != nil {
			return nil, err
		}
		return s.RemindersStatus(ctx)
	case "on":
		fs := flag.NewFlagSet("broadcast reminders on", flag.ContinueOnError)
		every := fs.String("every", "monthly", "daily, weekly, fortnightly, monthly or a duration like 720h")
		at := fs.String("at", "", "first round (RFC 3339); now when empty")
		aud := audienceFlags(fs)
		if err := parse(fs, args[1:], stderr); err != nil {
			return nil, err
		}
		first, err := parseTime(*at)
		if err != nil {
			return nil, err
		}
		return s.StartReminders(ctx, *every, *aud, first)
	}
	return nil, usageError{fmt.Sprintf("unknown reminders command %q", args[0])}
}

func (s *Service) cliJob(ctx context.Context, args []string, stderr io.Writer) (any, error) {
	fs := flag.NewFlagSet("jobs add", flag.ContinueOnError)
	var j Job
	file := fs.String("json", "", "read the job as JSON from this file (- for stdin)")
	fs.StringVar(&j.Title, "title", "", "job title")
	fs.StringVar(&j.Employer, "employer", "", "employer")
	fs.StringVar(&j.Sector, "sector", "", "sector id (lifeline jobs lists)")
	fs.StringVar(&j.Location, "location", "", "location id (lifeline jobs lists)")
	fs.StringVar(&j.Pay, "pay", "", "pay")
	fs.StringVar(&j.Hours, "hours", "", "working hours")
	fs.StringVar(&j.Contact, "contact", "", "how to apply")
	fs.Var((*list)(&j.Languages), "languages", "working languages (tags)")
	expires := fs.String("expires", "", "when the job closes (RFC 3339)")
	fs.BoolVar(&j.NoFees, "no-fees", false, "workers pay no recruitment fees or costs")
	fs.BoolVar(&j.WrittenContract, "written-contract", false, "a written contract before work starts")
	fs.BoolVar(&j.EmployerVetted, "employer-vetted", false, "the programme vetted the employer")
	if err := parse(fs, args, stderr); err != nil {
		return nil, err
	}
	if *file != "" {
		var r io.Reader = os.Stdin
		if *file != "-" {
			f, err := os.Open(*file)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			r = f
		}
		dec := json.NewDecoder(r)
		dec.DisallowUnknownFields()
		j = Job{}
		if err := dec.Decode(&j); err != nil {
			return nil, invalid("job JSON: %v", err)
		}
	} else {
		t, err := parseTime(*expires)
		if err != nil {
			return nil, err
		}
		j.ExpiresAt = t
	}
	return s.PostJob(ctx, j)
}
