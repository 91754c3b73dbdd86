package bot

import (
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"
)

// StaffOnly lets a request through only with "Authorization: Bearer
// <token>", compared in constant time; otherwise it answers 401. An empty
// token refuses everyone (the staff API is off).
func StaffOnly(token string, log *slog.Logger, h http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(got))
		if token == "" || !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			log.Warn("staff request refused", "event", "staff_unauthorized", "path", r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Bearer realm="lifeline"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
