package forward

import (
	"context"
	"log/slog"
	"slices"
)

// Tee is a slog.Handler that passes every record to the next handler and
// forwards the records some sink's log stream wants. Records of the
// forwarder itself (component=forward) are never forwarded: a failing sink
// logging its failure must not feed itself.
type Tee struct {
	next   slog.Handler
	fw     *Forwarder
	attrs  []slog.Attr
	ownLog bool // this logger's component is forward
}

// NewTee returns a handler writing to next and forwarding to fw.
func NewTee(next slog.Handler, fw *Forwarder) *Tee { return &Tee{next: next, fw: fw} }

// Enabled implements slog.Handler.
func (t *Tee) Enabled(ctx context.Context, l slog.Level) bool {
	return t.next.Enabled(ctx, l) || (!t.ownLog && t.fw.WantsLog(l))
}

// Handle implements slog.Handler.
func (t *Tee) Handle(ctx context.Context, r slog.Record) error {
	if !t.ownLog && t.fw.WantsLog(r.Level) && !ownRecord(r) {
		t.fw.Publish(FromLog(r, t.attrs, t.fw.Node()))
	}
	if !t.next.Enabled(ctx, r.Level) {
		return nil
	}
	return t.next.Handle(ctx, r)
}

func ownRecord(r slog.Record) bool {
	own := false
	r.Attrs(func(a slog.Attr) bool {
		own = isOwn(a)
		return !own
	})
	return own
}

func isOwn(a slog.Attr) bool { return a.Key == "component" && a.Value.String() == "forward" }

// WithAttrs implements slog.Handler.
func (t *Tee) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *t
	c.next = t.next.WithAttrs(attrs)
	c.attrs = append(slices.Clip(t.attrs), attrs...)
	c.ownLog = t.ownLog || slices.ContainsFunc(attrs, isOwn)
	return &c
}

// WithGroup implements slog.Handler. Forwarded attributes keep their own
// keys, without the group's name.
func (t *Tee) WithGroup(name string) slog.Handler {
	c := *t
	c.next = t.next.WithGroup(name)
	return &c
}
