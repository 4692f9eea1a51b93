package gcpsim

import (
	"net/http"
	"strconv"
	"time"

	"github.com/rosterhq/roster/internal/cloudsim"
)

// apiError is an error answer of the Compute API:
//
//	{"error": {"code": 403, "message": "...", "errors": [{"message": "...",
//	 "domain": "global", "reason": "forbidden"}], "status": "PERMISSION_DENIED",
//	 "details": [...]}}
type apiError struct {
	code    int
	message string
	domain  string // errors[0].domain
	reason  string // errors[0].reason
	status  string // the google.rpc.Code name; "" = left out, as older Compute errors do
	info    string // ErrorInfo reason in details; "" = no details
	method  string // ErrorInfo metadata.method
	// retryAfter, when set, is sent as a Retry-After header (whole seconds).
	retryAfter time.Duration
	// errMessage, when set, is errors[0].message (else message).
	errMessage string
}

var (
	errUnauthenticated = &apiError{
		code:    http.StatusUnauthorized,
		message: "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
		domain:  "global", reason: "required", status: "UNAUTHENTICATED", info: "CREDENTIALS_MISSING",
	}
	errInvalidCredentials = &apiError{
		code:    http.StatusUnauthorized,
		message: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
		domain:  "global", reason: "authError", status: "UNAUTHENTICATED", info: "ACCESS_TOKEN_TYPE_UNSUPPORTED",
	}
	errServiceUnavailable = &apiError{
		code: http.StatusServiceUnavailable, message: "The service is currently unavailable.",
		domain: "global", reason: "backendError", status: "UNAVAILABLE",
	}
	errInternal = &apiError{
		code: http.StatusInternalServerError, message: "Internal error. Please try again or contact Google Support. (Code: '5C9E2A1F0B3D7')",
		domain: "global", reason: "backendError",
	}
)

func errInsufficientScopes(method string) *apiError {
	return &apiError{
		code: http.StatusForbidden, message: "Request had insufficient authentication scopes.",
		errMessage: "Insufficient Permission", domain: "global", reason: "insufficientPermissions",
		status: "PERMISSION_DENIED", info: "ACCESS_TOKEN_SCOPE_INSUFFICIENT", method: method,
	}
}

func errPermission(project string) *apiError {
	return &apiError{
		code: http.StatusForbidden, message: "Required 'compute.instances.list' permission for 'projects/" + project + "'",
		domain: "global", reason: "forbidden",
	}
}

func errNotFound(resource string) *apiError {
	return &apiError{
		code: http.StatusNotFound, message: "The resource '" + resource + "' was not found",
		domain: "global", reason: "notFound",
	}
}

func errInvalidField(field, value, why string) *apiError {
	msg := "Invalid value for field '" + field + "': '" + value + "'."
	if why != "" {
		msg += " " + why
	}
	return &apiError{code: http.StatusBadRequest, message: msg, domain: "global", reason: "invalid"}
}

func errThrottled(project string, retryAfter time.Duration) *apiError {
	return &apiError{
		code:       http.StatusTooManyRequests,
		message:    "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute' of service 'compute.googleapis.com' for consumer 'project:" + project + "'.",
		domain:     "usageLimits",
		reason:     "rateLimitExceeded",
		status:     "RESOURCE_EXHAUSTED",
		info:       "RATE_LIMIT_EXCEEDED",
		retryAfter: retryAfter,
	}
}

// writeComputeError answers x with e in the Compute API's error format.
func writeComputeError(x *cloudsim.Exchange, e *apiError) {
	jw := getJW()
	defer putJW(jw)
	b := jw.b
	b = append(b, `{"error":{"code":`...)
	b = strconv.AppendInt(b, int64(e.code), 10)
	b = append(b, `,"message":`...)
	b = googleJSON.Append(b, e.message)
	b = append(b, `,"errors":[{"message":`...)
	if e.errMessage != "" {
		b = googleJSON.Append(b, e.errMessage)
	} else {
		b = googleJSON.Append(b, e.message)
	}
	b = append(b, `,"domain":`...)
	b = googleJSON.Append(b, e.domain)
	b = append(b, `,"reason":`...)
	b = googleJSON.Append(b, e.reason)
	b = append(b, "}]"...)
	if e.status != "" {
		b = append(b, `,"status":`...)
		b = googleJSON.Append(b, e.status)
	}
	if e.info != "" {
		b = append(b, `,"details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":`...)
		b = googleJSON.Append(b, e.info)
		b = append(b, `,"domain":"googleapis.com","metadata":{"service":"compute.googleapis.com"`...)
		if e.method != "" {
			b = append(b, `,"method":`...)
			b = googleJSON.Append(b, "compute.v1.InstancesService."+e.method)
		}
		b = append(b, "}}]"...)
	}
	b = append(b, "}}"...)
	jw.b = b
	if e.retryAfter > 0 {
		x.W.Header().Set("Retry-After", strconv.Itoa(cloudsim.RetryAfterSeconds(e.retryAfter)))
	}
	x.Reply(e.code, "application/json; charset=UTF-8", b)
}
