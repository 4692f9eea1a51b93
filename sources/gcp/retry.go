package gcp

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/googleapi"
)

// The client's default retry for list calls covers only 503 and 504; the
// provider retries every answer the Compute docs call transient.
var retryableStatus = map[int]bool{
	http.StatusTooManyRequests:     true,
	http.StatusInternalServerError: true,
	http.StatusBadGateway:          true,
	http.StatusServiceUnavailable:  true,
	http.StatusGatewayTimeout:      true,
}

// retryer is a gax.Retryer for one call: exponential backoff with jitter
// (gax.Backoff), at least the Retry-After the server asked for, capped at
// maxPause, for at most attempts tries in all.
type retryer struct {
	backoff  gax.Backoff
	attempts int
	maxPause time.Duration
	tries    int
}

func newRetryer(attempts int, maxPause time.Duration) *retryer {
	return &retryer{
		backoff:  gax.Backoff{Initial: min(200*time.Millisecond, maxPause), Max: maxPause, Multiplier: 2},
		attempts: attempts,
		maxPause: maxPause,
	}
}

// Retry implements gax.Retryer.
func (r *retryer) Retry(err error) (time.Duration, bool) {
	r.tries++
	if r.tries >= r.attempts || !retryable(err) {
		return 0, false
	}
	pause := r.backoff.Pause()
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		if ra := retryAfter(ge.Header); ra > pause {
			pause = ra
		}
	}
	return min(pause, r.maxPause), true
}

func retryable(err error) bool {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return retryableStatus[ge.Code]
	}
	var te *tokenError
	if errors.As(err, &te) {
		return false
	}
	// A connection dropped mid-answer; list calls are safe to repeat.
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// retryAfter reads a Retry-After header in seconds (the form Google
// sends); 0 when absent or in another form.
func retryAfter(h http.Header) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}
