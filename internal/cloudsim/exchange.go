package cloudsim

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// Exchange is what every simulator's request carries: the response
// writer, the request, when it came in and the status it was answered
// with. A simulator's own request type embeds it beside its protocol's
// state (the operation, the scope, a request id).
type Exchange struct {
	W      http.ResponseWriter
	R      *http.Request
	Start  time.Time
	Status int // 0 until answered
}

// NewExchange starts the exchange of r, now.
func NewExchange(w http.ResponseWriter, r *http.Request) Exchange {
	return Exchange{W: w, R: r, Start: time.Now()}
}

// Reply answers status with body of contentType, after the headers the
// caller has set.
func (x *Exchange) Reply(status int, contentType string, body []byte) {
	h := x.W.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	x.Status = status
	x.W.WriteHeader(status)
	_, _ = x.W.Write(body)
}

// Elapsed is the time since the request came in, for the log line.
func (x *Exchange) Elapsed() time.Duration { return time.Since(x.Start) }

// RequestID is a random version 4 UUID, the request id AWS and Azure
// stamp on every answer (not from the fleet's seed: ids differ per run,
// as the clouds' do).
func RequestID() string {
	a, b := rand.Uint64(), rand.Uint64()
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", a>>32, a>>16&0xffff, a&0xfff, b>>48&0x3fff|0x8000, b&0xffffffffffff)
}
