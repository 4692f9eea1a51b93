package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api/ui"
	"github.com/rosterhq/roster/internal/gitops"
)

// The Web UI's pages of sources (list, editor, Sync now), runs (history,
// a run's page with its change log and live view) and schedules. Each
// page asks authorizeRequest what the API would ask for the same thing,
// with the operation the page stands for, and changes go through the
// API's own handlers (CreateSource, UpdateSource, TriggerSync), so that
// validation, audit and scope are the API's.

// mountSourcePages mounts the Web UI's pages of sources (editor, Sync now), runs (history, live view, change log).
func (s *Server) mountSourcePages(mux *http.ServeMux) {
	mux.HandleFunc("GET "+ui.SourcesPath, s.signedIn("Sources", s.serveSources))
	mux.HandleFunc("GET "+ui.NewSourcePath, s.signedIn("Sources", s.serveNewSource))
	mux.HandleFunc("POST "+ui.NewSourcePath, s.signedIn("Sources", s.serveCreateSource))
	mux.HandleFunc("GET "+ui.SourcesPath+"/{inv}/{src}", s.signedIn("Sources", s.serveSource))
	mux.HandleFunc("GET "+ui.SourcesPath+"/{inv}/{src}/edit", s.signedIn("Sources", s.serveEditSource))
	mux.HandleFunc("POST "+ui.SourcesPath+"/{inv}/{src}/edit", s.signedIn("Sources", s.serveUpdateSource))
	mux.HandleFunc("POST "+ui.SourcesPath+"/{inv}/{src}/sync", s.signedIn("Sources", s.serveSyncNow))
	mux.HandleFunc("GET "+ui.RunsPath, s.signedIn("Runs", s.serveRuns))
	mux.HandleFunc("GET "+ui.RunsPath+"/{run}", s.signedIn("Runs", s.serveRun))
	mux.HandleFunc(liveEventsRoute, s.uiPage(s.live.serve))
	mux.HandleFunc("GET "+ui.SchedulesPath, s.signedIn("Schedules", s.serveSchedules))
}

// may reports whether the person may do operation op on what params
// name, as the API would answer it (and leaves the caller acting for op).
func (s *Server) may(p *uiRequest, op string, params map[string]string) bool {
	return s.authorizeRequest(p.ctx, op, params) == nil
}

// sourceRef is the API's reference of the source a page's path names.
func sourceRef(r *http.Request) string { return r.PathValue("inv") + "/" + r.PathValue("src") }

// uiSource finds the source of the request's path for operation (an API
// operation id), as uiInventory finds an inventory.
func (s *Server) uiSource(p *uiRequest, r *http.Request, operation string) (*roster.Source, error) {
	ref := sourceRef(r)
	if err := s.authorizeRequest(p.ctx, operation, map[string]string{"source": ref}); err != nil {
		return nil, err
	}
	return s.source(p.ctx, ref)
}

// ---- the list of sources

// inventorySources is an inventory with its sources.
type inventorySources struct {
	inv  *roster.Inventory
	srcs []*roster.Source
}

// sourcesByInventory returns the inventories the caller sees, each with
// its sources.
func (s *Server) sourcesByInventory(ctx context.Context) ([]inventorySources, error) {
	invs, err := s.visibleInventories(ctx)
	if err != nil {
		return nil, err
	}
	groups := make([]inventorySources, 0, len(invs))
	for _, inv := range invs {
		srcs, err := s.store.Sources(ctx, inv.ID)
		if err != nil {
			return nil, err
		}
		groups = append(groups, inventorySources{inv, srcs})
	}
	return groups, nil
}

// listedSources is sourcesByInventory for the pages that list sources:
// when the caller may not list them there are none, and refused says so
// for the page.
func (s *Server) listedSources(ctx context.Context) (groups []inventorySources, refused string, err error) {
	if authorizeCaller(ctx, "ListSources") != nil {
		return nil, "You may not list sources: ask an admin for a role binding.", nil
	}
	groups, err = s.sourcesByInventory(ctx)
	return groups, "", err
}

func (s *Server) serveSources(w http.ResponseWriter, r *http.Request, p *uiRequest) {
	page := ui.SourceList{Page: p.Page}
	page.CanCreate = s.may(p, "CreateSource", nil)
	groups, refused, err := s.listedSources(p.ctx)
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	page.Message = refused
	runs := authorizeCaller(p.ctx, "ListSyncRuns") == nil
	for _, g := range groups {
		out := ui.SourceGroup{Inventory: g.inv.Name}
		for _, src := range g.srcs {
			row := ui.SourceRow{Inventory: g.inv.Name, Name: src.Name, Provider: src.Provider, Schedule: src.Schedule}
			if src.NextSync != nil {
				row.NextSync = &src.NextSync.Due
			}
			if runs {
				var o ui.Source
				last, err := s.lastRuns(p.ctx, src.ID, &o)
				if err != nil {
					s.uiFail(w, p, err)
					return
				}
				row.Status, row.Pending, row.LastRun = o.Status, o.Pending, o.LastRun
				if last != nil {
					row.LastRunID = last.ID
				}
			}
			out.Sources = append(out.Sources, row)
		}
		page.Groups = append(page.Groups, out)
	}
	if !runs && len(groups) > 0 {
		page.Message = "You may not list sync runs: the sources' last results are not shown."
	}
	s.render(w, http.StatusOK, "sources", page)
}

// ---- a source's page

// sourceRuns is how many runs a source's page shows.
const sourceRuns = 10

