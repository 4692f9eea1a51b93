package api

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rosterhq/roster"
)

// Whole-inventory documents (Ansible's --list, Prometheus SD) are rendered
// once per inventory generation into a file and every reader is served
// from that file: a reader holds no database connection however slowly it
// reads, and any number of readers of a new generation cause one render.
// A file lives while it is its slot's newest document or someone reads it;
// a slot keeps one, so the disk used is about one document per inventory
// and kind, plus older ones still being read.

// maxRenders bounds the documents rendered at once: each holds a database
// connection for as long as it takes (about a second per 20,000 hosts).
const maxRenders = 2

// minDocumentRate is the slowest a client may read a document, in bytes
// per second, after its first minute.
const minDocumentRate = 128 << 10

// renderTimeout bounds one render.
const renderTimeout = 5 * time.Minute

// renderFunc writes a document and returns the inventory generation it
// was rendered from (the generation of the snapshot it read).
type renderFunc func(ctx context.Context, w *bufio.Writer) (generation int64, err error)

// docKey names a slot: one kind of document of one inventory.
type docKey struct {
	inventoryID string
	kind        string // "ansible", "ansible-all", "prometheus-sd"
}

// document is one rendered document, in a file.
type document struct {
	path       string
	size       int64
	generation int64
	// variant is what the document depends on besides the inventory's
	// generation, read outside its snapshot ("" for none): readers whose
	// variant differs do not share it.
	variant string
	refs    int // readers, and one while it is its slot's newest; guarded by documents.mu
	// gz is its gzip encoding, made on the first request that accepts
	// it; guarded by documents.mu. Its file goes with the document's.
	gz *encoded
}

// encoded is a document's gzip encoding, in a file of its own beside it.
type encoded struct {
	done chan struct{} // closed once path, size and err are set
	path string
	size int64
	err  error // the encoding failed: the document is served as it is
}

// rendering is a render in progress; whoever waits for it shares it.
type rendering struct {
	variant string
	// Guarded by documents.mu: the waiters are each given a reference to
	// doc once it is finished.
	waiters  int
	finished bool
	doc      *document
	err      error
	done     chan struct{} // closed after finished is set
}

type docSlot struct {
	newest  *document
	pending *rendering
}

// documents is the store of rendered documents of a server.
type documents struct {
	parent  string // where the directory of the files is made
	log     *slog.Logger
	renders chan struct{}
	ctx     context.Context // ends with close: renders stop
	cancel  context.CancelFunc
	running sync.WaitGroup

	mu     sync.Mutex
	dir    string // made on the first render
	slots  map[docKey]*docSlot
	closed bool
}

func newDocuments(parent string, log *slog.Logger) *documents {
	ctx, cancel := context.WithCancel(context.Background())
	return &documents{parent: parent, log: log, renders: make(chan struct{}, maxRenders), ctx: ctx, cancel: cancel, slots: map[docKey]*docSlot{}}
}

// get returns the document of key rendered from generation gen or a later
// one, with variant, rendering it when there is none. The caller releases
// it.
func (d *documents) get(ctx context.Context, key docKey, variant string, gen int64, render renderFunc) (*document, error) {
	for {
		d.mu.Lock()
		if d.closed {
			d.mu.Unlock()
			return nil, roster.Errorf(roster.EUNAVAILABLE, "the server is shutting down")
		}
		slot := d.slots[key]
		if slot == nil {
			slot = &docSlot{}
			d.slots[key] = slot
		}
		if doc := slot.newest; doc != nil && doc.variant == variant && doc.generation >= gen {
			doc.refs++
			d.mu.Unlock()
			return doc, nil
		}
		r := slot.pending
		if r == nil || r.variant != variant {
			r = d.start(key, slot, variant, render)
		}
		r.waiters++
		d.mu.Unlock()

		select {
		case <-r.done:
		case <-ctx.Done():
			d.mu.Lock()
			finished := r.finished
			if !finished {
				r.waiters--
			}
			d.mu.Unlock()
			if finished && r.doc != nil {
				d.release(r.doc) // it finished meanwhile: its reference was ours
			}
			return nil, ctx.Err()
		}
		if r.err != nil {
			return nil, r.err
		}
		if r.doc.generation >= gen {
			return r.doc, nil
		}
		// That render began before the generation this reader saw.
		d.release(r.doc)
	}
}

