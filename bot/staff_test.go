package bot

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestStaffOnly(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Actor", Actor(r.Context()))
		w.WriteHeader(http.StatusTeapot)
	})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		name   string
		gate   Gate
		header string
		want   int
		actor  string
	}{
		{"right token", StaticToken("s3cret"), "Bearer s3cret", http.StatusTeapot, "staff"},
		{"no header", StaticToken("s3cret"), "", http.StatusUnauthorized, ""},
		{"wrong token", StaticToken("s3cret"), "Bearer s3cre", http.StatusUnauthorized, ""},
		{"wrong scheme", StaticToken("s3cret"), "Basic s3cret", http.StatusUnauthorized, ""},
		{"api off", StaticToken(""), "Bearer ", http.StatusUnauthorized, ""},
		{"no gate", nil, "Bearer x", http.StatusUnauthorized, ""},
		{"account token before shared", Gates{accountGate{"t1": "staff:amina"}, StaticToken("s3cret")}, "Bearer t1", http.StatusTeapot, "staff:amina"},
		{"shared after accounts", Gates{accountGate{"t1": "staff:amina"}, StaticToken("s3cret")}, "Bearer s3cret", http.StatusTeapot, "staff"},
		{"neither", Gates{accountGate{"t1": "staff:amina"}, StaticToken("s3cret")}, "Bearer t2", http.StatusUnauthorized, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/api/x", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			rec := httptest.NewRecorder()
			StaffOnly(tc.gate, log, ok).ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Errorf("got %d, want %d", rec.Code, tc.want)
			}
			if got := rec.Header().Get("X-Actor"); got != tc.actor {
				t.Errorf("actor %q, want %q", got, tc.actor)
			}
		})
	}
}

type accountGate map[string]string

func (g accountGate) Bearer(_ context.Context, token string) (string, bool) {
	a, ok := g[token]
	return a, ok
}

func TestDecodeJSON(t *testing.T) {
	type body struct {
		Text string `json:"text"`
	}
	big := `{"text":"` + strings.Repeat("x", MaxStaffBody) + `"}`
	for _, tc := range []struct {
		name, ctype, body string
		want              int // 0: decoded
		reason            string
	}{
		{"one object", "application/json", `{"text":"hi"}`, 0, ""},
		{"charset and white space after", "application/json; charset=UTF-8", "{\"text\":\"hi\"}\n \t", 0, ""},
		{"trailing garbage", "application/json", `{"text":"hi"}garbage`, 400, "more than one JSON value"},
		{"two objects", "application/json", `{"text":"hi"} {"text":"again"}`, 400, "more than one JSON value"},
		{"a stray brace after", "application/json", `{"text":"hi"}}`, 400, "more than one JSON value"},
		{"unknown field", "application/json", `{"text":"hi","txt":"oops"}`, 400, `unknown field "txt"`},
		{"wrong type", "application/json", `{"text":5}`, 400, "not valid JSON for this call"},
		{"cut short", "application/json", `{"text":"hi"`, 400, "not valid JSON"},
		{"empty", "application/json", ``, 400, "empty"},
		{"too large", "application/json", big, 400, "larger than 64 KiB"},
		{"too large after the value", "application/json", `{"text":"hi"}` + strings.Repeat(" ", MaxStaffBody), 400, "larger than 64 KiB"},
		{"no content type", "", `{"text":"hi"}`, 415, "application/json"},
		{"form", "application/x-www-form-urlencoded", `{"text":"hi"}`, 415, "application/json"},
		{"text", "text/plain", `{"text":"hi"}`, 415, "application/json"},
		{"another charset", "application/json; charset=latin1", `{"text":"hi"}`, 415, "UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/api/x", strings.NewReader(tc.body))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			var got body
			err := DecodeJSON(httptest.NewRecorder(), req, &got)
			if tc.want == 0 {
				if err != nil || got.Text != "hi" {
					t.Fatalf("got %+v, %v; want text hi", got, err)
				}
				return
			}
			re, ok := errors.AsType[*RequestError](err)
			if !ok {
				t.Fatalf("got %v, want a *RequestError", err)
			}
			if re.Status != tc.want || !strings.Contains(re.Reason, tc.reason) {
				t.Errorf("got %d %q, want %d and %q", re.Status, re.Reason, tc.want, tc.reason)
			}
		})
	}
}
