package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/rosterhq/roster"
)

// statusOf maps error codes to HTTP statuses: the one table.
var statusOf = map[string]int{
	roster.EINVALID:      http.StatusBadRequest,
	roster.EUNAUTHORIZED: http.StatusUnauthorized,
	roster.EFORBIDDEN:    http.StatusForbidden,
	roster.ENOTFOUND:     http.StatusNotFound,
	roster.ECONFLICT:     http.StatusConflict,
	roster.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	roster.EMEDIATYPE:    http.StatusUnsupportedMediaType,
	roster.EMETHOD:       http.StatusMethodNotAllowed,
	roster.ETOOMANY:      http.StatusTooManyRequests,
	roster.EUNAVAILABLE:  http.StatusServiceUnavailable,
	roster.EFULL:         http.StatusInsufficientStorage,
	roster.EINTERNAL:     http.StatusInternalServerError,
}

// problemType is the URI naming a kind of problem.
func problemType(code string) string { return "urn:roster:problem:" + code }

// prepareErrorAnswer does what every error answer (problem+json, AWX's
// detail) starts with: a body over its limit becomes ETOOLARGE; err's
// code gives the status; internal errors are logged with their detail (at
// debug level when the client went away); and w gets the headers the
// status calls for. It returns the code, the status and err as answered.
func prepareErrorAnswer(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) (code string, status int, answered error) {
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		err = roster.Errorf(roster.ETOOLARGE, "the request body is larger than %d bytes", maxErr.Limit)
	}
	code = roster.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	switch {
	case code == roster.EINTERNAL && r.Context().Err() != nil && errors.Is(err, context.Canceled):
		// The client went away (Ansible or Prometheus timing out a read
		// that waited for syncs): nobody reads this answer.
		log.Debug("request canceled by the client", "method", r.Method, "path", loggedPath(r.URL.Path))
	case code == roster.EINTERNAL || code == roster.EFULL:
		log.Error("request failed", "method", r.Method, "path", loggedPath(r.URL.Path), "err", err)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="roster"`)
	}
	if secs := retryAfter(err); secs > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	return code, status, err
}

// writeProblem answers with err as application/problem+json. Internal
// errors are logged with their detail and answered with a generic message:
// their text may hold what a client must not see.
func writeProblem(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	code, status, err := prepareErrorAnswer(w, r, log, err)
	p := Problem{
		Type:   problemType(code),
		Title:  http.StatusText(status),
		Status: status,
		Code:   ProblemCode(code),
	}
	if msg := roster.ErrorMessage(err); msg != "" {
		p.Detail = &msg
	}
	if fields := roster.ErrorFields(err); len(fields) > 0 {
		fe := make([]FieldError, len(fields))
		for i, f := range fields {
			fe[i] = FieldError{Field: f.Field, Message: f.Message}
		}
		p.Errors = &fe
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(p)
}
