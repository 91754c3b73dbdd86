package bot

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
)

// A Gate decides who may call the staff API: it returns the actor that a
// bearer token stands for (written in the audit log), or false.
type Gate interface {
	Bearer(ctx context.Context, token string) (actor string, ok bool)
}

// StaticToken is the one shared STAFF_API_TOKEN of earlier versions: its
// actor is "staff". The empty token lets nobody in.
type StaticToken string

// Bearer compares token with t in constant time.
func (t StaticToken) Bearer(_ context.Context, token string) (string, bool) {
	want, got := sha256.Sum256([]byte(t)), sha256.Sum256([]byte(token))
	if t == "" || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return "", false
	}
	return "staff", true
}

// Gates tries each gate in turn: per-account tokens, then the shared one.
type Gates []Gate

// Bearer returns the first gate's answer that lets the token in.
func (g Gates) Bearer(ctx context.Context, token string) (string, bool) {
	for _, x := range g {
		if x == nil {
			continue
		}
		if a, ok := x.Bearer(ctx, token); ok {
			return a, true
		}
	}
	return "", false
}

type actorKey struct{}

// WithActor names who acts in ctx (a console account, an API token's
// account) for the audit log.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// Actor returns who acts in ctx, "staff" when nobody was named.
func Actor(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	return "staff"
}

// StaffOnly lets a request through only with "Authorization: Bearer
// <token>" that gate accepts, naming the token's actor in the request's
// context; otherwise it answers 401.
func StaffOnly(gate Gate, log *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		actor := ""
		if ok && got != "" && gate != nil {
			actor, ok = gate.Bearer(r.Context(), got)
		} else {
			ok = false
		}
		if !ok {
			log.Warn("staff request refused", "event", "staff_unauthorized", "path", r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Bearer realm="lifeline"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r.WithContext(WithActor(r.Context(), actor)))
	})
}

// MaxStaffBody is the largest request body the staff API reads: a
// broadcast in every language or a job is a few KiB.
const MaxStaffBody = 64 << 10

// RequestError is a staff request refused before anything was done: Status
// is 400 (or 415 for a body that is not application/json) and Reason says
// in a few words what to correct.
type RequestError struct {
	Status int
	Reason string
}

func (e *RequestError) Error() string { return e.Reason }

// DecodeJSON reads a staff request's body into v, strictly: the
// Content-Type must be application/json (415 otherwise), and the body at
// most MaxStaffBody bytes holding exactly one JSON value with no field v
// lacks (400 otherwise). Every refusal is a *RequestError; a handler that
// gets one has read nothing into its state and must act on nothing.
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return &RequestError{http.StatusUnsupportedMediaType, "Content-Type must be application/json"}
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return &RequestError{http.StatusUnsupportedMediaType, "the body must be UTF-8"}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxStaffBody))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	if err == nil {
		// Exactly one value: only white space may follow it.
		if _, err = dec.Token(); errors.Is(err, io.EOF) {
			return nil
		}
		if err == nil || !isTooLarge(err) {
			return &RequestError{http.StatusBadRequest, "the body holds more than one JSON value"}
		}
	}
	switch {
	case isTooLarge(err):
		return &RequestError{http.StatusBadRequest, fmt.Sprintf("the body is larger than %d KiB", MaxStaffBody>>10)}
	case errors.Is(err, io.EOF):
		return &RequestError{http.StatusBadRequest, "the body is empty; send one JSON object"}
	}
	return &RequestError{http.StatusBadRequest, "the body is not valid JSON for this call: " + strings.TrimPrefix(err.Error(), "json: ")}
}

func isTooLarge(err error) bool {
	_, ok := errors.AsType[*http.MaxBytesError](err)
	return ok
}
