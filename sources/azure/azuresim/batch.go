package azuresim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
)

// maxBatch is how many requests one /batch may carry, as ARM allows.
const maxBatch = 500

// serveBatch answers ARM's batch endpoint (POST /batch), which azure_rm
// uses to fetch instance views and network resources by the hundred:
//
//	{"requests": [{"name": "...", "httpMethod": "GET", "url": "https://.../subscriptions/...?api-version=..."}]}
//
// Each request is served as if sent alone, with the batch's token, and
// answered in order as {"name", "httpStatusCode", "headers", "content",
// "contentLength"}; the batch itself answers 200.
func (s *Server) serveBatch(q *request) {
	if !s.checkToken(q) {
		return
	}
	if q.R.Method != http.MethodPost {
		q.reject(http.StatusMethodNotAllowed, "MethodNotAllowed", "The requested resource does not support http method '"+q.R.Method+"'.")
		return
	}
	if q.R.URL.Query().Get("api-version") == "" {
		q.reject(http.StatusBadRequest, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
		return
	}
	var body struct {
		Requests []struct {
			Name       string `json:"name"`
			HTTPMethod string `json:"httpMethod"`
			URL        string `json:"url"`
		} `json:"requests"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(q.W, q.R.Body, 4<<20)).Decode(&body); err != nil {
		q.reject(http.StatusBadRequest, "InvalidRequestContent", "The request content was invalid and could not be deserialized: "+err.Error())
		return
	}
	if len(body.Requests) > maxBatch {
		q.reject(http.StatusBadRequest, "BatchRequestsLimitExceeded", "A batch may hold at most "+strconv.Itoa(maxBatch)+" requests.")
		return
	}
	type answer struct {
		Name          string            `json:"name,omitempty"`
		Status        int               `json:"httpStatusCode"`
		Headers       map[string]string `json:"headers"`
		Content       json.RawMessage   `json:"content,omitempty"`
		ContentLength int               `json:"contentLength"`
	}
	out := struct {
		Responses []answer `json:"responses"`
	}{Responses: make([]answer, 0, len(body.Requests))}
	for _, in := range body.Requests {
		rec := httptest.NewRecorder()
		u, err := url.Parse(in.URL)
		if err != nil || in.HTTPMethod != http.MethodGet {
			msg := `{"error":{"code":"InvalidBatchRequest","message":"Each batched request must be a GET of an absolute URL."}}`
			out.Responses = append(out.Responses, answer{Name: in.Name, Status: http.StatusBadRequest, Headers: map[string]string{},
				Content: json.RawMessage(msg), ContentLength: len(msg)})
			continue
		}
		sub, _ := http.NewRequestWithContext(q.R.Context(), http.MethodGet, u.RequestURI(), nil)
		sub.Host = q.R.Host
		sub.TLS = q.R.TLS
		sub.Header.Set("Authorization", q.R.Header.Get("Authorization"))
		s.ServeHTTP(rec, sub)
		a := answer{Name: in.Name, Status: rec.Code, Headers: map[string]string{}, ContentLength: rec.Body.Len()}
		if id := rec.Header().Get("x-ms-request-id"); id != "" {
			a.Headers["x-ms-request-id"] = id
		}
		if json.Valid(rec.Body.Bytes()) {
			a.Content = json.RawMessage(rec.Body.Bytes())
		}
		out.Responses = append(out.Responses, a)
	}
	b, err := json.Marshal(out)
	if err != nil {
		q.reject(http.StatusInternalServerError, "InternalServerError", err.Error())
		return
	}
	q.ok(b)
}