func (s *Server) serveSource(w http.ResponseWriter, r *http.Request, p *uiRequest) {
	src, err := s.uiSource(p, r, "GetSource")
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	params := map[string]string{"source": sourceRef(r)}
	inv, err := s.store.Inventory(p.ctx, src.InventoryID)
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	page := ui.SourcePage{Page: p.Page, Inventory: inv.Name, Name: src.Name, Provider: src.Provider, Schedule: src.Schedule,
		OnMissing: string(src.OnMissing), Config: configYAML(src.Config), Warnings: s.engine.Registry().Warnings(src.Provider, src.Config)}
	page.Credential = s.credentialName(p, src.CredentialID)
	if src.Timeout > 0 {
		page.Timeout = src.Timeout.String()
	}
	if src.NextSync != nil {
		page.NextSync = &src.NextSync.Due
	}
	page.MoreRuns = ui.RunsPath + "?" + url.Values{"source": {inv.Name + "/" + src.Name}}.Encode()
	if s.may(p, "ListSyncRuns", params) {
		runs, _, err := s.store.SyncRuns(p.ctx, roster.SyncRunFilter{SourceID: src.ID, Limit: sourceRuns})
		if err != nil {
			s.uiFail(w, p, err)
			return
		}
		for _, run := range runs {
			page.Runs = append(page.Runs, runRow(run, inv.Name, src.Name))
		}
	}
	page.CanSync = s.may(p, "TriggerSync", params)
	page.CanEdit = s.may(p, "UpdateSource", params)
	s.render(w, http.StatusOK, "source", page)
}

// credentialName names a source's credential by its name, as the person
// gave it, when the person may read the credential (GetCredential); its
// id otherwise, as the API's source shows it.
func (s *Server) credentialName(p *uiRequest, id string) string {
	if id == "" {
		return ""
	}
	ctx, err := s.apiAs(p, "GetCredential", map[string]string{"credential": id})
	if err != nil {
		return id
	}
	if c, err := s.credential(ctx, id); err == nil {
		return c.Name
	}
	return id
}

// configYAML is a source's options as an Ansible plugin's file: the
// plugin key first, then the others sorted, indented by two.
func configYAML(config map[string]any) string {
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	rest := make(map[string]any, len(config))
	for k, v := range config {
		if k != "plugin" {
			rest[k] = v
		}
	}
	var err error
	if plugin, ok := config["plugin"]; ok {
		err = enc.Encode(map[string]any{"plugin": plugin})
	}
	if err == nil && len(rest) > 0 {
		err = enc.Encode(rest)
	}
	if err == nil {
		err = enc.Close()
	}
	if err != nil {
		return fmt.Sprintf("# the options cannot be shown as YAML: %v\n", err)
	}
	// Two documents (the plugin key, then the rest) make one mapping.
	return strings.Replace(b.String(), "\n---\n", "\n", 1)
}

func runRow(run *roster.SyncRun, inv, src string) ui.RunRow {
	created := run.CreatedAt
	return ui.RunRow{ID: run.ID, Inventory: inv, Source: src, Status: string(run.Status), Trigger: string(run.Trigger),
		Created: &created, Started: run.StartedAt, Finished: run.FinishedAt,
		Seen: run.Counts.Seen, Added: run.Counts.Added, Updated: run.Counts.Updated, Removed: run.Counts.Removed,
		Disabled: run.Counts.Disabled, Unchanged: run.Counts.Unchanged, Error: run.Error, Attempt: max(run.Attempt, 1)}
}

// ---- Sync now

// serveSyncNow starts a sync as POST /api/v1/sources/{source}/syncs does
// (a run under way is the run shown), and shows its run.
func (s *Server) serveSyncNow(w http.ResponseWriter, r *http.Request, p *uiRequest) {
	if !s.uiForm(w, r, p, 0) {
		return
	}
	ref := sourceRef(r)
	if err := s.authorizeRequest(p.ctx, "TriggerSync", map[string]string{"source": ref}); err != nil {
		s.uiFail(w, p, err)
		return
	}
	resp, err := s.TriggerSync(p.ctx, TriggerSyncRequestObject{Source: ref})
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	var id string
	switch resp := resp.(type) {
	case TriggerSync202JSONResponse:
		id = resp.Body.Id
	case TriggerSync200JSONResponse:
		id = resp.Id
	default:
		s.uiFail(w, p, fmt.Errorf("trigger sync: unexpected answer %T", resp))
		return
	}
	http.Redirect(w, r, ui.RunPath(id), http.StatusSeeOther)
}

// ---- the editor

// sourceFormMax bounds the editor's form: the YAML of a source's options
// (a plugin file, compose expressions and all) and a few fields. (The
// server's MaxBodyBytes bounds every request besides.)
const sourceFormMax = 48 << 10

// newSourceYAML is what a new source's editor starts with.
const newSourceYAML = `plugin: amazon.aws.aws_ec2
regions:
  - us-east-1
hostnames:
  - tag:Name
  - instance-id
keyed_groups:
  - key: placement.region
    prefix: aws_region
`

func (s *Server) serveNewSource(w http.ResponseWriter, r *http.Request, p *uiRequest) {
	ed, ok := s.newSourceEditor(w, p)
	if !ok {
		return
	}
	ed.Inventory, ed.Config, ed.OnMissing = r.URL.Query().Get("inventory"), newSourceYAML, string(roster.OnMissingRemove)
	s.render(w, http.StatusOK, "source-editor", ed)
}

// newSourceEditor is the editor of a new source, with the inventories the
// person may create one in; false: refused (answered).
func (s *Server) newSourceEditor(w http.ResponseWriter, p *uiRequest) (ui.SourceEditor, bool) {
	ed := ui.SourceEditor{Page: p.Page, New: true, Providers: s.engine.Registry().Names()}
	if err := authorizeCaller(p.ctx, "CreateSource"); err != nil {
		s.uiFail(w, p, err)
		return ed, false
	}
	invs, err := s.visibleInventories(p.ctx)
	if err != nil {
		s.uiFail(w, p, err)
		return ed, false
	}
	for _, inv := range invs {
		ed.Inventories = append(ed.Inventories, inv.Name)
	}
	if len(ed.Inventories) == 0 {
		s.uiError(w, p, http.StatusForbidden, "Not allowed", "You may not create a source in any inventory.")
		return ed, false
	}
	return ed, true
}