// start renders a document for slot in the background; d.mu is held.
func (d *documents) start(key docKey, slot *docSlot, variant string, render renderFunc) *rendering {
	r := &rendering{variant: variant, done: make(chan struct{})}
	slot.pending = r
	d.running.Add(1)
	go func() {
		defer d.running.Done()
		doc, err := d.render(key, variant, render)
		var stale *document
		d.mu.Lock()
		if slot.pending == r {
			slot.pending = nil
		}
		r.doc, r.err = doc, err
		if doc != nil {
			// The newest generation stays; a render of the same one
			// replaces it (its variant is the one asked for last). A slot
			// dropped meanwhile (forget, close) keeps nothing.
			current := d.slots[key] == slot
			if current && (slot.newest == nil || doc.generation >= slot.newest.generation) {
				stale, slot.newest = slot.newest, doc
				doc.refs++
			}
			doc.refs += r.waiters
			if doc.refs == 0 {
				stale = doc // nobody wants it any more
			} else if stale != nil {
				if stale.refs--; stale.refs > 0 {
					stale = nil // still read: its last reader removes it
				}
			}
		}
		r.finished = true
		d.mu.Unlock()
		if stale != nil {
			d.remove(stale)
		}
		close(r.done)
	}()
	return r
}

// render writes one document into a new file of the directory.
func (d *documents) render(key docKey, variant string, render renderFunc) (*document, error) {
	ctx, cancel := context.WithTimeout(d.ctx, renderTimeout)
	defer cancel()
	select {
	case d.renders <- struct{}{}:
		defer func() { <-d.renders }()
	case <-ctx.Done():
		return nil, fmt.Errorf("render the %s document of inventory %s: %w", key.kind, key.inventoryID, ctx.Err())
	}
	dir, err := d.directory()
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, key.kind+"-*.json")
	if err != nil {
		return nil, fmt.Errorf("create a file for the %s document of inventory %s: %w", key.kind, key.inventoryID, err)
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	gen, err := render(ctx, bw)
	if err == nil {
		err = bw.Flush()
	}
	var size int64
	if err == nil {
		var fi os.FileInfo
		fi, err = f.Stat()
		if fi != nil {
			size = fi.Size()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		// The document file's own full disk (the store explains its own,
		// as roster errors); the cause stays for the log.
		if roster.ErrorCode(err) == roster.EINTERNAL && (errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)) {
			err = fmt.Errorf("%w (%w)", roster.Errorf(roster.EFULL,
				"the disk holding rendered documents (%s) is full: free space there, or give --document-dir a larger one", dir), err)
		}
		return nil, fmt.Errorf("render the %s document of inventory %s: %w", key.kind, key.inventoryID, err)
	}
	return &document{path: f.Name(), size: size, generation: gen, variant: variant}, nil
}

// directory returns the directory of the files, making it on first use.
func (d *documents) directory() (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dir != "" {
		return d.dir, nil
	}
	if d.closed {
		return "", roster.Errorf(roster.EUNAVAILABLE, "the server is shutting down")
	}
	parent := d.parent
	if parent == "" {
		parent = os.TempDir()
	}
	dir, err := os.MkdirTemp(parent, "roster-documents-")
	if err != nil {
		return "", fmt.Errorf("make a directory for rendered documents in %s: %w", parent, err)
	}
	d.dir = dir
	return dir, nil
}

// release gives back a reference to doc; the last one removes its file.
func (d *documents) release(doc *document) {
	d.mu.Lock()
	doc.refs--
	gone := doc.refs == 0
	d.mu.Unlock()
	if gone {
		d.remove(doc)
	}
}

// remove removes doc's files; doc has no reference left (so no encoding
// of it is running).
func (d *documents) remove(doc *document) {
	paths := []string{doc.path}
	d.mu.Lock()
	if doc.gz != nil && doc.gz.path != "" {
		paths = append(paths, doc.gz.path)
	}
	d.mu.Unlock()
	for _, path := range paths {
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			d.log.Warn("removing a rendered document failed", "path", path, "err", err)
		}
	}
}

