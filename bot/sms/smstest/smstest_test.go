package smstest_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/lifeline-org/lifeline/bot/sms/smstest"
)

// TestServerRecordsMessages: the plain fake takes every message with a new
// sid, records its form and refuses to let a client reach another host.
func TestServerRecordsMessages(t *testing.T) {
	s := smstest.NewServer(t)
	c := &http.Client{Transport: s.Transport()}
	var sids []string
	for _, body := range []string{"one", "two"} {
		res, err := c.PostForm(s.URL+"/2010-04-01/Accounts/AC1/Messages.json", url.Values{"Body": {body}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusCreated || !strings.Contains(string(b), `"sid":"SM`) {
			t.Fatalf("answered %d %s", res.StatusCode, b)
		}
		sids = append(sids, string(b))
	}
	if sids[0] == sids[1] {
		t.Errorf("two messages got one sid: %s", sids[0])
	}
	if got := strings.Join(s.Bodies(), ","); got != "one,two" {
		t.Errorf("bodies %q", got)
	}
	if _, err := c.Get("http://api.twilio.com/"); err == nil || !strings.Contains(err.Error(), "blocked") {
		t.Errorf("a request to Twilio itself: %v", err)
	}
}

// TestScriptedAnswersInOrder: a scripted fake answers each request with
// the next answer set for it.
func TestScriptedAnswersInOrder(t *testing.T) {
	s := smstest.NewScripted(t, map[string][]smstest.Response{
		"POST /m": {{Status: 429, Body: "slow"}, {Status: 201, Body: "ok", Header: map[string]string{"X-A": "b"}}},
	})
	for _, want := range []int{429, 201} {
		res, err := http.Post(s.URL+"/m", "application/x-www-form-urlencoded", strings.NewReader("Body=x"))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("status %d, want %d", res.StatusCode, want)
		}
	}
	if r := s.Requests(); len(r) != 2 || r[1].Method != "POST" || r[1].Path != "/m" || r[1].Form.Get("Body") != "x" {
		t.Errorf("requests %+v", r)
	}
}
