package metrics

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// UnmatchedRoute is the route label of requests that match no route (404s,
// 405s), so that scanning for paths cannot mint series.
const UnmatchedRoute = "unmatched"

// Router finds the route a request matches: its registered pattern, or ""
// for none. *http.ServeMux is one.
type Router interface {
	Handler(r *http.Request) (h http.Handler, pattern string)
}

// Middleware times every request next serves into
// roster_http_request_duration_seconds, labelled with its route, method
// (lower case; methods outside the standard ones as "unknown") and status
// code.
//
// The route is the pattern router matches the request to, such as
// "GET /api/v1/inventories/{inventory}/hosts", asked before next runs, so
// that a request refused by middleware in front of the mux (a missing token)
// still counts under its route. With a nil router it is the pattern
// http.ServeMux records in r.Pattern, which next must then be, or reach
// with the same *http.Request. Requests no route matches are labelled
// UnmatchedRoute: a label value is never a raw path.
func (m *Metrics) Middleware(router Router, next http.Handler) http.Handler {
	timed := promhttp.InstrumentHandlerDuration(m.httpDuration,
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r)
			if slot := r.Context().Value(routeKey{}).(*string); *slot == "" && r.Method != http.MethodConnect {
				*slot = r.Pattern
			}
		}),
		promhttp.WithLabelFromCtx("route", func(ctx context.Context) string {
			if route := *ctx.Value(routeKey{}).(*string); route != "" {
				return route
			}
			return UnmatchedRoute
		}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route := new(string)
		// ServeMux gives a CONNECT request it redirects the request's own
		// path as its pattern: CONNECT is never matched.
		if router != nil && r.Method != http.MethodConnect {
			_, *route = router.Handler(r)
		}
		timed.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), routeKey{}, route)))
	})
}

type routeKey struct{}
