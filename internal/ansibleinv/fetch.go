package ansibleinv

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/rosterhq/roster/internal/client"
)

// maxAttempts bounds the requests of one Fetch when Roster answers 429 or
// 503 with Retry-After; Config.Timeout bounds their total time.
const maxAttempts = 5

// fetchError is why the inventory could not be read: one line naming
// the server (without credentials), the inventory and what happened.
type fetchError struct {
	server, inventory, host string
	problem                 string
}

func (e *fetchError) Error() string {
	what := fmt.Sprintf("inventory %q", e.inventory)
	if e.host != "" {
		what = fmt.Sprintf("host %q of inventory %q", e.host, e.inventory)
	}
	return fmt.Sprintf("read %s from %s: %s", what, e.server, e.problem)
}

// Fetch writes the inventory (or, with host, one host's vars) to w. It
// writes nothing unless the whole document arrived and has the shape
// Ansible's script plugin reads, so Ansible never gets a partial or
// foreign document. While it arrives the document is checked and kept
// in a temporary file, so memory stays small however large it is.
// A zero Timeout or MaxSize is the default.
func Fetch(ctx context.Context, c Config, host string, w io.Writer) error {
	if c.Timeout <= 0 {
		c.Timeout = defaultTimeout
	}
	if c.MaxSize <= 0 {
		c.MaxSize = defaultMaxSize
	}
	fail := func(problem string) error {
		return &fetchError{server: displayURL(c.URL), inventory: c.Inventory, host: host,
			problem: oneLine(redact(problem, c.Token.Reveal()), 400)}
	}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	if err := client.CheckURL(c.URL); err != nil {
		return fail(err.Error())
	}
	transport, err := client.Transport(c.TLS())
	if err != nil {
		return fail(err.Error())
	}
	// Compression is asked for (and undone) here, not by the transport,
	// which would ask for it always: on loopback, gunzipping costs more
	// than the bytes it saves (BENCHMARKS.md, "Serving --list").
	transport.DisableCompression = true
	defer transport.CloseIdleConnections()
	gzipped := askGzip(c)

	// A --list read keeps the document in the cache, and offers the kept
	// one's ETag: on 304 it is printed as it is.
	cacheDir := c.CacheDir
	if host != "" {
		cacheDir = ""
	}
	var entryPath string
	var kept *cached
	if cacheDir != "" {
		entryPath = cacheEntryPath(cacheDir, c)
		if kept = openCached(entryPath); kept != nil {
			defer kept.file.Close()
		}
	}
	ifNoneMatch := ""
	if kept != nil {
		ifNoneMatch = kept.ETag
	}

	resp, attempts, err := get(ctx, client.HTTPClient(transport), c, host, ifNoneMatch, gzipped)
	if err != nil {
		return fail(describeTransportError(ctx, c, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified && kept != nil {
		if err := kept.writeTo(w); err != nil {
			return fmt.Errorf("write the inventory: %w", err)
		}
		return nil
	}
	if resp.StatusCode != http.StatusOK {
		return fail(describeStatus(resp, host, attempts))
	}

	f, inCache, err := spoolFile(cacheDir)
	if err != nil {
		return fail(fmt.Sprintf("create a temporary file for the document: %v", err))
	}
	defer os.Remove(f.Name()) // gone already once it is an entry, or unlinked
	defer f.Close()
	// The spool, the check, the limit and the cache see the document as
	// it is, decoded.
	body, err := decodedBody(resp)
	if err != nil {
		return fail(err.Error())
	}
	sp := &spool{body: body, file: f, max: c.MaxSize}
	if inCache {
		sp.crc = crc32.New(castagnoli)
	}
	sc := newScanner(sp)
	if host == "" {
		err = checkList(sc)
	} else {
		err = checkHostVars(sc)
	}
	if err != nil {
		return fail(describeBodyError(ctx, c, sp, notJSONType(resp), host != "", err))
	}
	if etag := resp.Header.Get("ETag"); inCache && etag != "" && !strings.HasPrefix(etag, "W/") {
		// A cache that cannot be written is no cache: the document is
		// printed all the same.
		store(f, entryPath, etag, sp.n, sp.crc.Sum32())
	}
	if _, err := io.Copy(w, io.NewSectionReader(f, 0, sp.n)); err != nil {
		return fmt.Errorf("write the inventory: %w", err)
	}
	return nil
}

// requestURL is the API's URL for the inventory or one host's vars.
func requestURL(c Config, host string) string {
	q := url.Values{}
	if host != "" {
		q.Set("host", host)
	}
	if c.IncludeDisabled {
		q.Set("all", "true")
	}
	if c.MaxAge != nil {
		q.Set("max_age", strconv.FormatInt(int64((*c.MaxAge+time.Second-1)/time.Second), 10))
	}
	u := strings.TrimRight(c.URL, "/") + "/api/v1/inventories/" + url.PathEscape(c.Inventory) + "/ansible"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// get sends the request, again after a 429 or 503 that says when to
// retry, while the wait fits in ctx's deadline. It returns the last
// answer and the number of requests sent.
// ifNoneMatch, when not "", is the ETag of the document the client keeps;
// gzipped asks for the document gzip-encoded.
func get(ctx context.Context, hc *http.Client, c Config, host, ifNoneMatch string, gzipped bool) (*http.Response, int, error) {
	u := requestURL(c, host)
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, attempt, err
		}
		req.Header.Set("Authorization", "Bearer "+c.Token.Reveal())
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", "roster-inventory")
		if ifNoneMatch != "" {
			req.Header.Set("If-None-Match", ifNoneMatch)
		}
		if gzipped {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, attempt, err
		}
		wait, ok := retryAfter(resp)
		deadline, _ := ctx.Deadline()
		if !ok || attempt == maxAttempts || time.Now().Add(wait).After(deadline) {
			return resp, attempt, nil
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, attempt, ctx.Err()
		case <-t.C:
		}
	}
}

// askGzip reports whether to ask for the document gzip-encoded: as
// c.Gzip says, and by default unless Roster's host is loopback (an IP
// address or "localhost"; a name is not looked up for this).
func askGzip(c Config) bool {
	switch c.Gzip {
	case GzipOn:
		return true
	case GzipOff:
		return false
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return false
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err != nil || !ip.Unmap().IsLoopback()
}

// encodingError is an answer's body that cannot be decoded.
type encodingError struct{ err error }

func (e *encodingError) Error() string {
	return "the gzip-encoded document is damaged: " + e.err.Error()
}
func (e *encodingError) Unwrap() error { return e.err }

// decodedBody is resp's body decoded: as it is, or gunzipped (streamed)
// when it is gzip-encoded. Another encoding was not asked for.
func decodedBody(resp *http.Response) (io.Reader, error) {
	switch ce := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding"))); ce {
	case "", "identity":
		return resp.Body, nil
	case "gzip", "x-gzip":
		return &gunzip{body: resp.Body}, nil
	default:
		return nil, fmt.Errorf("the answer is encoded as %q, which was not asked for", oneLine(ce, 40))
	}
}

// gunzip decodes a gzip-encoded body, reading its header on the first
// Read (so that an empty or foreign body is a body error, described with
// the others). Its errors are *encodingError but for the body's own.
type gunzip struct {
	body io.Reader
	zr   *gzip.Reader
}

func (g *gunzip) Read(p []byte) (int, error) {
	if g.zr == nil {
		cr := &countingReader{r: g.body}
		zr, err := gzip.NewReader(cr)
		if err != nil {
			if cr.err != nil && cr.err != io.EOF {
				return 0, cr.err // the body's failure
			}
			if cr.n == 0 {
				return 0, io.EOF // an empty answer
			}
			return 0, &encodingError{err}
		}
		g.zr, g.body = zr, cr
	}
	n, err := g.zr.Read(p)
	if err != nil && err != io.EOF {
		if cr := g.body.(*countingReader); cr.err == nil || cr.err == io.EOF {
			err = &encodingError{err}
		}
	}
	return n, err
}

// countingReader remembers how much it read, and its reader's error.
type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil {
		c.err = err
	}
	return n, err
}

// retryAfter is how long a 429 or 503 answer asks the client to wait.
func retryAfter(resp *http.Response) (time.Duration, bool) {
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
		return 0, false
	}
	v := resp.Header.Get("Retry-After")
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

// redirectError is a redirect that was not followed.
type redirectError struct{ to string }

func (e *redirectError) Error() string { return "redirected to " + e.to }

// sameOrigin follows a redirect only to the same scheme, host and port:
// the request carries the API token, which must not go to another
// server (nor from https to http).
func sameOrigin(req *http.Request, via []*http.Request) error {
	first := via[0].URL
	if req.URL.Scheme != first.Scheme || req.URL.Host != first.Host {
		return &redirectError{to: displayURL(req.URL.String())}
	}
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	return nil
}

func describeTransportError(ctx context.Context, c Config, err error) string {
	var redirect *client.RedirectError
	var plain *client.PlainHTTPError
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var urlErr *url.Error
	switch {
	case errors.As(err, &redirect):
		return fmt.Sprintf("%v, not followed so that the API token is not sent to another server: if that is Roster's address, set ROSTER_URL to it", redirect)
	case errors.As(err, &plain):
		return plain.Error()
	case client.TLSHint(err) != "":
		return fmt.Sprintf("%s (%v)", client.TLSHint(err), innerError(err))
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Sprintf("no answer within %v (ROSTER_TIMEOUT)", c.Timeout)
	case ctx.Err() != nil:
		return "interrupted"
	case errors.As(err, &dnsErr):
		reason := dnsErr.Err
		if dnsErr.IsNotFound {
			reason = "no such host"
		}
		return fmt.Sprintf("cannot look up %s: %s", dnsErr.Name, reason)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused: is Roster running there?"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "the server closed the connection without answering"
	case errors.As(err, &opErr):
		return opErr.Err.Error()
	case errors.As(err, &urlErr):
		return urlErr.Err.Error() // never urlErr itself: it shows the URL
	}
	return err.Error()
}

// innerError is err without the *url.Error around it, which shows the
// URL (and its query).
func innerError(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return urlErr.Err
	}
	return err
}

