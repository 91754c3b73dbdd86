package main

import (
	"errors"
	"fmt"

	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lifeline-org/lifeline/bot"
)

// Config is every setting, read from the environment. Each field's help
// line is printed by `lifeline --help` and matches the README's table.
type Config struct {
	RedisURL        string
	Consumer        string
	ListenAddr      string
	PublicURL       string
	ContentDir      string
	DataKey         string
	OldDataKeys     string
	QuietHours      bot.QuietHours
	DefaultLanguage string
	DefaultTimezone string
	ResourcePack    string
	LogLevel        string

	TelegramToken         string
	TelegramAPIURL        string
	TelegramWebhookURL    string
	TelegramWebhookSecret string

	TwilioAccountSID          string
	TwilioAuthToken           string
	TwilioFrom                string
	TwilioMessagingServiceSID string
	TwilioWhatsAppFrom        string
	TwilioWhatsAppMPS         float64
	TwilioAPIURL              string
	TwilioMPS                 float64
	TelegramMPS               float64

	StaffAPIToken      string
	ConsoleRequire2FA  bool
	CaseTargets        map[string]time.Duration
	CoachChatID        int64
	CoachTelegramIDs   []int64
	CoachSupervisorIDs []int64
	CoachHours         string
	RetentionDays      int
	WebhookIPRate      int
	WarmTurns          int

	HTTPReadTimeout   time.Duration
	HTTPWriteTimeout  time.Duration
	HTTPIdleTimeout   time.Duration
	HTTPMaxConns      int
	HTTPMaxConnsPerIP int
}

// setting describes one environment variable.
type setting struct {
	name, def, help string
	set             func(c *Config, v string) error
}

// positive sets a number that parse reads from the value and that is
// above zero; otherwise the value is refused with must, which says what
// it must be.
func positive[T int | float64 | time.Duration](parse func(string) (T, error), must string, field func(*Config) *T) func(*Config, string) error {
	return func(c *Config, v string) error {
		x, err := parse(v)
		if err != nil || x <= 0 {
			return errors.New(must)
		}
		*field(c) = x
		return nil
	}
}

// rate sets a positive number of messages per second.
func rate(field func(*Config) *float64) func(*Config, string) error {
	parse := func(v string) (float64, error) { return strconv.ParseFloat(v, 64) }
	return positive(parse, "must be a positive number", field)
}

// duration sets a positive duration such as 15s or 1m.
func duration(field func(*Config) *time.Duration) func(*Config, string) error {
	return positive(time.ParseDuration, "must be a positive duration such as 15s", field)
}

// count sets a positive whole number.
func count(field func(*Config) *int) func(*Config, string) error {
	return positive(strconv.Atoi, "must be a positive whole number", field)
}

func str(p func(c *Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *p(c) = v; return nil }
}