// editorOf fills ed with what the form sent, as sent.
func editorOf(ed *ui.SourceEditor, r *http.Request) {
	f := func(name string) string { return r.PostFormValue(name) }
	ed.Name, ed.Credential, ed.Schedule = strings.TrimSpace(f("name")), strings.TrimSpace(f("credential")), strings.TrimSpace(f("schedule"))
	ed.Timeout, ed.OnMissing, ed.Config = strings.TrimSpace(f("timeout")), f("on_missing"), f("config")
	if ed.New {
		ed.Inventory, ed.Provider = f("inventory"), f("provider")
	}
}

func (s *Server) serveCreateSource(w http.ResponseWriter, r *http.Request, p *uiRequest) {
	if !s.uiForm(w, r, p, sourceFormMax) {
		return
	}
	ed, ok := s.newSourceEditor(w, p)
	if !ok {
		return
	}
	editorOf(&ed, r)
	if err := s.authorizeRequest(p.ctx, "CreateSource", map[string]string{"inventory": ed.Inventory}); err != nil {
		s.uiFail(w, p, err)
		return
	}
	config, doc, yamlProblems := parseConfigYAML(ed.Config)
	provider := ed.Provider
	if provider == "" {
		plugin, _ := config["plugin"].(string)
		provider = gitops.ProviderOfPlugin(plugin)
	}
	var errs roster.FieldErrors
	if ed.OnMissing != string(roster.OnMissingRemove) && ed.OnMissing != string(roster.OnMissingDisable) {
		errs.Add("on_missing", "must be remove or disable")
	}
	if len(yamlProblems) > 0 || len(errs) > 0 {
		// Nothing is created: the other fields are checked as the API
		// checks them, so that every problem shows at once.
		s.sourceFieldChecks(&errs, ed, provider, config, len(yamlProblems) == 0)
		s.editorRefused(w, p, ed, roster.Invalid(errs...), doc, yamlProblems)
		return
	}
	body := SourceCreate{Name: ed.Name, Provider: provider, Config: (*SourceConfig)(&config)}
	if ed.Credential != "" {
		body.Credential = &ed.Credential
	}
	if ed.Schedule != "" {
		body.Schedule = &ed.Schedule
	}
	if ed.Timeout != "" {
		body.Timeout = &ed.Timeout
	}
	onMissing := OnMissing(ed.OnMissing)
	body.OnMissing = &onMissing
	saveSource[CreateSource201JSONResponse](s, w, r, p, sourceSave{
		ed: ed, doc: doc, provider: provider, config: config,
		method: http.MethodPost, path: "/api/v1/inventories/" + url.PathEscape(ed.Inventory) + "/sources", body: body,
	}, func() (CreateSourceResponseObject, error) {
		return s.CreateSource(p.ctx, CreateSourceRequestObject{Inventory: ed.Inventory, Body: &body})
	})
}

// sourceSave is a source editor's submission, ready to send: what the
// editor holds, and the API request it stands for.
type sourceSave struct {
	ed       ui.SourceEditor
	doc      *yaml.Node
	provider string
	config   map[string]any
	method   string
	path     string
	body     any
}

// saveSource ends a source editor's submission the way the API takes the
// request: openapi.yaml's checks, as the API's middleware makes them, then
// the handler's (handle). Refused by the first, the form shows the
// handler's field checks too, every problem at once; refused by the
// handler, the form shows why; saved (an OK answer), the source's page
// comes next.
func saveSource[OK CreateSource201JSONResponse | UpdateSource200JSONResponse, R any](s *Server, w http.ResponseWriter, r *http.Request, p *uiRequest, sv sourceSave, handle func() (R, error)) {
	if err := s.checkBody(p.ctx, sv.method, sv.path, sv.body); err != nil {
		s.editorRefused(w, p, sv.ed, s.withSourceChecks(err, sv.ed, sv.provider, sv.config), sv.doc, nil)
		return
	}
	resp, err := handle()
	if err != nil {
		s.editorRefused(w, p, sv.ed, err, sv.doc, nil)
		return
	}
	saved, ok := any(resp).(OK)
	if !ok {
		s.uiFail(w, p, fmt.Errorf("%s %s: unexpected answer %T", sv.method, sv.path, resp))
		return
	}
	http.Redirect(w, r, ui.SourcePath(sv.ed.Inventory, Source(saved).Name), http.StatusSeeOther)
}

// withSourceChecks adds to err, openapi.yaml's refusal of a source's
// body, the field checks the handler would have made (name, schedule,
// timeout, the provider's options), one problem a field.
func (s *Server) withSourceChecks(err error, ed ui.SourceEditor, provider string, config map[string]any) error {
	if roster.ErrorCode(err) != roster.EINVALID {
		return err
	}
	// The handler's words first; the spec's for fields they leave out.
	var errs roster.FieldErrors
	s.sourceFieldChecks(&errs, ed, provider, config, true)
	for _, fe := range roster.ErrorFields(err) {
		if !slices.ContainsFunc(errs, func(e roster.FieldError) bool { return e.Field == fe.Field }) {
			errs = append(errs, fe)
		}
	}
	return roster.Invalid(errs...)
}

