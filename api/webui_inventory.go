package api

import "net/http"

// mountInventoryPages mounts the Web UI's pages of inventories, their hosts (search, host pages with history) and groups.
func (s *Server) mountInventoryPages(mux *http.ServeMux) {}
