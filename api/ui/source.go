package ui

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The views of sources, their runs and schedules (api/webui_source.go
// gathers them).

// SourcesPath lists the sources; NewSourcePath is the editor of a new one.
const (
	SourcesPath   = "/ui/sources"
	NewSourcePath = "/ui/sources/new"
	RunsPath      = "/ui/runs"
	SchedulesPath = "/ui/schedules"
)

// SourcePath is the page of source name of inventory inv.
func SourcePath(inv, name string) string {
	return SourcesPath + "/" + pathSegment(inv) + "/" + pathSegment(name)
}

// RunPath is the page of a run.
func RunPath(id string) string { return RunsPath + "/" + pathSegment(id) }

// pathSegment escapes a name (or an id) as one segment of a page's path.
func pathSegment(s string) string { return url.PathEscape(s) }

// SourceRow is a source in a list.
type SourceRow struct {
	Inventory, Name, Provider string
	// Schedule is the source's schedule ("" when it syncs on demand only).
	Schedule string
	// NextSync is when its next scheduled sync is due, if known.
	NextSync *time.Time
	// Status is its last finished run's ("" if none), Pending a run under
	// way or waiting.
	Status, Pending string
	LastRun         *time.Time
	// LastRunID links the last finished run.
	LastRunID string
}

// Path is the source's page.
func (r SourceRow) Path() string { return SourcePath(r.Inventory, r.Name) }

// SourceGroup is an inventory's sources.
type SourceGroup struct {
	Inventory string
	Sources   []SourceRow
}

// SourceList is the page of all sources the person may see.
type SourceList struct {
	Page
	Message   string
	Groups    []SourceGroup
	CanCreate bool
}

// FieldProblem is one thing wrong with a form: the field it names (as
// the API names it: "name", "config.regions[1]"), the line of the YAML it
// points at (0: none), and what is wrong.
type FieldProblem struct {
	Field   string
	Line    int
	Message string
}

// SourceEditor is the form of a new source or of a source's change.
type SourceEditor struct {
	Page
	// New: a new source (else the change of Inventory/Original).
	New bool
	// Original is the name of the source edited (its page's, its path's).
	Original string
	// Inventories the person may create a source in (a new source).
	Inventories []string
	Providers   []string
	// What the form holds: what the person sent, as sent.
	Inventory, Name, Provider, Credential, Schedule, OnMissing, Timeout string
	// Config is the YAML of the source's options, as an Ansible inventory
	// plugin's file holds them.
	Config string
	// Message heads the errors; Problems are all of them.
	Message  string
	Problems []FieldProblem
}

// Action is where the form posts.
func (e SourceEditor) Action() string {
	if e.New {
		return NewSourcePath
	}
	return SourcePath(e.Inventory, e.Original) + "/edit"
}

// Cancel is where leaving the form goes.
func (e SourceEditor) Cancel() string {
	if e.New {
		return SourcesPath
	}
	return SourcePath(e.Inventory, e.Original)
}

// SourcePage is a source's page.
type SourcePage struct {
	Page
	Inventory, Name, Provider string
	Credential                string
	Schedule, OnMissing       string
	Timeout                   string
	NextSync                  *time.Time
	// Config is the source's options as YAML (they never hold a secret:
	// credentials are named, not held).
	Config   string
	Warnings []string
	Runs     []RunRow
	// MoreRuns links the run history of the source.
	MoreRuns         string
	CanSync, CanEdit bool
}

// Path is the source's page.
func (p SourcePage) Path() string { return SourcePath(p.Inventory, p.Name) }

// RunRow is a run in a list, or the head of a run's page.
type RunRow struct {
	ID, Inventory, Source, Status, Trigger string
	Created                                *time.Time
	Started, Finished                      *time.Time
	Seen, Added, Updated, Removed          int
	Disabled, Unchanged                    int
	Error                                  string
	Attempt                                int
}

// Path is the run's page.
func (r RunRow) Path() string { return RunPath(r.ID) }

// SourcePath is its source's page.
func (r RunRow) SourcePath() string { return SourcePath(r.Inventory, r.Source) }

// Done reports whether the run has finished.
func (r RunRow) Done() bool {
	return r.Status == "succeeded" || r.Status == "partial" || r.Status == "failed" || r.Status == "canceled"
}

// Duration is how long the run took (or has taken so far), "" before it
// started.
func (r RunRow) Duration() string {
	if r.Started == nil {
		return ""
	}
	end := time.Now()
	if r.Finished != nil {
		end = *r.Finished
	}
	return Duration(end.Sub(*r.Started))
}

// Duration shows d to a tenth of a second below a minute, to the second
// above.
func Duration(d time.Duration) string {
	if d < time.Minute {
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	}
	return d.Round(time.Second).String()
}

// RunList is the run history.
type RunList struct {
	Page
	Message string
	Runs    []RunRow
	// The filter: a source ("INVENTORY/NAME"), a status.
	Source, Status string
	Sources        []string
	Statuses       []string
	// Next is the link to the next (older) page, "" on the last.
	Next string
}

// Scope is one scope of a run.
type Scope struct {
	Name, Status, Error string
	Hosts               int
	Duration            string
}

// Progress is how far a run under way got, as the live view shows it.
type Progress struct {
	Status      string `json:"status"`
	ScopesDone  int    `json:"scopes_done"`
	ScopesTotal int    `json:"scopes_total"`
	HostsSeen   int    `json:"hosts_seen"`
	Failed      int    `json:"failed"`
}

// Change is what a run did to one host.
type Change struct {
	Host, Kind string
	Keys       []string
	Diff       []DiffLine
	Added      []string // groups joined
	Removed    []string // groups left
	Truncated  bool
}

// KeyList, AddedList and RemovedList are Keys, Added and Removed in words.
func (c Change) KeyList() string     { return strings.Join(c.Keys, ", ") }
func (c Change) AddedList() string   { return strings.Join(c.Added, ", ") }
func (c Change) RemovedList() string { return strings.Join(c.Removed, ", ") }

// DiffLine is a key's value before and after ("" where there was none).
type DiffLine struct {
	Key, Old, New string
	// Field: a host's field (name, address, …), not a var.
	Field bool
}

// RunPage is a run's page.
type RunPage struct {
	Page
	Run      RunRow
	Scopes   []Scope
	Warnings []string
	// Live: the run is under way; Progress is how far it got, Events the
	// live view's stream.
	Live     bool
	Progress Progress
	Events   string
	// The change log (if the person may read it): one page, of Kind ("" all).
	CanSeeChanges bool
	Changes       []Change
	Kind          string
	Kinds         []string
	ChangesNext   string
}

// ScheduleRow is one source's schedule.
type ScheduleRow struct {
	Inventory, Source, Provider, Schedule string
	Jitter                                string
	NextSync                              *time.Time
}

// Path is the source's page.
func (r ScheduleRow) Path() string { return SourcePath(r.Inventory, r.Source) }

// Enabled reports whether the source syncs by itself.
func (r ScheduleRow) Enabled() bool { return r.Schedule != "" }

// Schedules is the page of every source's schedule.
type Schedules struct {
	Page
	Message string
	Rows    []ScheduleRow
}

// Sparkline is a small inline SVG chart of the durations of a source's
// last finished runs, oldest first.
type Sparkline struct {
	// Points is the polyline's points attribute.
	Points string
	// Last is the newest point, marked.
	LastX, LastY string
	Width        int
	Height       int
	// Label says what the chart shows, in words (min, median, max).
	Label string
}

// sparkline sizes.
const (
	sparkWidth  = 120
	sparkHeight = 24
	sparkPad    = 2
)

// NewSparkline charts durations (oldest first); nil for fewer than two.
func NewSparkline(durations []time.Duration) *Sparkline {
	if len(durations) < 2 {
		return nil
	}
	lo, hi := slices.Min(durations), slices.Max(durations)
	sorted := slices.Sorted(slices.Values(durations))
	median := sorted[len(sorted)/2]
	if len(sorted)%2 == 0 {
		median = (sorted[len(sorted)/2-1] + sorted[len(sorted)/2]) / 2
	}
	span := float64(hi - lo)
	step := float64(sparkWidth-2*sparkPad) / float64(len(durations)-1)
	var pts []string
	var x, y float64
	for i, d := range durations {
		x = sparkPad + step*float64(i)
		y = float64(sparkHeight) / 2
		if span > 0 {
			y = sparkPad + (float64(sparkHeight-2*sparkPad))*(1-float64(d-lo)/span)
		}
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
	}
	return &Sparkline{
		Points: strings.Join(pts, " "), LastX: fmt.Sprintf("%.1f", x), LastY: fmt.Sprintf("%.1f", y),
		Width: sparkWidth, Height: sparkHeight,
		Label: fmt.Sprintf("Duration of the last %d syncs: min %s, median %s, max %s", len(durations), Duration(lo), Duration(median), Duration(hi)),
	}
}
