package smstest

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Response is one canned answer of a scripted Server.
type Response struct {
	Status int
	Body   string
	Header map[string]string
	// Delay holds the answer back (until the request is cancelled).
	Delay time.Duration
}

// CreatedBody is Twilio's answer to a message it took.
const CreatedBody = `{"sid":"SM0123456789abcdef0123456789abcdef","status":"queued"}`

// Created is the answer to one message Twilio took.
func Created() []Response { return []Response{{Status: http.StatusCreated, Body: CreatedBody}} }

// Request is one request the Server received.
type Request struct {
	Method, Path string
	Form         url.Values
	User, Pass   string
	ContentType  string
}

// Server is an httptest stand-in for Twilio's API on 127.0.0.1, closed
// when the test ends. It records every request.
type Server struct {
	// URL is the API's base URL, for the adapter's APIURL.
	URL string

	t        testing.TB
	srv      *httptest.Server
	mu       sync.Mutex
	scripted bool
	mocks    map[string][]Response
	reqs     []Request
}

// NewServer returns a fake that takes every message posted to the
// Messages API (201 and a new message sid, as Twilio answers); any other
// request fails the test.
func NewServer(t testing.TB) *Server {
	t.Helper()
	return start(t, false, nil)
}

// NewScripted returns a fake that answers with mocks, set by
// "METHOD path" and given in order: the test fails if a request has no
// answer left or an answer is never used.
func NewScripted(t testing.TB, mocks map[string][]Response) *Server {
	t.Helper()
	return start(t, true, mocks)
}

func start(t testing.TB, scripted bool, mocks map[string][]Response) *Server {
	s := &Server{t: t, scripted: scripted, mocks: map[string][]Response{}}
	for k, v := range mocks {
		s.mocks[k] = slices.Clone(v)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(func() {
		s.srv.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for k, left := range s.mocks {
			if len(left) > 0 {
				t.Errorf("%d mocked answer(s) for %s never used", len(left), k)
			}
		}
	})
	return s
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.t.Errorf("fake twilio: bad form: %v", err)
	}
	user, pass, _ := r.BasicAuth()
	key := r.Method + " " + r.URL.Path
	s.mu.Lock()
	s.reqs = append(s.reqs, Request{r.Method, r.URL.Path, r.PostForm, user, pass, r.Header.Get("Content-Type")})
	n := len(s.reqs)
	m, ok := Response{Status: http.StatusCreated, Body: fmt.Sprintf(`{"sid":"SM%032d","status":"queued"}`, n)}, true
	if s.scripted {
		queue := s.mocks[key]
		if ok = len(queue) > 0; ok {
			m, s.mocks[key] = queue[0], queue[1:]
		}
	} else {
		ok = r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/Messages.json")
	}
	s.mu.Unlock()
	if !ok {
		s.t.Errorf("fake twilio: unexpected request %s", key)
		http.Error(w, "no mock", http.StatusNotImplemented)
		return
	}
	if m.Delay > 0 {
		select {
		case <-time.After(m.Delay):
		case <-r.Context().Done():
			return
		}
	}
	for k, v := range m.Header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(m.Status)
	_, _ = io.WriteString(w, m.Body)
}

// Close shuts the server down, as a network failure would; the end of the
// test closes it too.
func (s *Server) Close() { s.srv.Close() }

// Requests returns every request received, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

// Bodies returns the Body of every request received: the texts sent,
// oldest first.
func (s *Server) Bodies() []string {
	var out []string
	for _, r := range s.Requests() {
		out = append(out, r.Form.Get("Body"))
	}
	return out
}

// Transport lets requests reach this server and no other host.
func (s *Server) Transport() http.RoundTripper {
	u, _ := url.Parse(s.URL)
	return LocalOnly(u.Host)
}

// LocalOnly is a transport that refuses every request not to host, so a
// test cannot reach the real Twilio.
func LocalOnly(host string) http.RoundTripper { return localOnly{host} }

type localOnly struct{ host string }

func (l localOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host != l.host {
		return nil, fmt.Errorf("test blocked a request to %s", r.URL.Host)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// Sign computes Twilio's X-Twilio-Signature for a POST to fullURL: the
// base64 HMAC-SHA1, keyed by the auth token, of the URL followed by each
// parameter's name and value in name order. It is written from Twilio's
// description, apart from twilio-go's code, so it checks the adapter;
// bot/sms's TestSignatureVector holds it to Twilio's published example.
func Sign(token, fullURL string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range keys {
		b.WriteString(k + form.Get(k))
	}
	h := hmac.New(sha1.New, []byte(token))
	h.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}
