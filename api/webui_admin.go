package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api/ui"
)

// The Web UI's administration pages: credentials, access (grants,
// runners, tokens), people, webhooks and the audit stream. Each page
// does what the API's operation does, through the API's own handler:
// the operation is authorized for the person as the API's middleware
// authorizes it (apiAs), a form's body is checked against openapi.yaml
// as the API checks a request's (checkBody), and the strict-server
// method does the rest (its validation, scope and audit).

// mountAdminPages mounts the Web UI's pages of credentials, access
// (grants, runners, tokens), people (users, teams), webhooks and audit.
func (s *Server) mountAdminPages(mux *http.ServeMux) {
	mux.HandleFunc("GET /ui/credentials", s.signedIn("Credentials", s.serveCredentials))
	mux.HandleFunc("POST /ui/credentials", s.signedIn("Credentials", s.serveCreateCredential))
	mux.HandleFunc("GET /ui/credentials/{credential}", s.signedIn("Credentials", s.serveCredential))
	mux.HandleFunc("POST /ui/credentials/{credential}", s.signedIn("Credentials", s.serveUpdateCredential))
	mux.HandleFunc("POST /ui/credentials/{credential}/delete", s.signedIn("Credentials", s.serveDeleteCredential))
	s.mountAccessPages(mux)
	s.mountPeoplePages(mux)
	s.mountAuditPages(mux)
}

// uiSpec checks a form's body as the API's middleware checks a request.
var uiSpec = sync.OnceValues(newValidator)

// checkBody checks body, sent to method path of the API, against
// openapi.yaml: the same field errors as the API would answer.
func (s *Server) checkBody(ctx context.Context, method, path string, body any) error {
	v, err := uiSpec()
	if err != nil {
		return err
	}
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode the form: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, method, path, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("check the form: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	route, params, err := v.findRoute(req)
	if err != nil {
		return fmt.Errorf("route %s %s: %w", method, path, err)
	}
	if err := openapi3filter.ValidateRequest(ctx, &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	}); err != nil {
		return requestError(err)
	}
	return nil
}

// uiRefuse answers a form the API refused: for bad input, every field's
// error at once; otherwise as uiFail. Nothing was changed.
func (s *Server) uiRefuse(w http.ResponseWriter, p *uiRequest, err error) {
	s.uiInvalid(w, p, err, "Nothing was changed: ")
}

// uiBadQuery answers a page whose query (a filter, a cursor) is refused,
// as uiRefuse answers a form.
func (s *Server) uiBadQuery(w http.ResponseWriter, p *uiRequest, err error) {
	s.uiInvalid(w, p, err, "This page cannot be shown: ")
}

func (s *Server) uiInvalid(w http.ResponseWriter, p *uiRequest, err error, lead string) {
	if roster.ErrorCode(err) != roster.EINVALID {
		s.uiFail(w, p, err)
		return
	}
	var msg strings.Builder
	msg.WriteString(lead)
	msg.WriteString(roster.ErrorMessage(err))
	for i, f := range roster.ErrorFields(err) {
		if i == 0 {
			msg.WriteString(": ")
		} else {
			msg.WriteString("; ")
		}
		if f.Field != "" {
			msg.WriteString(f.Field + ": ")
		}
		msg.WriteString(f.Message)
	}
	msg.WriteString(".")
	s.uiError(w, p, http.StatusBadRequest, "Refused", msg.String())
}

