package api

import "net/http"

// mountSourcePages mounts the Web UI's pages of sources (editor, Sync now), runs (history, live view, change log).
func (s *Server) mountSourcePages(mux *http.ServeMux) {}
