//go:build !race

package construct

const raceEnabled = false
