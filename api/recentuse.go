package api

import (
	"sync"
	"time"
)

// useEvery is how often the use of a token or session is written down:
// a write per request would serialise every read behind the database's
// one writer.
const useEvery = time.Minute

// sweepAt is the number of remembered uses past which the ones older than
// useEvery are forgotten, at most once per useEvery: the map holds about
// the credentials used in the last minute, not every one ever used.
const sweepAt = 4096

// recentUse remembers when each token or session was last written down as
// used.
type recentUse struct {
	mu    sync.Mutex
	last  map[string]time.Time
	swept time.Time
}

// due reports whether key's use at now is to be written down (the last
// was useEvery ago or more, or never), and remembers it if so.
func (u *recentUse) due(key string, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if t, ok := u.last[key]; ok && now.Sub(t) < useEvery {
		return false
	}
	if u.last == nil {
		u.last = map[string]time.Time{}
	}
	if len(u.last) >= sweepAt && now.Sub(u.swept) >= useEvery {
		for k, t := range u.last {
			if now.Sub(t) >= useEvery {
				delete(u.last, k)
			}
		}
		u.swept = now
	}
	u.last[key] = now
	return true
}

// size is how many uses are remembered.
func (u *recentUse) size() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.last)
}