// describeStatus says what an answer other than 200 means.
func describeStatus(resp *http.Response, host string, attempts int) string {
	parts := []string{fmt.Sprintf("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))}
	detail, isProblem := problemDetail(resp)
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		parts = append(parts, "the API token was refused")
	case http.StatusForbidden:
		parts = append(parts, "the API token may not read this inventory")
	case http.StatusNotFound:
		switch {
		case !isProblem:
			parts = append(parts, "no Roster API there: is ROSTER_URL Roster's base URL?")
		case host != "":
			parts = append(parts, "no such host, or no such inventory")
		default:
			parts = append(parts, "no such inventory")
		}
	}
	if detail != "" {
		parts = append(parts, detail)
	}
	msg := strings.Join(parts, ": ")
	if wait, ok := retryAfter(resp); ok {
		msg += fmt.Sprintf(" (Roster asked to retry after %v", wait)
		if attempts > 1 {
			msg += fmt.Sprintf("; tried %d times", attempts)
		}
		msg += ")"
	}
	return msg
}

// problemDetail is what an error answer says: the detail of a problem
// (RFC 9457), else the first line of a short plain-text body. isProblem
// tells whether the answer was a problem, which Roster always sends.
func problemDetail(resp *http.Response) (detail string, isProblem bool) {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch {
	case isJSON(mt):
		var p struct {
			Title  string `json:"title"`
			Detail string `json:"detail"`
		}
		if json.Unmarshal(body, &p) != nil || (p.Detail == "" && p.Title == "") {
			return "", false
		}
		if p.Detail == "" {
			p.Detail = p.Title
		}
		return p.Detail, true
	case mt == "text/plain":
		line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
		return line, false
	}
	return "", false
}

// notJSONType names the Content-Type of an answer that is not JSON and
// says so ("" for JSON or none): a proxy's or a login page, most often.
func notJSONType(resp *http.Response) string {
	ct := resp.Header.Get("Content-Type")
	if ct == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(ct)
	switch {
	case err != nil:
		return oneLine(ct, 80)
	case isJSON(mt):
		return ""
	}
	return mt
}

func isJSON(mediaType string) bool {
	return mediaType == "application/json" || strings.HasSuffix(mediaType, "+json")
}

// errTooLarge is a document over Config.MaxSize.
var errTooLarge = errors.New("document too large")

// spool reads the answer's body for the scanner, keeping a copy in a
// file and telling a failure of the body apart from one of the file.
// (The scanner reads in large blocks: the file needs no buffer.)
type spool struct {
	body     io.Reader
	file     io.Writer
	crc      hash.Hash32 // of the bytes read, when not nil
	max, n   int64       // the limit and the bytes read
	readErr  error       // the body's failure (not io.EOF), or errTooLarge
	writeErr error
}

func (s *spool) Read(p []byte) (int, error) {
	if rest := s.max - s.n + 1; int64(len(p)) > rest {
		p = p[:rest] // one byte past the limit tells that it is passed
	}
	k, err := s.body.Read(p)
	s.n += int64(k)
	if s.n > s.max {
		s.readErr = errTooLarge
		return 0, errTooLarge
	}
	if k > 0 {
		if _, werr := s.file.Write(p[:k]); werr != nil {
			s.writeErr = werr
			return 0, werr
		}
		if s.crc != nil {
			s.crc.Write(p[:k])
		}
	}
	if err != nil && err != io.EOF {
		s.readErr = err
	}
	return k, err
}

// describeBodyError says why the document was refused.
// contentType is the answer's Content-Type if it is not JSON; hostVars
// tells a --host document.
func describeBodyError(ctx context.Context, c Config, sp *spool, contentType string, hostVars bool, err error) string {
	var shape *shapeError
	var syntax *syntaxError
	switch {
	case sp.writeErr != nil:
		return fmt.Sprintf("keep the document in a temporary file: %v", sp.writeErr)
	case errors.Is(sp.readErr, errTooLarge):
		return fmt.Sprintf("the document is larger than %s (ROSTER_MAX_SIZE)", formatSize(c.MaxSize))
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Sprintf("the document did not arrive within %v (ROSTER_TIMEOUT): %d bytes came", c.Timeout, sp.n)
	case ctx.Err() != nil:
		return "interrupted"
	case errors.As(sp.readErr, new(*encodingError)):
		return fmt.Sprintf("%v (after %d bytes of the document)", sp.readErr, sp.n)
	case sp.readErr != nil:
		return fmt.Sprintf("the document was cut short after %d bytes: %v", sp.n, sp.readErr)
	case errors.As(err, &shape) && hostVars:
		return "the answer is not a host's vars: " + shape.msg
	case errors.As(err, &shape):
		return "the answer is not an Ansible inventory: " + shape.msg
	case errors.Is(err, io.EOF) && sp.n == 0:
		return "the answer is empty"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Sprintf("the document was cut short after %d bytes: it ends inside the JSON", sp.n)
	case errors.As(err, &syntax) && contentType != "":
		return fmt.Sprintf("the answer is %s, not JSON: is ROSTER_URL Roster's address, not a proxy's or a login page?", contentType)
	case errors.As(err, &syntax):
		return fmt.Sprintf("the answer is not JSON: %v (at byte %d)", syntax, syntax.offset)
	}
	return "the answer is not an Ansible inventory: " + err.Error()
}

func formatSize(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// oneLine makes text from a server fit one line of a terminal: control
// characters (line breaks, escapes) become spaces, and at most max runes
// are kept.
func oneLine(s string, max int) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }), " ")
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "…"
	}
	return s
}

// redact removes a secret from a message (a server may echo it). A
// secret of a few characters is no real token, and removing it would
// garble the words that contain it.
func redact(s, secret string) string {
	if len(secret) < 8 {
		return s
	}
	return strings.ReplaceAll(s, secret, "[redacted]")
}