var settings = []setting{
	{"REDIS_URL", "", "Redis to keep state in (redis://, rediss://, redis-sentinel://, redis-cluster://). Empty: an embedded in-memory Redis; nothing survives a restart.", str(func(c *Config) *string { return &c.RedisURL })},
	{"LIFELINE_CONSUMER", "", "This process's name in the queues, unique per machine (default: FLY_MACHINE_ID, else the host name). A process restarted under its name resumes its own work at once.", str(func(c *Config) *string { return &c.Consumer })},
	{"LISTEN_ADDR", ":8080", "Address for HTTP: webhooks, /healthz, /readyz.", str(func(c *Config) *string { return &c.ListenAddr })},
	{"PUBLIC_URL", "", "The public https URL of this service, used to check Twilio signatures and build callback URLs.", str(func(c *Config) *string { return &c.PublicURL })},
	{"CONTENT_DIR", "", "Directory whose flows/, locales/ and packs/ override the shipped content.", str(func(c *Config) *string { return &c.ContentDir })},
	{"LIFELINE_DATA_KEY", "", "Base64 of 32 random bytes; encrypts personal data at rest. Required once a real channel is on.", str(func(c *Config) *string { return &c.DataKey })},
	{"LIFELINE_OLD_DATA_KEYS", "", "Comma-separated older data keys that can still decrypt (after a rotation).", str(func(c *Config) *string { return &c.OldDataKeys })},
	{"QUIET_HOURS", "21:00-08:00", "Local hours when no scheduled message is sent, e.g. 21:00-08:00; off disables.", func(c *Config, v string) error {
		q, err := bot.ParseQuietHours(v)
		c.QuietHours = q
		return err
	}},
	{"DEFAULT_LANGUAGE", "en", "Language used before a person chooses one, and as the fallback.", str(func(c *Config) *string { return &c.DefaultLanguage })},
	{"DEFAULT_TIMEZONE", "UTC", "Time zone assumed for a person until they choose one (IANA name).", func(c *Config, v string) error {
		if _, err := time.LoadLocation(v); err != nil {
			return fmt.Errorf("not a time zone: %w", err)
		}
		c.DefaultTimezone = v
		return nil
	}},
	{"RESOURCE_PACK", "international", "Country resource pack (helplines, inspectorate, unions) inserted into lessons.", str(func(c *Config) *string { return &c.ResourcePack })},
	{"LOG_LEVEL", "info", "debug, info, warn or error.", func(c *Config, v string) error {
		switch v {
		case "debug", "info", "warn", "error":
			c.LogLevel = v
			return nil
		}
		return fmt.Errorf("must be debug, info, warn or error")
	}},
	{"TELEGRAM_BOT_TOKEN", "", "Telegram bot token; turns the Telegram channel on.", str(func(c *Config) *string { return &c.TelegramToken })},
	{"TELEGRAM_API_URL", "https://api.telegram.org", "Bot API server (a self-hosted telegram-bot-api, or a fake in tests).", str(func(c *Config) *string { return &c.TelegramAPIURL })},
	{"TELEGRAM_WEBHOOK_URL", "", "Public URL of POST /telegram/webhook; set it to use a webhook instead of long polling.", str(func(c *Config) *string { return &c.TelegramWebhookURL })},
	{"TELEGRAM_MPS", "30", "Messages per second this process may send through Telegram, all chats together; Telegram allows a bot about 30, so with N processes give each 30/N.", rate(func(c *Config) *float64 { return &c.TelegramMPS })},
	{"TELEGRAM_WEBHOOK_SECRET", "", "Secret token Telegram sends with each webhook call (1-256 of A-Z a-z 0-9 _ -).", str(func(c *Config) *string { return &c.TelegramWebhookSecret })},
	{"TWILIO_ACCOUNT_SID", "", "Twilio account SID; with the token and a sender, turns SMS (and WhatsApp) on.", str(func(c *Config) *string { return &c.TwilioAccountSID })},
	{"TWILIO_AUTH_TOKEN", "", "Twilio auth token; also checks webhook signatures.", str(func(c *Config) *string { return &c.TwilioAuthToken })},
	{"TWILIO_FROM", "", "Sending phone number in E.164 (or use TWILIO_MESSAGING_SERVICE_SID).", str(func(c *Config) *string { return &c.TwilioFrom })},
	{"TWILIO_MESSAGING_SERVICE_SID", "", "Twilio Messaging Service to send from, instead of TWILIO_FROM.", str(func(c *Config) *string { return &c.TwilioMessagingServiceSID })},
	{"TWILIO_WHATSAPP_FROM", "", "WhatsApp sender as whatsapp:+E.164; with the account SID and token, turns WhatsApp on (templates: CONTENT_DIR/whatsapp_templates.yaml).", func(c *Config, v string) error {
		if v != "" && !strings.HasPrefix(v, "whatsapp:+") {
			return errors.New("must be whatsapp:+ and the sender's number in E.164")
		}
		c.TwilioWhatsAppFrom = v
		return nil
	}},
	{"TWILIO_API_URL", "", "Other base URL for Twilio's REST API (tests, a regional proxy). Empty: Twilio's.", str(func(c *Config) *string { return &c.TwilioAPIURL })},
	{"TWILIO_MPS", "1", "Messages per second one Twilio sender may send.", rate(func(c *Config) *float64 { return &c.TwilioMPS })},
	{"TWILIO_WHATSAPP_MPS", "10", "Messages per second the WhatsApp sender may send (Twilio allows a WhatsApp sender 80).", rate(func(c *Config) *float64 { return &c.TwilioWhatsAppMPS })},
	{"STAFF_API_TOKEN", "", "Deprecated: one shared bearer token for the staff API (/api/...). Make a token per account in the console instead.", str(func(c *Config) *string { return &c.StaffAPIToken })},
	{"CASE_TARGETS", "urgent=15m,normal=24h,low=72h", "How long a case may wait for a coach, by priority; the console's queue marks a case waiting longer.", func(c *Config, v string) error {
		c.CaseTargets = map[string]time.Duration{}
		for _, part := range strings.Split(v, ",") {
			k, d, ok := strings.Cut(strings.TrimSpace(part), "=")
			dur, err := time.ParseDuration(strings.TrimSpace(d))
			if !ok || err != nil || dur <= 0 || (k != "urgent" && k != "normal" && k != "low") {
				return fmt.Errorf("want urgent=15m,normal=24h,low=72h; %q is not a priority=duration", part)
			}
			c.CaseTargets[k] = dur
		}
		return nil
	}},
	{"CONSOLE_REQUIRE_2FA", "false", "true: admins and supervisors must set up a second factor (TOTP) before using the staff console.", func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("must be true or false")
		}
		c.ConsoleRequire2FA = b
		return nil
	}},
	{"COACH_CHAT_ID", "", "Telegram chat id of the coaches' group, where new cases are posted.", func(c *Config, v string) error {
		if v == "" {
			return nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		c.CoachChatID = n
		return err
	}},
	{"COACH_TELEGRAM_IDS", "", "Comma-separated Telegram user ids of coaches (only they can claim and relay).", ids(func(c *Config) *[]int64 { return &c.CoachTelegramIDs })},
	{"COACH_SUPERVISOR_IDS", "", "Comma-separated Telegram user ids of supervisors, told of cases nobody claimed.", ids(func(c *Config) *[]int64 { return &c.CoachSupervisorIDs })},
	{"COACH_HOURS", "Mon-Fri 09:00-17:00", "When coaches answer (in DEFAULT_TIMEZONE); outside them a person is told when to expect an answer.", str(func(c *Config) *string { return &c.CoachHours })},
	{"HTTP_READ_TIMEOUT", "15s", "Longest time to read one HTTP request, headers and body; a slower client is cut off.", duration(func(c *Config) *time.Duration { return &c.HTTPReadTimeout })},
	{"HTTP_WRITE_TIMEOUT", "30s", "Longest time from a request's headers to the end of its answer.", duration(func(c *Config) *time.Duration { return &c.HTTPWriteTimeout })},
	{"HTTP_IDLE_TIMEOUT", "30s", "How long an idle kept-alive HTTP connection stays open.", duration(func(c *Config) *time.Duration { return &c.HTTPIdleTimeout })},
	{"HTTP_MAX_CONNS", "1024", "Most HTTP connections open at once; more are closed on arrival.", count(func(c *Config) *int { return &c.HTTPMaxConns })},
	{"HTTP_MAX_CONNS_PER_IP", "256", "Most HTTP connections open at once from one IP address (behind a proxy, keep it above the proxy's concurrency).", count(func(c *Config) *int { return &c.HTTPMaxConnsPerIP })},
	{"WEBHOOK_IP_RATE", "300", "Most webhook and API requests per second from one IP address; more get 429.", count(func(c *Config) *int { return &c.WebhookIPRate })},
	{"WARM_TURNS", "10000", "How many people's state a process keeps for five minutes after their turn, to answer their next message in one Redis round trip (checked against Redis first); 0 keeps none.", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errors.New("must be a whole number, 0 or more")
		}
		c.WarmTurns = n
		return nil
	}},
	{"RETENTION_DAYS", "365", "A person silent for longer gets one last notice, then is erased.", positive(strconv.Atoi, "must be a whole number of days", func(c *Config) *int { return &c.RetentionDays })},
}

