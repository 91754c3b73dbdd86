package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestPerIPLimit(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	h := perIPLimit(ok, 5, slog.New(slog.NewTextHandler(io.Discard, nil)))
	codes := map[int]int{}
	for range 8 {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/sms/inbound", nil)
		req.RemoteAddr = "192.0.2.7:1234"
		h.ServeHTTP(rec, req)
		codes[rec.Code]++
	}
	other := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/sms/inbound", nil)
	req.RemoteAddr = "192.0.2.8:1"
	h.ServeHTTP(other, req)
	health := httptest.NewRecorder()
	for range 10 {
		hreq := httptest.NewRequest("GET", "/healthz", nil)
		hreq.RemoteAddr = "192.0.2.7:1234"
		h.ServeHTTP(health, hreq)
	}
	// Within one second (the test runs far faster), 5 pass and 3 are refused;
	// a second boundary inside the loop (microseconds) would let more pass.
	if codes[http.StatusTooManyRequests] < 1 || codes[http.StatusTooManyRequests] > 3 || codes[http.StatusOK] < 5 || other.Code != http.StatusOK || health.Code != http.StatusOK {
		t.Fatalf("codes %v, other address %d, health %d", codes, other.Code, health.Code)
	}
}
