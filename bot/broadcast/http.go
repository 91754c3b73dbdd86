package broadcast

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/lifeline-org/lifeline/bot"
)

// Register adds the staff API to mux, every route behind "Authorization:
// Bearer <token>" that gate accepts (bot.StaffOnly: a missing or wrong
// token gets 401; the token's account is the actor in the audit log). A body is read by bot.DecodeJSON: it
// must be "Content-Type: application/json" (else 415) and one JSON object
// of at most 64 KiB with only the fields below (else 400); a refused
// request does nothing.
//
//	POST   /api/broadcasts              {"text": {"en": …}} or {"message_id": …}, "audience", "send_at", "urgent" → 201 {"id"}
//	GET    /api/broadcasts              the latest broadcasts
//	GET    /api/broadcasts/{id}         {"id","status","total","sent","skipped","failed",…}
//	POST   /api/broadcasts/{id}/pause   (and /resume, /cancel)
//	GET    /api/reminders               the reminder series
//	PUT    /api/reminders               {"every": "monthly", "audience": …, "start_at": …} switches it on
//	DELETE /api/reminders               switches it off
//	POST   /api/jobs                    a job with the fair-recruitment checks → 201 the job
//	GET    /api/jobs                    the jobs, newest first
//	GET    /api/jobs/lists              the sectors and locations people choose from
//	GET    /api/jobs/{id}               one job (by id or SMS code)
//	DELETE /api/jobs/{id}               takes a job down
//	POST   /api/jobs/digest             sends the weekly digest now
func (s *Service) Register(mux *http.ServeMux, gate bot.Gate) {
	// h adds a route whose f returns what to answer with status (nothing
	// for 204), or the error fail answers instead.
	h := func(pattern string, status int, f func(w http.ResponseWriter, r *http.Request) (any, error)) {
		mux.Handle(pattern, bot.StaffOnly(gate, s.log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v, err := f(w, r)
			if err == nil && status == http.StatusNoContent {
				w.WriteHeader(status)
			} else if err == nil {
				err = reply(w, status, v)
			}
			if err != nil {
				s.fail(w, r, err)
			}
		})))
	}
	h("POST /api/broadcasts", http.StatusCreated, func(w http.ResponseWriter, r *http.Request) (any, error) {
		var spec Spec
		if err := bot.DecodeJSON(w, r, &spec); err != nil {
			return nil, err
		}
		id, err := s.Create(r.Context(), spec)
		return map[string]string{"id": id}, err
	})
	h("GET /api/broadcasts", http.StatusOK, func(w http.ResponseWriter, r *http.Request) (any, error) {
		return s.List(r.Context(), 100)
	})
	h("GET /api/broadcasts/{id}", http.StatusOK, func(w http.ResponseWriter, r *http.Request) (any, error) {
		id := r.PathValue("id")
		if !validID(id) {
			return nil, ErrNotFound
		}
		return s.Get(r.Context(), id)
	})
	h("POST /api/broadcasts/{id}/{action}", http.StatusOK, func(w http.ResponseWriter, r *http.Request) (any, error) {
		id := r.PathValue("id")
		if !validID(id) {
			return nil, ErrNotFound
		}
		var err error
		switch r.PathValue("action") {
		case "pause":
			err = s.Pause(r.Context(), id)
		case "resume":
			err = s.Resume(r.Context(), id)
		case "cancel":
			err = s.Cancel(r.Context(), id)
		default:
			return nil, ErrNotFound
		}
		if err != nil {
			return nil, err
		}
		return s.Get(r.Context(), id)
	})
	h("GET /api/reminders", http.StatusOK, func(w http.ResponseWriter, r *http.Request) (any, error) {
		return s.RemindersStatus(r.Context())
	})
	h("PUT /api/reminders", http.StatusOK, func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req struct {
			Every    string    `json:"every"`
			Audience Audience  `json:"audience"`
			StartAt  time.Time `json:"start_at"`
		}
		if err := bot.DecodeJSON(w, r, &req); err != nil {
			return nil, err
		}
		return s.StartReminders(r.Context(), req.Every, req.Audience, req.StartAt)
	})
	h("DELETE /api/reminders", http.StatusOK, func(w http.ResponseWriter, r *http.Request) (any, error) {
		if err := s.StopReminders(r.Context()); err != nil {
			return nil, err
		}
		return s.RemindersStatus(r.Context())
	})
	h("POST /api/jobs", http.StatusCreated, func(w http.ResponseWriter, r *http.Request) (any, error) {
		var j Job
		if err := bot.DecodeJSON(w, r, &j); err != nil {
			return nil, err
		}
		return s.PostJob(r.Context(), j)
	})
	h("GET /api/jobs", http.StatusOK, func(w http.ResponseWriter, r *http.Request) (any, error) {
		return s.ListJobs(r.Context())
	})
	h("GET /api/jobs/lists", http.StatusOK, func(w http.ResponseWriter, r *http.Request) (any, error) {
		return Lists(s.rt.Content().Def), nil
	})
	h("GET /api/jobs/{id}", http.StatusOK, func(w http.ResponseWriter, r *http.Request) (any, error) {
		return s.GetJob(r.Context(), r.PathValue("id"))
	})
	h("DELETE /api/jobs/{id}", http.StatusNoContent, func(w http.ResponseWriter, r *http.Request) (any, error) {
		return nil, s.DeleteJob(r.Context(), r.PathValue("id"))
	})
	h("POST /api/jobs/digest", http.StatusOK, func(w http.ResponseWriter, r *http.Request) (any, error) {
		id, err := s.SendDigest(r.Context())
		return map[string]string{"id": id}, err
	})
}

func reply(w http.ResponseWriter, code int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	return json.NewEncoder(w).Encode(v)
}

func (s *Service) fail(w http.ResponseWriter, r *http.Request, err error) {
	var inv *InvalidError
	var bad *bot.RequestError
	switch {
	case errors.As(err, &bad):
		_ = reply(w, bad.Status, map[string]string{"error": bad.Reason})
	case errors.As(err, &inv):
		body := map[string]any{"error": inv.Reason}
		if len(inv.Failed) > 0 {
			body["failed_checks"] = inv.Failed
		}
		_ = reply(w, http.StatusBadRequest, body)
	case errors.Is(err, ErrNotFound):
		_ = reply(w, http.StatusNotFound, map[string]string{"error": "not found"})
	case errors.Is(err, ErrState):
		_ = reply(w, http.StatusConflict, map[string]string{"error": err.Error()})
	default:
		s.log.Error("staff request failed", "event", "staff_request_failed", "path", r.URL.Path, "error", err)
		_ = reply(w, http.StatusInternalServerError, map[string]string{"error": "internal error; see the service's logs"})
	}
}
