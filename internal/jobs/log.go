package jobs

import (
	"context"
	"log/slog"
)

// riverLog is the handler River logs through: River's own info lines
// (producer job counts every few seconds, maintenance services that ran,
// clients starting and stopping) are operational chatter, so they go to
// debug, and an idle Roster writes nothing at info. River's warnings and
// errors keep their level.
type riverLog struct{ slog.Handler }

func quietRiver(log *slog.Logger) *slog.Logger { return slog.New(riverLog{log.Handler()}) }

func (h riverLog) level(l slog.Level) slog.Level {
	if l < slog.LevelWarn {
		return slog.LevelDebug
	}
	return l
}

func (h riverLog) Enabled(ctx context.Context, l slog.Level) bool {
	return h.Handler.Enabled(ctx, h.level(l))
}

func (h riverLog) Handle(ctx context.Context, r slog.Record) error {
	r.Level = h.level(r.Level)
	return h.Handler.Handle(ctx, r)
}

func (h riverLog) WithAttrs(attrs []slog.Attr) slog.Handler {
	return riverLog{h.Handler.WithAttrs(attrs)}
}
func (h riverLog) WithGroup(name string) slog.Handler { return riverLog{h.Handler.WithGroup(name)} }
