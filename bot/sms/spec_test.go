package sms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/sms/smstest"
)

var (
	update     = flag.Bool("update", false, "rewrite testdata/twilio_messages_spec.json from -twilio-spec")
	twilioSpec = flag.String("twilio-spec", "../../../shared/specs/twilio_api_v2010.json",
		"Twilio's OpenAPI description of API v2010 (MIT licence, copied beside the extract)")
)

const specExtract = "testdata/twilio_messages_spec.json"

// messagesSpec is what Send may use of Twilio's OpenAPI description: the
// Messages create operation. It is extracted from the 1.8 MB spec so the
// tests run without it.
type messagesSpec struct {
	Source            string   `json:"source"`
	Server            string   `json:"server"`
	OperationID       string   `json:"operation_id"`
	Method            string   `json:"method"`
	Path              string   `json:"path"`
	AccountSidPattern string   `json:"account_sid_pattern"`
	ContentType       string   `json:"content_type"`
	FormParams        []string `json:"form_params"`
	Required          []string `json:"required"`
}

// extractMessagesSpec reads the Messages create operation from Twilio's
// OpenAPI document.
func extractMessagesSpec(doc []byte) (messagesSpec, error) {
	const path = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
	const contentType = "application/x-www-form-urlencoded"
	type server struct {
		URL string `json:"url"`
	}
	var spec struct {
		Servers []server `json:"servers"`
		Paths   map[string]struct {
			Servers []server `json:"servers"`
			Post    *struct {
				OperationID string `json:"operationId"`
				Parameters  []struct {
					Name   string `json:"name"`
					In     string `json:"in"`
					Schema struct {
						Pattern string `json:"pattern"`
					} `json:"schema"`
				} `json:"parameters"`
				RequestBody struct {
					Content map[string]struct {
						Schema struct {
							Properties map[string]json.RawMessage `json:"properties"`
							Required   []string                   `json:"required"`
						} `json:"schema"`
					} `json:"content"`
				} `json:"requestBody"`
			} `json:"post"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(doc, &spec); err != nil {
		return messagesSpec{}, err
	}
	p, ok := spec.Paths[path]
	if !ok || p.Post == nil {
		return messagesSpec{}, errors.New("no POST " + path)
	}
	servers := p.Servers
	if len(servers) == 0 {
		servers = spec.Servers
	}
	if len(servers) == 0 {
		return messagesSpec{}, errors.New("no server")
	}
	body, ok := p.Post.RequestBody.Content[contentType]
	if !ok {
		return messagesSpec{}, errors.New("no form body")
	}
	out := messagesSpec{
		Source:      "Twilio OpenAPI twilio_api_v2010.json, MIT licence: twilio_api_v2010.LICENSE",
		Server:      servers[0].URL,
		OperationID: p.Post.OperationID,
		Method:      "POST",
		Path:        path,
		ContentType: contentType,
		Required:    slices.Sorted(slices.Values(body.Schema.Required)),
	}
	for name := range body.Schema.Properties {
		out.FormParams = append(out.FormParams, name)
	}
	slices.Sort(out.FormParams)
	for _, prm := range p.Post.Parameters {
		if prm.In == "path" && prm.Name == "AccountSid" {
			out.AccountSidPattern = prm.Schema.Pattern
		}
	}
	return out, nil
}

func marshalSpec(s messagesSpec) []byte {
	b, _ := json.MarshalIndent(s, "", "  ")
	return append(b, '\n')
}

// TestMessagesSpecExtract rewrites the extract with -update, and otherwise
// checks it is current when Twilio's spec is at hand.
func TestMessagesSpecExtract(t *testing.T) {
	doc, err := os.ReadFile(*twilioSpec)
	if errors.Is(err, fs.ErrNotExist) && !*update {
		t.Skipf("%s not found; the committed extract is used as is", *twilioSpec)
	}
	if err != nil {
		t.Fatal(err)
	}
	s, err := extractMessagesSpec(doc)
	if err != nil {
		t.Fatal(err)
	}
	want := marshalSpec(s)
	if *update {
		if err := os.WriteFile(specExtract, want, 0o644); err != nil {
			t.Fatal(err)
		}
		lic, err := os.ReadFile(strings.TrimSuffix(*twilioSpec, ".json") + ".LICENSE")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("testdata/twilio_api_v2010.LICENSE", lic, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(specExtract)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is stale: run go test ./bot/sms -run TestMessagesSpecExtract -update", specExtract)
	}
}

// specChecker checks requests against the extract of Twilio's
// description of the Messages API.
func specChecker(t *testing.T) func(t *testing.T, reqs []smstest.Request) {
	t.Helper()
	b, err := os.ReadFile(specExtract)
	if err != nil {
		t.Fatal(err)
	}
	var spec messagesSpec
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	if len(spec.FormParams) < 5 || spec.AccountSidPattern == "" {
		t.Fatalf("extract looks empty: %+v", spec)
	}
	if DefaultAPIURL != spec.Server {
		t.Errorf("DefaultAPIURL = %s, spec's server is %s", DefaultAPIURL, spec.Server)
	}
	pathRE := regexp.MustCompile("^" + strings.Replace(regexp.QuoteMeta(spec.Path), regexp.QuoteMeta("{AccountSid}"), "([^/]+)", 1) + "$")
	sidRE := regexp.MustCompile(spec.AccountSidPattern)
	return func(t *testing.T, reqs []smstest.Request) {
		t.Helper()
		for i, r := range reqs {
			if r.Method != spec.Method {
				t.Errorf("request %d: method %s, spec has %s", i, r.Method, spec.Method)
			}
			m := pathRE.FindStringSubmatch(r.Path)
			if m == nil {
				t.Errorf("request %d: path %s does not match %s", i, r.Path, spec.Path)
			} else if !sidRE.MatchString(m[1]) {
				t.Errorf("request %d: account sid in path does not match %s", i, spec.AccountSidPattern)
			}
			if r.ContentType != spec.ContentType {
				t.Errorf("request %d: content type %s, spec has %s", i, r.ContentType, spec.ContentType)
			}
			for k := range r.Form {
				if !slices.Contains(spec.FormParams, k) {
					t.Errorf("request %d: form parameter %s is not in the spec", i, k)
				}
			}
			for _, k := range spec.Required {
				if r.Form.Get(k) == "" {
					t.Errorf("request %d: required parameter %s missing", i, k)
				}
			}
		}
	}
}

// TestSendMatchesTwilioSpec checks every request Send makes against
// Twilio's description of the Messages API.
func TestSendMatchesTwilioSpec(t *testing.T) {
	check := specChecker(t)
	configs := map[string]func(*Config){
		"from number":       nil,
		"messaging service": func(c *Config) { c.From, c.MessagingServiceSID = "", testService },
		"both":              func(c *Config) { c.MessagingServiceSID = testService },
	}
	for name, edit := range configs {
		t.Run(name, func(t *testing.T) {
			env := newTestAdapter(t, map[string][]mock{"POST " + messagesPath: append(created(), created()...)}, edit)
			msg := bot.Outbound{
				Text:    strings.Repeat("A long text that needs two messages. ", 20),
				Options: []bot.OutOption{{ID: "a", Label: "One"}},
			}
			if _, err := env.a.Send(context.Background(), testTo, msg); err != nil {
				t.Fatal(err)
			}
			reqs := env.api.Requests()
			if len(reqs) != 2 {
				t.Fatalf("%d requests, want 2", len(reqs))
			}
			check(t, reqs)
		})
	}
}

// TestWhatsAppMatchesTwilioSpec checks the WhatsApp channel's requests,
// free-form, template and buttons, against the same description.
func TestWhatsAppMatchesTwilioSpec(t *testing.T) {
	check := specChecker(t)
	env := newTestAdapter(t, map[string][]mock{"POST " + messagesPath: append(created(), append(created(), created()...)...)}, whatsApp)
	old := newTestClock().Now().Add(-25 * time.Hour).UnixMilli()
	for _, msg := range []bot.Outbound{
		{Text: "Choose a topic:", Options: []bot.OutOption{{ID: "a", Label: "Your documents"}}},
		{Text: "How are you?", Options: []bot.OutOption{{ID: "a", Label: "Fine"}}, Purpose: "checkin", Lang: "en", Last: old},
		{Text: "How are you?", Options: []bot.OutOption{{ID: "a", Label: "Fine"}, {ID: "b", Label: "Not well"}, {ID: "c", Label: "Later"}}},
	} {
		if _, err := env.a.Send(context.Background(), testTo, msg); err != nil {
			t.Fatal(err)
		}
	}
	reqs := env.api.Requests()
	if len(reqs) != 3 || reqs[0].Form.Get("Body") == "" || reqs[1].Form.Get("ContentSid") == "" || reqs[2].Form.Get("ContentSid") != testButtons {
		t.Fatalf("want a free-form message, a template and buttons, got %+v", reqs)
	}
	check(t, reqs)
}
