package main

import (
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// perIPLimit caps the requests one IP address may make per second to the
// webhooks and the staff API, answering 429 beyond it. Telegram and Twilio
// send every person's messages from a few addresses, so the cap is high: it
// stops a flood, not a busy programme. Health and metrics are not limited.
func perIPLimit(next http.Handler, perSecond int, log *slog.Logger) http.Handler {
	var mu sync.Mutex
	window := time.Now().Unix()
	counts := map[string]int{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/telegram/") && !strings.HasPrefix(r.URL.Path, "/sms/") && !strings.HasPrefix(r.URL.Path, "/api/") {
			next.ServeHTTP(w, r)
			return
		}
		ip, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			ip = r.RemoteAddr
		}
		mu.Lock()
		if now := time.Now().Unix(); now != window {
			window = now
			clear(counts)
		}
		counts[ip]++
		over := counts[ip] > perSecond
		mu.Unlock()
		if over {
			log.Warn("request refused: too many from one address", "event", "ip_rate_limited", "path", r.URL.Path)
			w.Header().Set("Retry-After", "1")
			http.Error(w, "too many requests", http.StatusTooManyRequests)
			return
		}
		next.ServeHTTP(w, r)
	})
}
