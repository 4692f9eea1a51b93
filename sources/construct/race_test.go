//go:build race

package construct

// raceEnabled: the race detector makes sync.Pool drop items, so the
// regexp package allocates a machine per match instead of reusing one.
const raceEnabled = true
