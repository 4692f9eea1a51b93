package api

import "net/http"

// mountAdminPages mounts the Web UI's pages of credentials, access (grants, runners, tokens), people (users, teams), webhooks and audit.
func (s *Server) mountAdminPages(mux *http.ServeMux) {}
