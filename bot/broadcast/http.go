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
	h := func(pattern string, f func(w http.ResponseWriter, r *http.Request) error) {
		mux.Handle(pattern, bot.StaffOnly(gate, s.log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := f(w, r); err != nil {
				s.fail(w, r, err)
			}
		})))
	}
	h("POST /api/broadcasts", func(w http.ResponseWriter, r *http.Request) error {
		var spec Spec
		if err := bot.DecodeJSON(w, r, &spec); err != nil {
			return err
		}
		id, err := s.Create(r.Context(), spec)
		if err != nil {
			return err
		}
		return reply(w, http.StatusCreated, map[string]string{"id": id})
	})
	h("GET /api/broadcasts", func(w http.ResponseWriter, r *http.Request) error {
		list, err := s.List(r.Context(), 100)
		if err != nil {
			return err
		}
		return reply(w, http.StatusOK, list)
	})
	h("GET /api/broadcasts/{id}", func(w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		if !validID(id) {
			return ErrNotFound
		}
		st, err := s.Get(r.Context(), id)
		if err != nil {
			return err
		}
		return reply(w, http.StatusOK, st)
	})
	h("POST /api/broadcasts/{id}/{action}", func(w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		if !validID(id) {
			return ErrNotFound
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
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		st, err := s.Get(r.Context(), id)
		if err != nil {
			return err
		}
		return reply(w, http.StatusOK, st)
	})
	h("GET /api/reminders", func(w http.ResponseWriter, r *http.Request) error {
		rem, err := s.RemindersStatus(r.Context())
		if err != nil {
			return err
		}
		return reply(w, http.StatusOK, rem)
	})
	h("PUT /api/reminders", func(w http.ResponseWriter, r *http.Request) error {
		var req struct {
			Every    string    `json:"every"`
			Audience Audience  `json:"audience"`
			StartAt  time.Time `json:"start_at"`
		}
		if err := bot.DecodeJSON(w, r, &req); err != nil {
			return err
		}
		rem, err := s.StartReminders(r.Context(), req.Every, req.Audience, req.StartAt)
		if err != nil {
			return err
		}
		return reply(w, http.StatusOK, rem)
	})
	h("DELETE /api/reminders", func(w http.ResponseWriter, r *http.Request) error {
		if err := s.StopReminders(r.Context()); err != nil {
			return err
		}
		rem, err := s.RemindersStatus(r.Context())
		if err != nil {
			return err
		}
		return reply(w, http.StatusOK, rem)
	})
	h("POST /api/jobs", func(w http.ResponseWriter, r *http.Request) error {
		var j Job
		if err := bot.DecodeJSON(w, r, &j); err != nil {
			return err
		}
		j, err := s.PostJob(r.Context(), j)
		if err != nil {
			return err
		}
		return reply(w, http.StatusCreated, j)
	})
	h("GET /api/jobs", func(w http.ResponseWriter, r *http.Request) error {
		jobs, err := s.ListJobs(r.Context())
		if err != nil {
			return err
		}
		return reply(w, http.StatusOK, jobs)
	})
	h("GET /api/jobs/lists", func(w http.ResponseWriter, r *http.Request) error {
		return reply(w, http.StatusOK, Lists(s.rt.Content().Def))
	})
	h("GET /api/jobs/{id}", func(w http.ResponseWriter, r *http.Request) error {
		j, err := s.GetJob(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		return reply(w, http.StatusOK, j)
	})
	h("DELETE /api/jobs/{id}", func(w http.ResponseWriter, r *http.Request) error {
		if err := s.DeleteJob(r.Context(), r.PathValue("id")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	h("POST /api/jobs/digest", func(w http.ResponseWriter, r *http.Request) error {
		id, err := s.SendDigest(r.Context())
		if err != nil {
			return err
		}
		return reply(w, http.StatusOK, map[string]string{"id": id})
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
