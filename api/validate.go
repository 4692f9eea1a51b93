package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/rosterhq/roster"
)

// validator checks requests against openapi.yaml before a handler sees
// them, so that a wrong type or an unknown field is a 400 naming the field.
type validator struct {
	router routers.Router
}

func newValidator() (*validator, error) {
	spec, err := GetSwagger()
	if err != nil {
		return nil, fmt.Errorf("load embedded OpenAPI spec: %w", err)
	}
	spec.Servers = nil // match any host the server is reached at
	router, err := legacy.NewRouter(spec)
	if err != nil {
		return nil, fmt.Errorf("route OpenAPI spec: %w", err)
	}
	return &validator{router: router}, nil
}

func (v *validator) middleware(authorize func(context.Context, string, map[string]string) error, log func(http.ResponseWriter, *http.Request, error)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			route, params, err := v.findRoute(r)
			if err != nil {
				next.ServeHTTP(w, r) // unknown route or method: the mux answers
				return
			}
			// Who may call the operation is settled before what they sent:
			// a caller without the role gets 403, not a lesson in the schema.
			op := operationName(route.Operation.OperationID)
			if secretAnswers[op] {
				// Set first: refusals of these are kept by no cache either.
				w.Header().Set("Cache-Control", "no-store")
			}
			if err := authorize(r.Context(), op, params); err != nil {
				log(w, r, err)
				return
			}
			// A body sent to an operation that takes none is not read,
			// so it cannot be malformed: openapi.yaml promises those
			// operations no 400 for it.
			if route.Operation.RequestBody != nil {
				if err := checkContentType(r, route.Operation.RequestBody.Value); err != nil {
					log(w, r, err)
					return
				}
				if err := checkJSONBody(r); err != nil {
					log(w, r, err)
					return
				}
			}
			in := &openapi3filter.RequestValidationInput{
				Request:    r,
				PathParams: params,
				Route:      route,
				Options: &openapi3filter.Options{
					AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
					MultiError:         true,
				},
			}
			if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil {
				log(w, r, requestError(err))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// findRoute finds r's operation and path parameters as the ServeMux does.
// The mux splits the escaped path into segments and unescapes each, so
// that "/api/v1/sources/prod%2Faws-prod" names the source "prod/aws-prod";
// kin-openapi's router splits the unescaped path, where that is two
// segments and no route: the request would then reach its handler
// without being validated. So the router is given a path in which a "/"
// inside a segment stays escaped, and the parameters are unescaped.
func (v *validator) findRoute(r *http.Request) (*routers.Route, map[string]string, error) {
	if r.URL.RawPath == "" { // no segment holds an escaped "/"
		return v.router.FindRoute(r)
	}
	segs := strings.Split(r.URL.EscapedPath(), "/")
	for i, seg := range segs {
		if u, err := url.PathUnescape(seg); err == nil {
			seg = u
		}
		segs[i] = segmentEscaper.Replace(seg)
	}
	u := *r.URL
	u.Path, u.RawPath = strings.Join(segs, "/"), ""
	routed := *r
	routed.URL = &u
	route, params, err := v.router.FindRoute(&routed)
	for name, value := range params {
		if u, uerr := url.PathUnescape(value); uerr == nil {
			params[name] = u
		}
	}
	return route, params, err
}

// segmentEscaper escapes what would change a path segment's meaning.
var segmentEscaper = strings.NewReplacer("%", "%25", "/", "%2F")

// checkContentType answers 415, naming the header, to a body whose
// Content-Type the operation does not take (all take JSON in UTF-8), and
// writes the one it takes the way the generated handlers match it.
//
// A body sent without a Content-Type is read as JSON, when the request
// carries a bearer token. That is safe from cross-site request forgery
// because such a request cannot be a browser's on another site's behalf:
// a page can make a browser send a body cross-origin without a CORS
// preflight (a form, or fetch in no-cors mode, which may send a body with
// no Content-Type at all), but not with an Authorization header, which is
// not CORS-safelisted and which browsers never add by themselves for a
// Bearer scheme (unlike cookies, Basic credentials or TLS client
// certificates); and Roster answers no preflight (it sends no
// Access-Control-Allow-* header). Every operation that takes a body
// needs that bearer token (the provisioning callback, which takes none,
// takes no body either: a test checks both). Should a credential a
// browser sends by itself ever be accepted, this rule still holds, as it
// asks for the Bearer header itself, not for an authenticated caller.
func checkContentType(r *http.Request, body *openapi3.RequestBody) error {
	var accepted []string
	for mt := range body.Content {
		accepted = append(accepted, mt)
	}
	slices.Sort(accepted)
	send := strings.Join(accepted, " or ")
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		if scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " "); strings.EqualFold(scheme, "Bearer") && body.Content["application/json"] != nil {
			r.Header.Set("Content-Type", "application/json")
			return nil
		}
		return unsupportedMediaType("is missing: send Content-Type: " + send)
	}
	mt, params, err := mime.ParseMediaType(ct)
	switch {
	case err != nil:
		return unsupportedMediaType(fmt.Sprintf("%q cannot be parsed (%v): send Content-Type: %s", ct, err, send))
	case body.Content[mt] == nil:
		why := fmt.Sprintf("%s is not accepted here: send Content-Type: %s", mt, send)
		if mt == "application/x-www-form-urlencoded" {
			why += " (curl -d sends application/x-www-form-urlencoded unless given -H 'Content-Type: application/json', or --json)"
		}
		return unsupportedMediaType(why)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return unsupportedMediaType(fmt.Sprintf("charset %q is not accepted: JSON is sent in UTF-8 (charset=utf-8, or no charset)", cs))
	}
	r.Header.Set("Content-Type", mime.FormatMediaType(mt, params))
	return nil
}

