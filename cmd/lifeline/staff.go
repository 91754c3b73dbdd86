package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/lifeline-org/lifeline/bot/broadcast"
	"github.com/lifeline-org/lifeline/bot/checkin"
	"github.com/lifeline-org/lifeline/bot/coach"
	"github.com/lifeline-org/lifeline/locales"
	"github.com/lifeline-org/lifeline/store"
	"github.com/lifeline-org/lifeline/web"
)

// staffCmd manages console accounts:
//
//	lifeline staff add NAME --role ROLE [--password-stdin]
//	lifeline staff list
//	lifeline staff disable|enable|reset|unlock NAME
//
// add and reset print a one-time sign-in link (24 h) where the person sets
// a password; --password-stdin sets it from the first line of input.
func staffCmd(ctx context.Context, accts *web.Accounts, st *store.Store, baseURL string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	usage := func() int {
		fmt.Fprintln(stderr, "usage: lifeline staff add NAME --role admin|supervisor|staff|coach [--password-stdin]")
		fmt.Fprintln(stderr, "       lifeline staff list")
		fmt.Fprintln(stderr, "       lifeline staff disable|enable|reset|unlock NAME")
		return 2
	}
	if len(args) == 0 {
		return usage()
	}
	verb, args := args[0], args[1:]
	if verb == "list" {
		list, err := st.Accounts(ctx)
		if err != nil {
			fmt.Fprintln(stderr, "lifeline staff:", err)
			return 1
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tSTATE\t2FA")
		for _, a := range list {
			state := "active"
			switch {
			case a.Disabled:
				state = "disabled"
			case a.Locked:
				state = "locked"
			case a.Password == "":
				state = "invited"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%v\n", a.Name, a.Role, state, len(a.TOTP) > 0)
		}
		_ = tw.Flush()
		return 0
	}
	// The name may come before or after the flags.
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("staff "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	role := fs.String("role", "", "admin, supervisor, staff or coach")
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if name == "" && fs.NArg() > 0 {
		name = fs.Arg(0)
	}
	if name == "" {
		return usage()
	}
	var err error
	var token, password string
	if *pwStdin {
		// Read and check the password first, so a refused one leaves no
		// half-made account behind.
		line, rerr := bufio.NewReader(stdin).ReadString('\n')
		password = strings.TrimRight(line, "\r\n")
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			fmt.Fprintln(stderr, "lifeline staff: read the password:", rerr)
			return 1
		}
		if utf8.RuneCountInString(password) < web.MinPassword {
			fmt.Fprintf(stderr, "lifeline staff %s: %v\n", verb, web.ErrWeakPassword)
			return 2
		}
	}
	switch verb {
	case "add":
		token, err = accts.Add(ctx, name, *role)
	case "reset":
		token, err = accts.Reset(ctx, name)
	case "disable":
		err = accts.Disable(ctx, name)
	case "enable":
		err = accts.Enable(ctx, name)
	case "unlock":
		err = accts.Unlock(ctx, name)
	default:
		return usage()
	}
	if err == nil && *pwStdin && (verb == "add" || verb == "reset") {
		_, err = accts.UseLink(ctx, token, password)
		token = ""
	}
	if err != nil {
		fmt.Fprintf(stderr, "lifeline staff %s: %v\n", verb, err)
		if errors.Is(err, store.ErrNoAccount) || errors.Is(err, store.ErrAccountExists) || errors.Is(err, web.ErrBadName) ||
			errors.Is(err, web.ErrBadRole) || errors.Is(err, web.ErrWeakPassword) {
			return 2
		}
		return 1
	}
	if err := st.Audit(ctx, time.Now(), "cli", "account."+verb, name); err != nil {
		fmt.Fprintln(stderr, "lifeline staff: audit entry not written:", err)
	}
	switch {
	case token != "":
		fmt.Fprintf(stdout, "%s: open this link within 24 hours to set a password (it works once):\n%s/console/welcome?t=%s\n", name, baseURL, token)
	case verb == "add" || verb == "reset":
		fmt.Fprintf(stdout, "%s: password set; sign in at %s/console/login\n", name, baseURL)
	default:
		fmt.Fprintf(stdout, "%s: %s done\n", name, verb)
	}
	return 0
}

// consoleURL is where people open the console: PUBLIC_URL, else this
// machine at the listening port.
func consoleURL(cfg *Config) string {
	if cfg.PublicURL != "" {
		return strings.TrimRight(cfg.PublicURL, "/")
	}
	_, port, err := net.SplitHostPort(cfg.ListenAddr)
	if err != nil || port == "" {
		port = "8080"
	}
	return "http://localhost:" + port
}

// startConsole serves the staff console on mux. With the embedded Redis
// (no REDIS_URL) nothing outlives the process, so `lifeline staff` cannot
// reach it: the first run makes an admin account and prints its sign-in
// link on standard error.
func startConsole(ctx context.Context, mux *http.ServeMux, cfg *Config, b *base, accounts *web.Accounts, bc *broadcast.Service,
	sched *checkin.Scheduler, coaches *coach.Module, log *slog.Logger) error {
	var override fs.FS
	if cfg.ContentDir != "" {
		dir := filepath.Join(cfg.ContentDir, "locales", "console")
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			override = os.DirFS(dir)
		}
	}
	texts, err := locales.LoadConsole(override)
	if err != nil {
		return fmt.Errorf("console texts: %w", err)
	}
	con, err := web.New(web.Config{Store: b.st, Accounts: accounts, Texts: texts, Content: b.cont, Broadcasts: bc, Figures: sched,
		Coaches: coaches, Sealer: b.sealer, Targets: cfg.CaseTargets,
		Require2FA: cfg.ConsoleRequire2FA, Quiet: cfg.QuietHours, TZ: b.loc, Log: log})
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	con.Register(mux)
	if cfg.RedisURL != "" {
		return nil
	}
	list, err := b.st.Accounts(ctx)
	if err != nil || len(list) > 0 {
		return err
	}
	token, err := accounts.Add(ctx, "admin", web.RoleAdmin)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "\nStaff console: open %s/console/welcome?t=%s to set the password of the account \"admin\".\n\n", consoleURL(cfg), token)
	return nil
}