// sourceFieldChecks adds to errs the problems the API's source handlers
// would find in the editor's fields: the name, schedule and timeout, and
// the provider's options when the YAML could be read (configRead).
func (s *Server) sourceFieldChecks(errs *roster.FieldErrors, ed ui.SourceEditor, provider string, config map[string]any, configRead bool) {
	if fe := roster.ValidateName("name", ed.Name); fe != nil {
		*errs = append(*errs, *fe)
	}
	scheduleFields(errs, &ed.Schedule, nil, &ed.Timeout, nil)
	if configRead {
		errs.Merge("", s.engine.Registry().Validate(provider, config))
	}
}

// editorRefused shows the editor again, with what the person sent and
// every problem of err (and of the YAML), each at its line of the YAML
// when it names an option. An error that is not the person's to mend
// (not found, a failure of the server) answers its own page.
func (s *Server) editorRefused(w http.ResponseWriter, p *uiRequest, ed ui.SourceEditor, err error, doc *yaml.Node, yamlProblems []ui.FieldProblem) {
	ed.Problems = yamlProblems
	// 200, as the sign-in form's refusal: the form again, to mend (a
	// browser logs a 4xx page as a failed load). A refusal of the
	// person's rights stays a 403.
	status := http.StatusOK
	if err != nil {
		code := roster.ErrorCode(err)
		switch code {
		case roster.EINVALID, roster.EFORBIDDEN, roster.ECONFLICT:
		case roster.ENOTFOUND:
			if !ed.New {
				s.uiFail(w, p, err)
				return
			}
		default:
			s.uiFail(w, p, err)
			return
		}
		if code == roster.EFORBIDDEN {
			status = http.StatusForbidden
		}
		fields := roster.ErrorFields(err)
		if len(fields) == 0 {
			field := ""
			switch code {
			case roster.ECONFLICT:
				field = "name"
			case roster.ENOTFOUND:
				field = "inventory"
			}
			fields = []roster.FieldError{{Field: field, Message: roster.ErrorMessage(err)}}
		} else if code != roster.EINVALID {
			ed.Message = roster.ErrorMessage(err)
		}
		for _, f := range fields {
			ed.Problems = append(ed.Problems, ui.FieldProblem{Field: f.Field, Line: lineOf(doc, f.Field), Message: f.Message})
		}
	}
	if ed.Message == "" {
		ed.Message = "The source was not saved"
	}
	s.render(w, status, "source-editor", ed)
}

func (s *Server) serveEditSource(w http.ResponseWriter, r *http.Request, p *uiRequest) {
	src, err := s.uiSource(p, r, "UpdateSource")
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	ed := ui.SourceEditor{Page: p.Page, Inventory: r.PathValue("inv"), Original: src.Name, Name: src.Name, Provider: src.Provider,
		Credential: s.credentialName(p, src.CredentialID), Schedule: src.Schedule, OnMissing: string(src.OnMissing), Config: configYAML(src.Config)}
	if src.Timeout > 0 {
		ed.Timeout = src.Timeout.String()
	}
	s.render(w, http.StatusOK, "source-editor", ed)
}

// serveUpdateSource saves the editor's source through UpdateSource: a
// merge patch of what the form changed, its config replaced whole by the
// YAML's (an option deleted from the text is removed).
func (s *Server) serveUpdateSource(w http.ResponseWriter, r *http.Request, p *uiRequest) {
	if !s.uiForm(w, r, p, sourceFormMax) {
		return
	}
	src, err := s.uiSource(p, r, "UpdateSource")
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	ed := ui.SourceEditor{Page: p.Page, Inventory: r.PathValue("inv"), Original: src.Name, Provider: src.Provider}
	editorOf(&ed, r)
	config, doc, yamlProblems := parseConfigYAML(ed.Config)
	patch := map[string]any{"config": replacePatch(src.Config, config)}
	var errs roster.FieldErrors
	if ed.Name != src.Name {
		patch["name"] = ed.Name
	}
	if ed.OnMissing != string(src.OnMissing) {
		if ed.OnMissing != string(roster.OnMissingRemove) && ed.OnMissing != string(roster.OnMissingDisable) {
			errs.Add("on_missing", "must be remove or disable")
		}
		patch["on_missing"] = ed.OnMissing
	}
	if cur := s.credentialName(p, src.CredentialID); ed.Credential != cur && ed.Credential != src.CredentialID {
		patch["credential"] = ed.Credential
	}
	if ed.Schedule != src.Schedule {
		patch["schedule"] = ed.Schedule
	}
	if cur := durationText(src.Timeout); ed.Timeout != cur {
		patch["timeout"] = ed.Timeout
	}
	if len(yamlProblems) > 0 || len(errs) > 0 {
		s.sourceFieldChecks(&errs, ed, src.Provider, config, len(yamlProblems) == 0)
		s.editorRefused(w, p, ed, roster.Invalid(errs...), doc, yamlProblems)
		return
	}
	raw, err := json.Marshal(patch)
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	body := json.RawMessage(raw)
	saveSource[UpdateSource200JSONResponse](s, w, r, p, sourceSave{
		ed: ed, doc: doc, provider: src.Provider, config: config,
		method: http.MethodPatch, path: "/api/v1/sources/" + url.PathEscape(src.ID), body: body,
	}, func() (UpdateSourceResponseObject, error) {
		return s.UpdateSource(p.ctx, UpdateSourceRequestObject{Source: src.ID, JSONBody: &body})
	})
}

func durationText(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return d.String()
}

// replacePatch is the JSON merge patch (RFC 7396) that turns old into
// new: what new lacks is removed (null), objects in both are patched key
// by key, anything else is new's.
func replacePatch(old, new map[string]any) map[string]any {
	out := make(map[string]any, len(new)+len(old))
	for k := range old {
		if _, ok := new[k]; !ok {
			out[k] = nil
		}
	}
	for k, v := range new {
		o, oldObj := old[k].(map[string]any)
		n, newObj := v.(map[string]any)
		if oldObj && newObj {
			out[k] = replacePatch(o, n)
			continue
		}
		out[k] = v
	}
	return out
}