func ids(p func(c *Config) *[]int64) func(*Config, string) error {
	return func(c *Config, v string) error {
		var out []int64
		for _, s := range bot.SplitList(v) {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return fmt.Errorf("%q is not a Telegram id", s)
			}
			out = append(out, n)
		}
		*p(c) = out
		return nil
	}
}

// LoadConfig reads the environment through getenv. It fails on the first
// bad value, naming the variable.
func LoadConfig(getenv func(string) string) (*Config, error) {
	c := &Config{}
	for _, s := range settings {
		v := strings.TrimSpace(getenv(s.name))
		if v == "" {
			v = s.def
		}
		if err := s.set(c, v); err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	if c.TelegramEnabled() || c.SMSEnabled() || c.WhatsAppEnabled() {
		if c.DataKey == "" {
			return nil, fmt.Errorf("LIFELINE_DATA_KEY is required when a channel is on (make one with: head -c32 /dev/urandom | base64)")
		}
	}
	return c, nil
}

// TelegramEnabled reports whether the Telegram channel is configured.
func (c *Config) TelegramEnabled() bool { return c.TelegramToken != "" }

// SMSEnabled reports whether the SMS channel is configured.
func (c *Config) SMSEnabled() bool {
	return c.TwilioAccountSID != "" && c.TwilioAuthToken != "" && (c.TwilioFrom != "" || c.TwilioMessagingServiceSID != "")
}

// WhatsAppEnabled reports whether the WhatsApp channel is configured.
func (c *Config) WhatsAppEnabled() bool {
	return c.TwilioAccountSID != "" && c.TwilioAuthToken != "" && c.TwilioWhatsAppFrom != ""
}

// PrintHelp lists every environment variable with its default and help.
func PrintHelp(w io.Writer) {
	fmt.Fprint(w, `Lifeline: a companion for survivors of forced labour, on Telegram and SMS.

Usage:
  lifeline [serve]      run every configured channel (no credentials: chat in this terminal)
  lifeline check [DIR]  validate content (flows, locales, packs, cadence); DIR defaults to CONTENT_DIR
  lifeline crisis [-lang L]  read messages on stdin, print "urgent<TAB>phrase" or "-" for each
  lifeline translations status | export LANG [-o F] | import F  [--dir DIR]  review status; PO files for translators
  lifeline stats [--from D --to D --by gender,age]  anonymous programme figures (cells under 5 hidden)
  lifeline staff add NAME --role ROLE [--password-stdin]   a console account (prints a one-time sign-in link)
  lifeline staff list | disable | enable | reset | unlock NAME
  lifeline audit        staff and coach actions, oldest first
  lifeline loadtest [-people N -duration D -rate R -json]  drive simulated people through the real runtime
  lifeline loadtest -chaos [-duration D -bot-kills N -redis-kills N]  SIGKILL real processes and Redis under load; print lost and repeated
  lifeline rotate-key   re-encrypt stored data under LIFELINE_DATA_KEY (old keys in LIFELINE_OLD_DATA_KEYS)
  lifeline broadcast …  send, schedule, pause, resume or cancel a broadcast; rights reminders
  lifeline jobs …       post, list, show or delete job openings; send the weekly digest
  lifeline --help       this help

Environment:
`)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range settings {
		def := s.def
		if def == "" {
			def = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", s.name, def, s.help)
	}
	tw.Flush()
}