// gzipped returns doc's gzip encoding, made once per document: the first
// request that wants it starts the encoding, which goes on whoever stops
// waiting for it, and any number of requests wait for that one. It
// returns nil when the encoding failed (the document is served as it
// is); the caller holds a reference to doc.
func (d *documents) gzipped(ctx context.Context, doc *document) (*encoded, error) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, roster.Errorf(roster.EUNAVAILABLE, "the server is shutting down")
	}
	gz := doc.gz
	if gz == nil {
		gz = &encoded{done: make(chan struct{})}
		doc.gz = gz
		doc.refs++ // the encoding reads the file
		d.running.Add(1)
		go func() {
			defer d.running.Done()
			path, size, err := d.compress(doc)
			d.mu.Lock()
			gz.path, gz.size, gz.err = path, size, err
			d.mu.Unlock()
			close(gz.done)
			d.release(doc)
		}()
	}
	d.mu.Unlock()
	select {
	case <-gz.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if gz.err != nil {
		return nil, nil
	}
	return gz, nil
}

// compress writes the gzip encoding of doc into a new file of the
// directory, streaming: memory stays the compressor's, whatever the
// document's size. It takes a place among the renders, which it is like
// (seconds of CPU for a large document, once per generation).
func (d *documents) compress(doc *document) (path string, size int64, err error) {
	ctx, cancel := context.WithTimeout(d.ctx, renderTimeout)
	defer cancel()
	defer func() {
		if err != nil {
			err = fmt.Errorf("gzip the rendered document %s: %w", doc.path, err)
			d.log.Warn("a rendered document is served without gzip", "err", err)
		}
	}()
	select {
	case d.renders <- struct{}{}:
		defer func() { <-d.renders }()
	case <-ctx.Done():
		return "", 0, ctx.Err()
	}
	src, err := os.Open(doc.path)
	if err != nil {
		return "", 0, err
	}
	defer src.Close()
	dst, err := os.CreateTemp(filepath.Dir(doc.path), strings.TrimSuffix(filepath.Base(doc.path), ".json")+"-*.json.gz")
	if err != nil {
		return "", 0, err
	}
	bw := bufio.NewWriterSize(dst, 256<<10)
	zw := gzip.NewWriter(bw)
	_, err = io.Copy(zw, ctxReader{ctx, src})
	if err == nil {
		err = zw.Close()
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		var fi os.FileInfo
		if fi, err = dst.Stat(); err == nil {
			size = fi.Size()
		}
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst.Name())
		return "", 0, err
	}
	return dst.Name(), size, nil
}

// ctxReader reads r until ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// forget drops the documents of an inventory (it was deleted).
func (d *documents) forget(inventoryID string) {
	var gone []*document
	d.mu.Lock()
	for key, slot := range d.slots {
		if key.inventoryID != inventoryID {
			continue
		}
		if doc := slot.newest; doc != nil {
			if doc.refs--; doc.refs == 0 {
				gone = append(gone, doc)
			}
		}
		delete(d.slots, key)
	}
	d.mu.Unlock()
	for _, doc := range gone {
		d.remove(doc)
	}
}

// close stops the renders and removes the directory. Documents still
// being read are removed with it where the system allows (not on
// Windows).
func (d *documents) close() error {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.cancel()
	d.running.Wait()
	d.mu.Lock()
	dir := d.dir
	d.slots = map[docKey]*docSlot{}
	d.mu.Unlock()
	if dir == "" {
		return nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove the rendered documents in %s: %w", dir, err)
	}
	return nil
}

// etag names a document of key at a generation and variant.
func (key docKey) etag(gen int64, variant string) string {
	tag := `"` + key.kind + "." + key.inventoryID + "." + strconv.FormatInt(gen, 10)
	if variant != "" {
		tag += "." + variant
	}
	return tag + `"`
}

// gzipETag is the ETag of the gzip encoding of the document tagged etag:
// a representation of its own (RFC 9110 8.8.3), the same name with
// "-gzip" inside the quotes.
func gzipETag(etag string) string { return strings.TrimSuffix(etag, `"`) + `-gzip"` }