// ---- YAML

// maxYAMLNodes bounds the nodes a source's YAML may expand to, aliases
// followed: a few aliases must not make a huge config.
const maxYAMLNodes = 100_000

var yamlLine = regexp.MustCompile(`line (\d+)`)

// parseConfigYAML reads the editor's YAML, as `roster import` reads a
// plugin file: one YAML document, a mapping, its values as JSON would
// hold them (numbers as float64, nulls in mappings dropped). It returns
// the document's nodes too, to find the line of an option an error
// names. A YAML error is a problem of field "config" at its line.
func parseConfigYAML(text string) (map[string]any, *yaml.Node, []ui.FieldProblem) {
	problem := func(line int, format string, args ...any) []ui.FieldProblem {
		return []ui.FieldProblem{{Field: "config", Line: line, Message: fmt.Sprintf(format, args...)}}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(strings.NewReader(text))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return map[string]any{}, nil, nil
		}
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		line := 0
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = strings.TrimSpace(strings.TrimPrefix(strings.Replace(msg, m[0], "", 1), ":"))
		}
		return nil, nil, problem(line, "the YAML cannot be read: %s", msg)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, nil, problem(extra.Line, "a source's configuration is one YAML document, and this has more")
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return map[string]any{}, &doc, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, nil, problem(root.Line, "the configuration must be a mapping of options (option: value), as a plugin's file is")
	}
	budget := maxYAMLNodes
	v, err := nodeValue(root, &budget)
	if err != nil {
		var ne *nodeError
		if errors.As(err, &ne) {
			return nil, nil, problem(ne.line, "%s", ne.msg)
		}
		return nil, nil, problem(0, "%s", err.Error())
	}
	return v.(map[string]any), &doc, nil
}

type nodeError struct {
	line int
	msg  string
}

func (e *nodeError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// nodeValue is a YAML node's value as JSON would hold it.
func nodeValue(n *yaml.Node, budget *int) (any, error) {
	if *budget--; *budget < 0 {
		return nil, &nodeError{n.Line, fmt.Sprintf("the configuration is too large (over %d values, aliases expanded)", maxYAMLNodes)}
	}
	switch n.Kind {
	case yaml.AliasNode:
		return nodeValue(n.Alias, budget)
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.AliasNode {
				k = k.Alias
			}
			if k.Kind != yaml.ScalarNode || (k.Tag != "!!str" && k.Tag != "!!int" && k.Tag != "!!bool" && k.Tag != "!!float") {
				if k.Tag == "!!merge" {
					return nil, &nodeError{k.Line, "merge keys (<<) are not supported: write the options out"}
				}
				return nil, &nodeError{k.Line, "an option's name must be text"}
			}
			if _, dup := out[k.Value]; dup {
				return nil, &nodeError{k.Line, fmt.Sprintf("option %q is given twice", k.Value)}
			}
			val, err := nodeValue(v, budget)
			if err != nil {
				return nil, err
			}
			if val == nil {
				continue
			}
			out[k.Value] = val
		}
		return out, nil
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, e := range n.Content {
			val, err := nodeValue(e, budget)
			if err != nil {
				return nil, err
			}
			out[i] = val
		}
		return out, nil
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, &nodeError{n.Line, err.Error()}
		}
		if s, ok := gitops.JSONScalar(v); ok {
			return s, nil
		}
		return nil, &nodeError{n.Line, fmt.Sprintf("a %T is not a value a source's option may hold", v)}
	}
	return nil, &nodeError{n.Line, "unexpected YAML"}
}

var fieldPart = regexp.MustCompile(`[^.\[\]]+|\[\d+\]`)

// lineOf is the line of the YAML (doc) where the option field names
// ("config.keyed_groups[1].key") is, or of the nearest option that holds
// it; 0 for a field outside the config.
func lineOf(doc *yaml.Node, field string) int {
	rest, ok := strings.CutPrefix(field, "config")
	if doc == nil || !ok || (rest != "" && rest[0] != '.' && rest[0] != '[') {
		return 0
	}
	n := doc
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	line := 0
	for _, part := range fieldPart.FindAllString(rest, -1) {
		for n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		var next *yaml.Node
		switch {
		case strings.HasPrefix(part, "["):
			i, _ := strconv.Atoi(strings.Trim(part, "[]"))
			if n.Kind == yaml.SequenceNode && i < len(n.Content) {
				next = n.Content[i]
				line = next.Line
			}
		case n.Kind == yaml.MappingNode:
			for j := 0; j+1 < len(n.Content); j += 2 {
				if n.Content[j].Value == part {
					next, line = n.Content[j+1], n.Content[j].Line
					break
				}
			}
		}
		if next == nil {
			break
		}
		n = next
	}
	return line
}

// ---- runs

// runsPage is how many runs the history shows a page; runsScan bounds the
// store pages read to fill one when a filter leaves out most runs.
const (
	runsPage = 50
	runsScan = 10
)

var runStatuses = []string{"queued", "running", "succeeded", "partial", "failed", "canceled"}

type sourceName struct{ inv, name string }

// visibleSources maps the id of every source the caller, acting for the
// operation last authorized, sees to its names.
func (s *Server) visibleSources(ctx context.Context) (map[string]sourceName, []*roster.Inventory, error) {
	groups, err := s.sourcesByInventory(ctx)
	if err != nil {
		return nil, nil, err
	}
	out := map[string]sourceName{}
	invs := make([]*roster.Inventory, len(groups))
	for i, g := range groups {
		invs[i] = g.inv
		for _, src := range g.srcs {
			out[src.ID] = sourceName{g.inv.Name, src.Name}
		}
	}
	return out, invs, nil
}

