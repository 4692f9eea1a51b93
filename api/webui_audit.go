package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api/ui"
)

// The audit stream and the webhooks' deliveries: read-only pages, paged
// on the server's side with bounded parameters.

func (s *Server) mountAuditPages(mux *http.ServeMux) {
	mux.HandleFunc("GET /ui/audit", s.signedIn("Audit", s.serveAudit))
	mux.HandleFunc("GET /ui/webhooks", s.signedIn("Webhooks", s.serveWebhooks))
	mux.HandleFunc("GET /ui/webhooks/{webhook}", s.signedIn("Webhooks", s.serveWebhook))
}

const (
	// auditPage is the audit page's default number of records; auditMax
	// the most a person may ask for.
	auditPage, auditMax = 50, 200
	// auditScan bounds the store pages one audit page reads while a time
	// range skips records: past it, the page ends early with a link on.
	auditScan = 10
	// deliveriesPage is the number of deliveries a webhook's page shows.
	deliveriesPage = 25
	// filterMax bounds a filter's length.
	filterMax = 128
)

// auditTimeLayouts are the times the audit filter takes: a browser's
// datetime-local input, a date, or RFC 3339.
var auditTimeLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02", time.RFC3339}

func parseAuditTime(field, v string) (time.Time, error) {
	for _, layout := range auditTimeLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, roster.Invalid(roster.FieldError{Field: field, Message: "must be a time such as 2026-12-07T14:30 (UTC) or a date such as 2026-12-07"})
}

// auditQuery reads the audit page's filter: every field bounded, times
// parsed, since before until.
func auditQuery(q url.Values) (f ui.AuditFilter, since, until time.Time, cursor string, err error) {
	var errs roster.FieldErrors
	get := func(name string) string {
		v := strings.TrimSpace(q.Get(name))
		if len(v) > filterMax {
			errs.Add(name, "must be at most %d characters", filterMax)
			return ""
		}
		return v
	}
	f = ui.AuditFilter{Actor: get("actor"), Action: get("action"), Target: get("target"), Since: get("since"), Until: get("until"), Limit: auditPage}
	if cursor, err = cursorParam(q, "cursor"); err != nil {
		errs.Add("cursor", "is not a cursor of a previous page")
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > auditMax {
			errs.Add("limit", "must be a number from 1 to %d", auditMax)
		} else {
			f.Limit = n
		}
	}
	if f.Since != "" {
		if since, err = parseAuditTime("since", f.Since); err != nil {
			errs = append(errs, roster.ErrorFields(err)...)
		}
	}
	if f.Until != "" {
		if until, err = parseAuditTime("until", f.Until); err != nil {
			errs = append(errs, roster.ErrorFields(err)...)
		}
	}
	if !since.IsZero() && !until.IsZero() && until.Before(since) {
		errs.Add("until", "must not be before since")
	}
	return f, since, until, cursor, errs.Err()
}

// serveAudit shows the audit stream newest first, as GET /api/v1/audit
// lists it, filtered by actor, action and target there and by time
// here: a time range reads at most auditScan store pages per page.
func (s *Server) serveAudit(w http.ResponseWriter, r *http.Request, p *uiRequest) {
	ctx, err := s.apiAs(p, "ListAuditEvents", nil)
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	f, since, until, cursor, err := auditQuery(r.URL.Query())
	if err != nil {
		s.uiBadQuery(w, p, err)
		return
	}
	page := ui.Audit{Page: p.Page, Filter: f}
	params := ListAuditEventsParams{Actor: optional(f.Actor), Action: optional(f.Action), Target: optional(f.Target)}
	next, done := cursor, false
	for scanned := 0; !done && len(page.Events) < f.Limit; scanned++ {
		if scanned == auditScan {
			page.Message = fmt.Sprintf("Searched %d pages of records for the time range: older ones are on the next page.", auditScan)
			break
		}
		params.Cursor, params.Limit = optional(next), ptr(f.Limit-len(page.Events))
		resp, err := s.ListAuditEvents(ctx, ListAuditEventsRequestObject{Params: params})
		if err != nil {
			s.uiBadQuery(w, p, err)
			return
		}
		list := resp.(ListAuditEvents200JSONResponse)
		for _, e := range list.Items {
			if !until.IsZero() && e.Time.After(until) {
				continue
			}
			if !since.IsZero() && e.Time.Before(since) {
				done = true
				break
			}
			page.Events = append(page.Events, ui.AuditEvent{Time: timeOf(e.Time), LastTime: timeOf(e.LastTime), Count: e.Count,
				Actor: e.Actor, Action: e.Action, Outcome: string(e.Outcome), TargetType: e.TargetType, TargetName: deref(e.TargetName),
				Target: e.TargetId, Reason: deref(e.Reason)})
		}
		next = deref(list.NextCursor)
		done = done || next == ""
	}
	if !done && next != "" {
		q := url.Values{}
		for k, v := range map[string]string{"actor": f.Actor, "action": f.Action, "target": f.Target, "since": f.Since, "until": f.Until, "cursor": next} {
			if v != "" {
				q.Set(k, v)
			}
		}
		if f.Limit != auditPage {
			q.Set("limit", strconv.Itoa(f.Limit))
		}
		page.Next = "/ui/audit?" + q.Encode()
	}
	s.render(w, http.StatusOK, "audit", page)
}