// etagMatches reports whether an If-None-Match header names etag (the weak
// comparison RFC 9110 asks of If-None-Match).
func etagMatches(ifNoneMatch *string, etag string) bool {
	if ifNoneMatch == nil {
		return false
	}
	for _, tag := range strings.Split(*ifNoneMatch, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
			return true
		}
	}
	return false
}

// negotiation is what a request for a document says about the copy it
// holds and the encodings it takes.
type negotiation struct {
	ifNoneMatch *string
	// offerGzip: the endpoint offers the gzip encoding (its answers vary
	// by Accept-Encoding); acceptsGzip: the request takes it.
	offerGzip, acceptsGzip bool
}

// holds reports whether the client holds the document tagged etag, in
// either encoding when gzip is offered: both are the same document.
func (n negotiation) holds(etag string) bool {
	return etagMatches(n.ifNoneMatch, etag) || (n.offerGzip && etagMatches(n.ifNoneMatch, gzipETag(etag)))
}

// gzip reports whether the answer is to be gzip-encoded.
func (n negotiation) gzip() bool { return n.offerGzip && n.acceptsGzip }

// acceptsGzip reports whether an Accept-Encoding header takes gzip: named
// (or x-gzip, or *) with a weight above 0.
func acceptsGzip(acceptEncoding *string) bool {
	if acceptEncoding == nil {
		return false
	}
	star := false
	for _, item := range strings.Split(*acceptEncoding, ",") {
		coding, params, _ := strings.Cut(item, ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		accepted := true
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(p, "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				accepted = err == nil && q > 0
			}
		}
		switch coding {
		case "gzip", "x-gzip":
			return accepted // named: its own weight decides, whatever * says
		case "*":
			star = accepted
		}
	}
	return star
}

// documentAnswer answers with a rendered document, or with 304 when the
// client holds it already (doc is nil then).
type documentAnswer struct {
	docs  *documents
	doc   *document
	gz    *encoded // doc's gzip encoding, when that is the answer
	etag  string
	vary  bool // the answer varies by Accept-Encoding
	fresh freshness
	// ticket is the request's place for documents (nil for a 304); a
	// reader still reading after slowAfter moves it to slowLane.
	ticket    *ticket
	slowLane  *gate
	slowAfter time.Duration
}

func (a documentAnswer) VisitGetAnsibleInventoryResponse(w http.ResponseWriter) error {
	return a.write(w)
}

func (a documentAnswer) VisitGetPrometheusSDResponse(w http.ResponseWriter) error { return a.write(w) }

func (a documentAnswer) write(w http.ResponseWriter) error {
	if a.ticket != nil {
		defer a.ticket.leave()
	}
	h := w.Header()
	a.fresh.set(h)
	h.Set("ETag", a.etag)
	if a.vary {
		h.Add("Vary", "Accept-Encoding")
	}
	if a.doc == nil {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	defer a.docs.release(a.doc)
	path, size := a.doc.path, a.doc.size
	if a.gz != nil {
		path, size = a.gz.path, a.gz.size
		h.Set("Content-Encoding", "gzip")
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open a rendered document: %w", err) // nothing is on the wire yet
	}
	defer f.Close()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	// A reader that stalls does not hold its place for ever: it has a
	// minute, and a second per minDocumentRate bytes.
	deadline := time.Minute + time.Duration(size/minDocumentRate)*time.Second
	if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(deadline)); err != nil {
		a.docs.log.Debug("no write deadline for a document", "err", err)
	}
	w.WriteHeader(http.StatusOK)
	if a.ticket != nil {
		slow := time.AfterFunc(a.slowAfter, func() { a.ticket.moveTo(a.slowLane) })
		defer slow.Stop()
	}
	_, err = io.Copy(w, f) // the file reaches net/http's ReadFrom: sendfile(2) where it can
	if err != nil {
		// The client went away, or the file could not be read: the
		// connection is cut, so no client takes a short body for a whole
		// one.
		a.docs.log.Debug("serving a rendered document stopped", "path", path, "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}