func (s *Server) serveRuns(w http.ResponseWriter, r *http.Request, p *uiRequest) {
	page := ui.RunList{Page: p.Page, Statuses: runStatuses}
	if err := authorizeCaller(p.ctx, "ListSyncRuns"); err != nil {
		page.Message = "You may not list sync runs: ask an admin for a role binding."
		s.render(w, http.StatusOK, "runs", page)
		return
	}
	names, invs, err := s.visibleSources(p.ctx)
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	for _, n := range names {
		page.Sources = append(page.Sources, n.inv+"/"+n.name)
	}
	slices.Sort(page.Sources)
	q := r.URL.Query()
	page.Source, page.Status = q.Get("source"), q.Get("status")
	if page.Status != "" && !slices.Contains(runStatuses, page.Status) {
		s.uiError(w, p, http.StatusBadRequest, "Refused", "There is no run status "+strconv.Quote(clip(page.Status))+".")
		return
	}
	after, err := cursorParam(q, "after")
	if err != nil {
		s.uiBadQuery(w, p, err)
		return
	}
	f := roster.SyncRunFilter{After: after}
	if page.Source != "" {
		for id, n := range names {
			if n.inv+"/"+n.name == page.Source {
				f.SourceID = id
			}
		}
		if f.SourceID == "" {
			s.uiError(w, p, http.StatusNotFound, "Not found", "There is no source "+strconv.Quote(clip(page.Source))+" you may see.")
			return
		}
	} else if len(invs) == 1 {
		f.InventoryID = invs[0].ID
	}
	next := ""
	if len(names) > 0 {
		for scans := 0; scans < runsScan && len(page.Runs) < runsPage; scans++ {
			f.Limit = runsPage - len(page.Runs)
			runs, after, err := s.store.SyncRuns(p.ctx, f)
			if err != nil {
				s.uiPageFail(w, p, err)
				return
			}
			for _, run := range runs {
				n, ok := names[run.SourceID]
				if !ok || (page.Status != "" && string(run.Status) != page.Status) {
					continue
				}
				page.Runs = append(page.Runs, runRow(run, n.inv, n.name))
			}
			next, f.After = after, after
			if after == "" {
				break
			}
		}
	}
	if next != "" {
		v := url.Values{"after": {next}}
		if page.Source != "" {
			v.Set("source", page.Source)
		}
		if page.Status != "" {
			v.Set("status", page.Status)
		}
		page.Next = ui.RunsPath + "?" + v.Encode()
	}
	s.render(w, http.StatusOK, "runs", page)
}

// readableRun finds run id for the caller of ctx as GetSyncRun would: one
// it may not see is not found, one it sees but may not read is refused.
func (s *Server) readableRun(ctx context.Context, id string) (*roster.SyncRun, error) {
	if err := s.authorizeRequest(ctx, "GetSyncRun", map[string]string{"run": id}); err != nil {
		return nil, err
	}
	return s.syncRun(ctx, id)
}

// changesPage is how many host changes a run's page shows at once.
const changesPage = 50

func (s *Server) serveRun(w http.ResponseWriter, r *http.Request, p *uiRequest) {
	id := r.PathValue("run")
	params := map[string]string{"run": id}
	run, err := s.readableRun(p.ctx, id)
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	inv, src := s.runNames(p.ctx, run)
	page := ui.RunPage{Page: p.Page, Run: runRow(run, inv, src), Warnings: run.Warnings}
	for _, sc := range run.Scopes {
		page.Scopes = append(page.Scopes, ui.Scope{Name: sc.Name, Status: string(sc.Status), Error: sc.Error, Hosts: sc.Hosts, Duration: scopeDuration(sc)})
	}
	if !run.Status.Done() {
		page.Live, page.Progress, page.Events = true, progressOf(run), ui.RunPath(run.ID)+"/events"
		s.render(w, http.StatusOK, "run", page)
		return
	}
	for _, k := range roster.ChangeKinds {
		page.Kinds = append(page.Kinds, string(k))
	}
	q := r.URL.Query()
	page.Kind = q.Get("kind")
	if page.Kind != "" && !roster.ChangeKind(page.Kind).Valid() {
		s.uiError(w, p, http.StatusBadRequest, "Refused", "There is no kind of change "+strconv.Quote(clip(page.Kind))+".")
		return
	}
	if s.may(p, "ListSyncRunChanges", params) && s.wholeInventoryOnly(p.ctx, run.InventoryID, "") == nil {
		page.CanSeeChanges = true
		after, err := cursorParam(q, "after")
		if err != nil {
			s.uiBadQuery(w, p, err)
			return
		}
		changes, next, err := s.store.HostChanges(p.ctx, roster.HostChangeFilter{RunID: run.ID, Kind: roster.ChangeKind(page.Kind), After: after, Limit: changesPage})
		if err != nil {
			s.uiPageFail(w, p, err)
			return
		}
		for _, c := range changes {
			page.Changes = append(page.Changes, changeView(c))
		}
		if next != "" {
			v := url.Values{"after": {next}}
			if page.Kind != "" {
				v.Set("kind", page.Kind)
			}
			page.ChangesNext = ui.RunPath(run.ID) + "?" + v.Encode() + "#changes"
		}
	}
	s.render(w, http.StatusOK, "run", page)
}

func scopeDuration(sc roster.ScopeResult) string {
	if sc.Status == roster.ScopePending {
		return ""
	}
	return ui.Duration(sc.Duration)
}

// runNames are the names of a run's inventory and source (their ids if
// they cannot be read: the source may be gone).
func (s *Server) runNames(ctx context.Context, run *roster.SyncRun) (inv, src string) {
	inv, src = run.InventoryID, run.SourceID
	if i, err := s.store.Inventory(ctx, run.InventoryID); err == nil {
		inv = i.Name
	}
	if sr, err := s.store.Source(ctx, run.SourceID); err == nil {
		src = sr.Name
	}
	return inv, src
}