// seeOther sends the browser to path after a form did what it asked.
func seeOther(w http.ResponseWriter, r *http.Request, path string) {
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// apiPath is the API's path of prefix and an escaped name.
func apiPath(prefix, name string) string { return prefix + url.PathEscape(name) }

func timeOf(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// ---- credentials

// serveCredentials lists the credentials the person sees, as GET
// /api/v1/credentials does: their metadata, never a secret. With
// ?new=TYPE it shows the form that creates a credential of TYPE.
func (s *Server) serveCredentials(w http.ResponseWriter, r *http.Request, p *uiRequest) {
	if t := r.URL.Query().Get("new"); t != "" {
		s.serveNewCredential(w, p, t)
		return
	}
	ctx, err := s.apiAs(p, "ListCredentials", nil)
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	resp, err := s.ListCredentials(ctx, ListCredentialsRequestObject{})
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	page := ui.Credentials{Page: p.Page}
	for _, c := range resp.(ListCredentials200JSONResponse).Items {
		out := credentialView(c)
		out.CanChange = s.may(p, "UpdateCredential", map[string]string{"credential": c.Id})
		page.Items = append(page.Items, out)
	}
	if s.may(p, "CreateCredential", nil) {
		for _, schema := range roster.CredentialSchemas() {
			page.Types = append(page.Types, credentialType(schema, nil))
		}
	}
	s.render(w, http.StatusOK, "credentials", page)
}

// credentialView is a credential's metadata for a page: the plain fields'
// values, and for the secret ones only whether they are set.
func credentialView(c Credential) ui.Credential {
	schema, _ := roster.SchemaOf(roster.CredentialType(c.Type))
	return ui.Credential{Name: c.Name, Type: string(c.Type), Description: c.Description, Backend: string(c.Backend),
		Version: c.Version, Updated: timeOf(c.UpdatedAt), Fields: credentialType(schema, &c).Fields}
}

// credentialType is schema's fields, with c's plain values and which of
// its secret fields are set (c nil: a new credential).
func credentialType(schema roster.CredentialSchema, c *Credential) ui.CredentialType {
	out := ui.CredentialType{Type: string(schema.Type), Description: schema.Description}
	for _, f := range schema.Fields {
		field := ui.CredentialField{Name: f.Name, Description: f.Description, Secret: f.Secret, Required: f.Required,
			Multiline: strings.HasSuffix(f.Name, "_json")}
		if c != nil {
			if f.Secret {
				for _, set := range c.SecretsSet {
					field.Set = field.Set || set == f.Name
				}
			} else {
				field.Value = c.Fields[f.Name]
			}
		}
		out.Fields = append(out.Fields, field)
	}
	return out
}

func (s *Server) serveNewCredential(w http.ResponseWriter, p *uiRequest, typ string) {
	if _, err := s.apiAs(p, "CreateCredential", nil); err != nil {
		s.uiFail(w, p, err)
		return
	}
	schema, ok := roster.SchemaOf(roster.CredentialType(typ))
	if !ok {
		s.uiError(w, p, http.StatusBadRequest, "Refused", "There is no credential type "+clip(typ)+".")
		return
	}
	s.render(w, http.StatusOK, "credential", ui.CredentialPage{Page: p.Page, New: true, Type: credentialType(schema, nil)})
}

// credentialFields are the form's field.NAME inputs of schema's fields:
// a plain field's value when it differs from current (nil: all given), a
// secret field's only when typed (empty: keep the stored value).
func credentialFields(r *http.Request, schema roster.CredentialSchema, current map[string]string) map[string]string {
	out := map[string]string{}
	for _, f := range schema.Fields {
		v, sent := r.PostForm["field."+f.Name]
		if !sent {
			continue
		}
		value := v[0]
		switch {
		case f.Secret && value == "":
		case f.Secret:
			out[f.Name] = value
		case current == nil && value != "":
			out[f.Name] = value
		case current != nil && value != current[f.Name]:
			out[f.Name] = value
		}
	}
	return out
}

// serveCreateCredential creates a credential, as POST /api/v1/credentials.
func (s *Server) serveCreateCredential(w http.ResponseWriter, r *http.Request, p *uiRequest) {
	if !s.uiForm(w, r, p, 0) {
		return
	}
	ctx, err := s.apiAs(p, "CreateCredential", nil)
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	schema, _ := roster.SchemaOf(roster.CredentialType(r.PostFormValue("type")))
	body := CreateCredentialJSONRequestBody{Name: r.PostFormValue("name"), Type: CredentialType(r.PostFormValue("type")),
		Description: optional(r.PostFormValue("description")), Fields: credentialFields(r, schema, nil)}
	if err := s.checkBody(ctx, http.MethodPost, "/api/v1/credentials", body); err != nil {
		s.uiRefuse(w, p, err)
		return
	}
	resp, err := s.CreateCredential(ctx, CreateCredentialRequestObject{Body: &body})
	if err != nil {
		s.uiRefuse(w, p, err)
		return
	}
	seeOther(w, r, "/ui/credentials/"+url.PathEscape(resp.(CreateCredential201JSONResponse).Name))
}

// serveCredential shows one credential, and the form that updates it
// when the person may.
func (s *Server) serveCredential(w http.ResponseWriter, r *http.Request, p *uiRequest) {
	ref := r.PathValue("credential")
	c, err := s.uiCredential(p, ref)
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	page := ui.CredentialPage{Page: p.Page, Credential: credentialView(*c)}
	schema, _ := roster.SchemaOf(roster.CredentialType(c.Type))
	page.Type = credentialType(schema, c)
	page.Credential.CanChange = s.may(p, "UpdateCredential", map[string]string{"credential": ref})
	s.render(w, http.StatusOK, "credential", page)
}

// uiCredential reads a credential as GET /api/v1/credentials/{ref} does.
func (s *Server) uiCredential(p *uiRequest, ref string) (*Credential, error) {
	ctx, err := s.apiAs(p, "GetCredential", map[string]string{"credential": ref})
	if err != nil {
		return nil, err
	}
	resp, err := s.GetCredential(ctx, GetCredentialRequestObject{Credential: ref})
	if err != nil {
		return nil, err
	}
	c := Credential(resp.(GetCredential200JSONResponse))
	return &c, nil
}

// serveUpdateCredential updates a credential, as PATCH
// /api/v1/credentials/{credential}: an empty secret input keeps the
// stored secret.
func (s *Server) serveUpdateCredential(w http.ResponseWriter, r *http.Request, p *uiRequest) {
	if !s.uiForm(w, r, p, 0) {
		return
	}
	ref := r.PathValue("credential")
	params := map[string]string{"credential": ref}
	ctx, err := s.apiAs(p, "UpdateCredential", params)
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	c, err := s.uiCredential(p, ref)
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	schema, _ := roster.SchemaOf(roster.CredentialType(c.Type))
	var body UpdateCredentialJSONRequestBody
	if name := r.PostFormValue("name"); name != "" && name != c.Name {
		body.Name = &name
	}
	if d, sent := r.PostForm["description"]; sent && d[0] != c.Description {
		body.Description = &d[0]
	}
	if fields := credentialFields(r, schema, c.Fields); len(fields) > 0 {
		body.Fields = &fields
	}
	if err := s.checkBody(ctx, http.MethodPatch, apiPath("/api/v1/credentials/", ref), body); err != nil {
		s.uiRefuse(w, p, err)
		return
	}
	resp, err := s.UpdateCredential(ctx, UpdateCredentialRequestObject{Credential: ref, Body: &body})
	if err != nil {
		s.uiRefuse(w, p, err)
		return
	}
	seeOther(w, r, "/ui/credentials/"+url.PathEscape(resp.(UpdateCredential200JSONResponse).Name))
}

// serveDeleteCredential deletes a credential, as DELETE
// /api/v1/credentials/{credential}.
func (s *Server) serveDeleteCredential(w http.ResponseWriter, r *http.Request, p *uiRequest) {
	if !s.uiForm(w, r, p, 0) {
		return
	}
	ref := r.PathValue("credential")
	ctx, err := s.apiAs(p, "DeleteCredential", map[string]string{"credential": ref})
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	if _, err := s.DeleteCredential(ctx, DeleteCredentialRequestObject{Credential: ref}); err != nil {
		s.uiRefuse(w, p, err)
		return
	}
	seeOther(w, r, "/ui/credentials")
}