func unsupportedMediaType(why string) error {
	return &roster.Error{Code: roster.EMEDIATYPE, Message: "the request body's type is not one this operation takes",
		Fields: []roster.FieldError{{Field: "Content-Type", Message: why}}}
}

// checkJSONBody refuses a JSON body that is not exactly one JSON value
// (cut short, malformed, or followed by more), saying why: decoders
// downstream read the first value and ignore the rest. The body is read
// whole (the server bounds it) and put back for them.
func checkJSONBody(r *http.Request) error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return nil
	}
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return err // answered as such
	case err != nil:
		return &roster.Error{Code: roster.EINVALID, Message: "the request body could not be read",
			Fields: []roster.FieldError{{Field: "body", Message: "it ends before its Content-Length, or the client stopped sending it"}}}
	}
	if len(bytes.TrimSpace(body)) == 0 || json.Valid(body) {
		return nil // an empty body: the schema says whether one is required
	}
	// Not one JSON value: decode it to say why.
	dec := json.NewDecoder(bytes.NewReader(body))
	var v json.RawMessage
	why := ""
	if err := dec.Decode(&v); err != nil {
		why = decodeReason(err)
	} else { // one value, then more
		why = fmt.Sprintf("invalid JSON at byte %d: more after the end of the JSON value", dec.InputOffset()+1)
	}
	return &roster.Error{Code: roster.EINVALID, Message: "the request does not match the API",
		Fields: []roster.FieldError{{Field: "body", Message: "cannot be parsed: " + why}}}
}

// requestError turns kin-openapi's validation errors into field errors.
func requestError(err error) error {
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return err
	}
	var fields roster.FieldErrors
	collectRequestErrors(err, &fields)
	if len(fields) == 0 {
		fields.Add("", "%s", err.Error())
	}
	return &roster.Error{Code: roster.EINVALID, Message: "the request does not match the API", Fields: fields}
}

func collectRequestErrors(err error, fields *roster.FieldErrors) {
	if reqErr, ok := err.(*openapi3filter.RequestError); ok {
		var inner openapi3.MultiError
		if errors.As(reqErr.Err, &inner) {
			for _, e := range inner {
				collectOne(reqErr, e, fields)
			}
			return
		}
		collectOne(reqErr, reqErr.Err, fields)
		return
	}
	if multi, ok := err.(openapi3.MultiError); ok {
		for _, e := range multi {
			collectRequestErrors(e, fields)
		}
		return
	}
	var reqErr *openapi3filter.RequestError
	if errors.As(err, &reqErr) {
		collectRequestErrors(reqErr, fields)
		return
	}
	fields.Add("", "%s", err.Error())
}

func collectOne(reqErr *openapi3filter.RequestError, err error, fields *roster.FieldErrors) {
	var schemaErr *openapi3.SchemaError
	var parseErr *openapi3filter.ParseError
	switch {
	case errors.As(err, &schemaErr):
		field := pointerToField(schemaErr.JSONPointer())
		msg := schemaErr.Reason
		if strings.HasPrefix(msg, "property ") && strings.HasSuffix(msg, " is unsupported") {
			name := strings.TrimSuffix(strings.TrimPrefix(msg, "property "), " is unsupported")
			name = strings.Trim(name, `"`)
			field = joinField(field, name)
			msg = "unknown field"
		}
		if strings.HasPrefix(msg, "property ") && strings.HasSuffix(msg, " is missing") {
			name := strings.Trim(strings.TrimSuffix(strings.TrimPrefix(msg, "property "), " is missing"), `"`)
			if !strings.HasSuffix(field, name) {
				field = joinField(field, name)
			}
			msg = "is required"
		}
		switch {
		case reqErr.Parameter != nil:
			field = reqErr.Parameter.Name
		case field == "":
			field = "body"
		}
		fields.Add(field, "%s", msg)
	case errors.As(err, &parseErr):
		name := "body"
		if reqErr.Parameter != nil {
			name = reqErr.Parameter.Name
		}
		fields.Add(name, "cannot be parsed: %s", parseReason(parseErr))
	case reqErr.Parameter != nil:
		fields.Add(reqErr.Parameter.Name, "%s", reasonOf(reqErr, err))
	default:
		fields.Add("body", "%s", reasonOf(reqErr, err))
	}
}

// parseReason says why a parameter could not be parsed: its reason, else
// its cause's (JSON bodies are checked before, by checkJSONBody).
func parseReason(pe *openapi3filter.ParseError) string {
	switch {
	case pe.Reason != "":
		return pe.Reason
	case pe.Cause != nil:
		return decodeReason(pe.Cause)
	}
	return "it is not what its Content-Type says"
}

// decodeReason words a decoder's error for people.
func decodeReason(err error) string {
	var syntax *json.SyntaxError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "the JSON ends before it is complete"
	case errors.As(err, &syntax):
		return fmt.Sprintf("invalid JSON at byte %d: %s", syntax.Offset, syntax.Error())
	}
	return err.Error()
}

func reasonOf(reqErr *openapi3filter.RequestError, err error) string {
	if reqErr.Reason != "" {
		return reqErr.Reason
	}
	if err != nil {
		return err.Error()
	}
	return "invalid"
}

// pointerToField turns ["config", "regions", "1"] into "config.regions[1]".
func pointerToField(p []string) string {
	var b strings.Builder
	for _, part := range p {
		if _, err := strconv.Atoi(part); err == nil && b.Len() > 0 {
			b.WriteString("[" + part + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(part)
	}
	return b.String()
}

func joinField(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

// operationName turns an OpenAPI operationId into the generated method
// name the authorization table uses ("getInventory" → "GetInventory").
func operationName(id string) string {
	if id == "" {
		return ""
	}
	return strings.ToUpper(id[:1]) + id[1:]
}