// changeView is a host's change as the run page shows it: fields first,
// then vars, each key with its old and new JSON.
func changeView(c *roster.HostChange) ui.Change {
	out := ui.Change{Host: c.HostName, Kind: string(c.Kind), Keys: c.ChangedKeys, Truncated: c.Truncated}
	if d := c.Diff; d != nil {
		for _, k := range slices.Sorted(mapKeys(d.Fields)) {
			v := d.Fields[k]
			out.Diff = append(out.Diff, ui.DiffLine{Key: k, Old: string(v.Old), New: string(v.New), Field: true})
		}
		for _, k := range slices.Sorted(mapKeys(d.Vars)) {
			out.Diff = append(out.Diff, varDiff(k, d.Vars[k])...)
		}
		out.Added, out.Removed = d.GroupsAdded, d.GroupsRemoved
	}
	return out
}

// varDiff is the diff of a var: a line per key of it that changed when
// it is an object before and after (tags, say: "tags.owner"), else one
// line of its old and new values.
func varDiff(key string, v roster.ValueChange) []ui.DiffLine {
	var o, n map[string]json.RawMessage
	if json.Unmarshal(v.Old, &o) != nil || json.Unmarshal(v.New, &n) != nil || o == nil || n == nil {
		return []ui.DiffLine{{Key: key, Old: string(v.Old), New: string(v.New)}}
	}
	var out []ui.DiffLine
	for _, k := range slices.Sorted(mapKeys(o)) {
		if nv, ok := n[k]; !ok || string(nv) != string(o[k]) {
			out = append(out, ui.DiffLine{Key: key + "." + k, Old: string(o[k]), New: string(nv)})
		}
	}
	for _, k := range slices.Sorted(mapKeys(n)) {
		if _, ok := o[k]; !ok {
			out = append(out, ui.DiffLine{Key: key + "." + k, New: string(n[k])})
		}
	}
	if len(out) == 0 { // the same members, encoded apart
		return []ui.DiffLine{{Key: key, Old: string(v.Old), New: string(v.New)}}
	}
	return out
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// progressOf is how far a run got, from what its engine last recorded:
// the engine saves the run's scopes as each one ends (UpdateSyncRun), so
// any node of a cluster reads the same progress from the store.
func progressOf(run *roster.SyncRun) ui.Progress {
	p := ui.Progress{Status: string(run.Status), ScopesTotal: len(run.Scopes)}
	for _, sc := range run.Scopes {
		switch sc.Status {
		case roster.ScopeSucceeded:
			p.ScopesDone++
			p.HostsSeen += sc.Hosts
		case roster.ScopeFailed:
			p.ScopesDone++
			p.Failed++
		}
	}
	if run.Status.Done() && run.Counts.Seen > 0 {
		p.HostsSeen = run.Counts.Seen
	}
	return p
}

// ---- schedules

func (s *Server) serveSchedules(w http.ResponseWriter, r *http.Request, p *uiRequest) {
	page := ui.Schedules{Page: p.Page}
	groups, refused, err := s.listedSources(p.ctx)
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	page.Message = refused
	for _, g := range groups {
		for _, src := range g.srcs {
			row := ui.ScheduleRow{Inventory: g.inv.Name, Source: src.Name, Provider: src.Provider, Schedule: src.Schedule}
			if src.Schedule != "" && src.ScheduleJitter > 0 {
				row.Jitter = src.ScheduleJitter.String()
			}
			if src.NextSync != nil {
				row.NextSync = &src.NextSync.Due
			}
			page.Rows = append(page.Rows, row)
		}
	}
	// Scheduled sources by their next sync, then those on demand.
	slices.SortStableFunc(page.Rows, func(a, b ui.ScheduleRow) int {
		switch {
		case a.NextSync != nil && b.NextSync != nil:
			return a.NextSync.Compare(*b.NextSync)
		case a.NextSync != nil:
			return -1
		case b.NextSync != nil:
			return 1
		case a.Enabled() != b.Enabled():
			if a.Enabled() {
				return -1
			}
			return 1
		}
		return 0
	})
	s.render(w, http.StatusOK, "schedules", page)
}

// ---- the live view of a run under way

// liveEventsRoute streams a run's progress as Server-Sent Events. Its
// streams are bounded by liveStreams, not by the admission of requests
// (admission.go), whose places they would hold for minutes.
const liveEventsRoute = "GET " + ui.RunsPath + "/{run}/events"

// Bounds of the live view's streams.
const (
	// MaxLiveStreams is how many streams one server serves at once; more
	// are answered 503 (the page still works: its Refresh link).
	MaxLiveStreams = 64
	// liveLifetime ends a stream, however long its run goes on: the
	// browser's EventSource comes back (after liveRetry), signed in again.
	liveLifetime = 5 * time.Minute
	// livePoll is how often a stream reads its run from the store.
	livePoll = 500 * time.Millisecond
	// liveHeartbeat is the longest a stream stays silent (a comment
	// keeps proxies from closing it, and finds a client gone); the
	// session is checked again as often.
	liveHeartbeat = 15 * time.Second
	// liveWriteWait bounds each write to a slow client.
	liveWriteWait = 10 * time.Second
	liveRetry     = 3 * time.Second
)

// liveStreams serves the live view's event streams of one server, at most
// cap(slots) at once, until the server shuts down (done).
type liveStreams struct {
	s     *Server
	slots chan struct{}
	poll  time.Duration
	done  chan struct{}
	end   sync.Once
	// recheck: how often a stream checks its session and rights again.
	recheck time.Duration

	mu     sync.Mutex
	people map[string]int // streams open by user id
}

func newLiveStreams(s *Server, n int, poll, recheck time.Duration) *liveStreams {
	return &liveStreams{s: s, slots: make(chan struct{}, n), poll: poll, recheck: recheck, done: make(chan struct{}), people: map[string]int{}}
}

// MaxLiveStreamsPerPerson bounds the live views one person (all its
// sessions) has open on a server: one person's tabs cannot take every
// slot.
const MaxLiveStreamsPerPerson = 8

// perPerson takes one of a person's slots, refused when it has them all.
func (l *liveStreams) perPerson(userID string) (release func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.people[userID] >= MaxLiveStreamsPerPerson {
		return nil, roster.Errorf(roster.ETOOMANY, "you follow %d runs already: close a page that follows one", MaxLiveStreamsPerPerson)
	}
	l.people[userID]++
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.people[userID]--; l.people[userID] == 0 {
			delete(l.people, userID)
		}
	}, nil
}