// serveWebhooks lists the webhooks the person sees, as GET
// /api/v1/webhooks: their URLs only as scheme://host/….
func (s *Server) serveWebhooks(w http.ResponseWriter, r *http.Request, p *uiRequest) {
	ctx, err := s.apiAs(p, "ListWebhooks", nil)
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	resp, err := s.ListWebhooks(ctx, ListWebhooksRequestObject{})
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	page := ui.Webhooks{Page: p.Page}
	for _, h := range resp.(ListWebhooks200JSONResponse).Items {
		page.Items = append(page.Items, s.webhookView(p, h))
	}
	s.render(w, http.StatusOK, "webhooks", page)
}

// webhookView names a webhook's inventory and source.
func (s *Server) webhookView(p *uiRequest, h Webhook) ui.Webhook {
	out := ui.Webhook{ID: h.Id, Name: h.Name, Inventory: h.InventoryId, URL: h.Url, Format: string(h.Type), Enabled: h.Enabled}
	if inv, err := s.store.Inventory(p.ctx, h.InventoryId); err == nil {
		out.Inventory = inv.Name
	}
	if h.SourceId != nil {
		out.Source = *h.SourceId
		if src, err := s.store.Source(p.ctx, *h.SourceId); err == nil {
			out.Source = src.Name
		}
	}
	for _, e := range h.Events {
		out.Events = append(out.Events, string(e))
	}
	return out
}

// serveWebhook shows a webhook's delivery attempts, newest first, a page
// at a time, as GET /api/v1/webhooks/{webhook}/deliveries.
func (s *Server) serveWebhook(w http.ResponseWriter, r *http.Request, p *uiRequest) {
	ref := r.PathValue("webhook")
	params := map[string]string{"webhook": ref}
	ctx, err := s.apiAs(p, "GetWebhook", params)
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	hresp, err := s.GetWebhook(ctx, GetWebhookRequestObject{Webhook: ref})
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	hook := hresp.(GetWebhook200JSONResponse)
	cursor, err := cursorParam(r.URL.Query(), "cursor")
	if err != nil {
		s.uiBadQuery(w, p, err)
		return
	}
	if ctx, err = s.apiAs(p, "ListWebhookDeliveries", params); err != nil {
		s.uiFail(w, p, err)
		return
	}
	dresp, err := s.ListWebhookDeliveries(ctx, ListWebhookDeliveriesRequestObject{Webhook: ref,
		Params: ListWebhookDeliveriesParams{Cursor: optional(cursor), Limit: ptr(deliveriesPage)}})
	if err != nil {
		s.uiBadQuery(w, p, err)
		return
	}
	list := dresp.(ListWebhookDeliveries200JSONResponse)
	page := ui.WebhookPage{Page: p.Page, Webhook: s.webhookView(p, Webhook(hook))}
	for _, d := range list.Items {
		out := ui.Delivery{Time: timeOf(d.Time), Event: string(d.Event), Outcome: string(d.Outcome), Run: d.RunId,
			Error: deref(d.Error), Attempt: d.Attempt, DurationMs: d.DurationMs}
		if d.StatusCode != nil {
			out.Status = *d.StatusCode
		}
		page.Deliveries = append(page.Deliveries, out)
	}
	if list.NextCursor != nil {
		page.Next = "/ui/webhooks/" + url.PathEscape(ref) + "?" + url.Values{"cursor": {*list.NextCursor}}.Encode()
	}
	s.render(w, http.StatusOK, "webhook", page)
}
