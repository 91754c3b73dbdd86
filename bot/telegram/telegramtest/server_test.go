package telegramtest

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

type apiAnswer struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

func post(t *testing.T, u, contentType string, body []byte) apiAnswer {
	t.Helper()
	resp, err := http.Post(u, contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a apiAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatal(err)
	}
	return a
}

func multipartBody(t *testing.T, fields map[string]string) (string, []byte) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.FormDataContentType(), buf.Bytes()
}

func TestParams(t *testing.T) {
	markup := `{"inline_keyboard":[[{"text":"Yes","callback_data":"v1:1:yes"}]]}`
	mpType, mpBody := multipartBody(t, map[string]string{"chat_id": "7", "text": "hi", "reply_markup": markup})
	tests := []struct {
		name        string
		query       string
		contentType string
		body        string
		want        map[string]string
	}{
		{"json", "", "application/json", `{"chat_id":7,"text":"hi","reply_markup":` + markup + `}`,
			map[string]string{"chat_id": "7", "text": "hi", "reply_markup": markup}},
		{"urlencoded", "", "application/x-www-form-urlencoded", url.Values{"chat_id": {"7"}, "text": {"hi"}}.Encode(),
			map[string]string{"chat_id": "7", "text": "hi"}},
		{"query", "?chat_id=7&text=hi", "", "", map[string]string{"chat_id": "7", "text": "hi"}},
		{"multipart", "", mpType, string(mpBody), map[string]string{"chat_id": "7", "text": "hi", "reply_markup": markup}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewServer(t)
			a := post(t, s.URL+"/bot1:x/sendMessage"+tc.query, tc.contentType, []byte(tc.body))
			if !a.OK {
				t.Fatalf("answer %+v", a)
			}
			c := s.CallsTo("sendMessage")[0]
			if len(c.Params) != len(tc.want) {
				t.Errorf("params %q, want %q", c.Params, tc.want)
			}
			for k, v := range tc.want {
				if k == "reply_markup" {
					var got, want any
					_ = json.Unmarshal([]byte(c.Params[k]), &got)
					_ = json.Unmarshal([]byte(v), &want)
					g, _ := json.Marshal(got)
					w, _ := json.Marshal(want)
					if !bytes.Equal(g, w) {
						t.Errorf("%s = %s, want %s", k, c.Params[k], v)
					}
					continue
				}
				if c.Params[k] != v {
					t.Errorf("%s = %q, want %q", k, c.Params[k], v)
				}
			}
			msgs := s.Messages(7)
			if len(msgs) != 1 || msgs[0].Text != "hi" {
				t.Errorf("messages %+v", msgs)
			}
		})
	}
}

func TestAnswers(t *testing.T) {
	tests := []struct {
		name     string
		script   []Response
		method   string
		body     string
		wantOK   bool
		wantCode int
		wantWait int
	}{
		{"unknown method", nil, "sendMesage", `{}`, false, 404, 0},
		{"scripted 429", []Response{TooManyRequests(9)}, "sendMessage", `{"chat_id":1,"text":"x"}`, false, 429, 9},
		{"scripted 403", []Response{Blocked()}, "sendMessage", `{"chat_id":1,"text":"x"}`, false, 403, 0},
		{"empty text", nil, "sendMessage", `{"chat_id":1,"text":" "}`, false, 400, 0},
		{"too long", nil, "sendMessage", `{"chat_id":1,"text":"` + strings.Repeat("x", 4097) + `"}`, false, 400, 0},
		{"button with two fields", nil, "sendMessage", `{"chat_id":1,"text":"x","reply_markup":{"inline_keyboard":[[{"text":"a","callback_data":"d","copy_text":{"text":""}}]]}}`, false, 400, 0},
		{"callback data too long", nil, "sendMessage", `{"chat_id":1,"text":"x","reply_markup":{"inline_keyboard":[[{"text":"a","callback_data":"` + strings.Repeat("d", 65) + `"}]]}}`, false, 400, 0},
		{"get me", nil, "getMe", ``, true, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewServer(t)
			s.Respond(tc.method, tc.script...)
			a := post(t, s.URL+"/bot1:x/"+tc.method, "application/json", []byte(tc.body))
			if a.OK != tc.wantOK || a.ErrorCode != tc.wantCode || a.Parameters.RetryAfter != tc.wantWait {
				t.Errorf("answer %+v", a)
			}
			// A scripted answer is used once.
			if len(tc.script) > 0 {
				if b := post(t, s.URL+"/bot1:x/"+tc.method, "application/json", []byte(tc.body)); !b.OK {
					t.Errorf("second answer %+v", b)
				}
			}
			if tc.method == "sendMesage" {
				bad, _ := NotInSpec(s.Calls())
				if len(bad) != 1 {
					t.Errorf("NotInSpec = %q", bad)
				}
				s.mu.Lock()
				s.calls = nil // keep CheckSpec quiet about the deliberate mistake
				s.mu.Unlock()
			}
		})
	}
}

func TestGetUpdatesOffsets(t *testing.T) {
	s := NewServer(t)
	ids := s.Queue(TextUpdate(1, "a"), TextUpdate(1, "b"), TextUpdate(2, "c"))
	get := func(offset int64) []map[string]any {
		body, _ := json.Marshal(map[string]any{"offset": offset})
		a := post(t, s.URL+"/bot1:x/getUpdates", "application/json", body)
		var ups []map[string]any
		if err := json.Unmarshal(a.Result, &ups); err != nil {
			t.Fatal(err)
		}
		return ups
	}
	if n := len(get(0)); n != 3 {
		t.Fatalf("%d updates, want 3", n)
	}
	if n := len(get(0)); n != 3 {
		t.Errorf("unconfirmed updates not served again: %d", n)
	}
	if n := len(get(ids[1] + 1)); n != 1 {
		t.Errorf("after confirming two: %d updates, want 1", n)
	}
	if c := s.Confirmed(); c != ids[1]+1 {
		t.Errorf("Confirmed = %d", c)
	}
	if n := len(get(ids[2] + 1)); n != 0 {
		t.Errorf("after confirming all: %d updates", n)
	}
	// Queued messages are in the chat, with ids of their own.
	m := s.Messages(1)
	if len(m) != 2 || !m[0].FromPerson || m[0].ID == m[1].ID {
		t.Errorf("chat 1: %+v", m)
	}
}