// EndLiveStreams ends the Web UI's live views of runs, and refuses new
// ones (503): a graceful shutdown (http.Server.RegisterOnShutdown) need
// not wait minutes for them. The browsers' EventSource tries again, and
// finds another node or this one restarted.
func (s *Server) EndLiveStreams() { s.live.end.Do(func() { close(s.live.done) }) }

// serve streams a run's progress: a "progress" event at once and at each
// change (scopes done, hosts seen, status), comments as heartbeats, and
// an "end" event with the final counts when the run ends, which ends the
// stream. Progress comes from the store, where the node running the sync
// records each scope as it ends: a stream on any node of a cluster sees
// it.
func (l *liveStreams) serve(w http.ResponseWriter, r *http.Request) {
	s := l.s
	select {
	case <-l.done:
		http.Error(w, "The server is shutting down: refresh the page.", http.StatusServiceUnavailable)
		return
	default:
	}
	// A slot first: what a stream reads to start is bounded by the
	// slots, the request admission being no place for minutes-long
	// streams.
	select {
	case l.slots <- struct{}{}:
		defer func() { <-l.slots }()
	default:
		w.Header().Set("Retry-After", "30")
		http.Error(w, "The server follows as many runs as it takes at once: refresh the page instead.", http.StatusServiceUnavailable)
		return
	}
	id := r.PathValue("run")
	// allowed finds the person of the request's session, and whether it
	// may still read the run: at the start, and again every l.recheck,
	// without counting as the person's use of the session
	// (an open view does not keep an idle session alive).
	allowed := func(touch bool) (context.Context, *roster.SyncRun, error) {
		c, ok, err := s.findSession(r, touch)
		if !ok || (err != nil && roster.ErrorCode(err) == roster.EUNAUTHORIZED) {
			return nil, nil, roster.Errorf(roster.EUNAUTHORIZED, "signed out: sign in again")
		} else if err != nil {
			return nil, nil, err
		}
		ctx := withCaller(r.Context(), c)
		run, err := s.readableRun(ctx, id)
		return ctx, run, err
	}
	ctx, run, err := allowed(true)
	if err == nil {
		var release func()
		if release, err = l.perPerson(callerFrom(ctx).user.ID); err == nil {
			defer release()
		}
	}
	if err != nil {
		status, ok := statusOf[roster.ErrorCode(err)]
		if !ok || roster.ErrorCode(err) == roster.EINTERNAL {
			s.log.Error("starting a live view failed", "err", err)
			http.Error(w, "Roster could not follow the run.", http.StatusInternalServerError)
			return
		}
		http.Error(w, roster.ErrorMessage(err), status)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no") // proxies: pass each event on as it comes
	rc := http.NewResponseController(w)
	lastWrite := time.Now()
	send := func(chunk string) bool {
		// The server's WriteTimeout would cut the stream: each write gets
		// its own deadline instead.
		if err := rc.SetWriteDeadline(time.Now().Add(liveWriteWait)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return false
		}
		if _, err := io.WriteString(w, chunk); err != nil {
			return false
		}
		lastWrite = time.Now()
		return rc.Flush() == nil
	}
	event := func(name string, p ui.Progress) bool {
		data, err := json.Marshal(p)
		if err != nil {
			return false
		}
		return send("event: " + name + "\ndata: " + string(data) + "\n\n")
	}
	w.WriteHeader(http.StatusOK)
	if !send(fmt.Sprintf("retry: %d\n\n", liveRetry.Milliseconds())) {
		return
	}
	end := time.NewTimer(liveLifetime)
	defer end.Stop()
	tick := time.NewTicker(l.poll)
	defer tick.Stop()
	var last ui.Progress
	checked := time.Now()
	for first := true; ; first = false {
		p := progressOf(run)
		if run.Status.Done() {
			event("end", p)
			return
		}
		if first || p != last {
			if !event("progress", p) {
				return
			}
			last = p
		}
		select {
		case <-ctx.Done():
			return
		case <-end.C:
			return
		case <-l.done:
			return
		case <-tick.C:
		}
		var next *roster.SyncRun
		if time.Since(checked) >= l.recheck {
			// Signed out, ended, or no longer allowed: the stream ends
			// (the page's Refresh shows why).
			if _, next, err = allowed(false); err != nil {
				if roster.ErrorCode(err) == roster.EINTERNAL && ctx.Err() == nil {
					s.log.Warn("following a run failed", "run", id, "err", err)
				}
				return
			}
			checked = time.Now()
		} else if next, err = s.store.SyncRun(ctx, id); err != nil {
			if ctx.Err() == nil {
				s.log.Warn("following a run failed", "run", id, "err", err)
			}
			return
		}
		if time.Since(lastWrite) >= liveHeartbeat && !send(": still here\n\n") {
			return
		}
		run = next
	}
}
