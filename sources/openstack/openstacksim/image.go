package openstacksim

import (
	"net/http"
	"strconv"
)

// glanceDefaultLimit is Glance's page size without a limit parameter.
const glanceDefaultLimit = 25

func (s *Server) image(q *request, rest string) {
	switch rest {
	case "/":
		if q.admit(OpVersions, q.glanceError) {
			q.writeJSON(http.StatusMultipleChoices, s.glanceVersions(q))
		}
		return
	}
	t, ok := s.listing(q, rest == "/v2/images", q.glanceError)
	if ok && q.admit(OpImages, q.glanceError) {
		s.listImages(q, t)
	}
}

// glanceError answers in Glance's error format.
func (q *request) glanceError(status int, msg string) {
	if status == http.StatusUnauthorized {
		q.keystoneError(status, msg)
		return
	}
	w := getW()
	defer putW(w)
	w.obj("")
	w.str("message", msg)
	w.str("code", strconv.Itoa(status)+" "+http.StatusText(status))
	w.str("title", http.StatusText(status))
	w.endObj()
	q.writeJSON(status, w.b)
}

func (s *Server) glanceVersions(q *request) []byte {
	w := getW()
	defer putW(w)
	w.list("versions")
	for i, v := range []string{"v2.16", "v2.15", "v2.9"} {
		w.obj("")
		w.str("id", v)
		if i == 0 {
			w.str("status", "CURRENT")
		} else {
			w.str("status", "SUPPORTED")
		}
		w.links("self", q.base, imagePath, q.region, "/v2/")
		w.endObj()
	}
	w.endArr()
	w.endObj()
	return append([]byte(nil), w.b...)
}

// listImages answers GET /v2/images: the public images and the project's
// own (every image for an admin), limit/marker paging with a relative next
// link while a page is full.
func (s *Server) listImages(q *request, t *token) {
	query := q.R.URL.Query()
	limit := glanceDefaultLimit
	if v := query.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			q.glanceError(http.StatusBadRequest, "limit param must be an integer")
			return
		}
		limit = min(n, s.maxLimit)
	}
	s.fleet.core.RLock()
	rs := s.fleet.byRegion[q.region]
	var visible []*Image
	for _, img := range rs.images {
		if t.admin || img.Visibility == "public" || img.Owner == t.project.id {
			visible = append(visible, img)
		}
	}
	s.fleet.core.RUnlock()
	start, end, ok := markerPage(visible, query.Get("marker"), limit, func(img *Image) string { return img.ID })
	if !ok {
		q.glanceError(http.StatusBadRequest, "marker not found")
		return
	}
	w := getW()
	defer putW(w)
	w.list("images")
	for _, img := range visible[start:end] {
		w.named("", img.ID, img.Name)
		w.str("status", "active")
		w.str("visibility", img.Visibility)
		w.str("owner", img.Owner)
		w.str("container_format", "bare")
		w.str("disk_format", "qcow2")
		w.int("min_disk", img.MinDisk)
		w.int("min_ram", 0)
		w.int("size", int(img.Size))
		w.null("virtual_size")
		w.str("checksum", img.Checksum)
		w.str("os_hash_algo", "sha512")
		w.str("os_hash_value", img.Checksum+img.Checksum+img.Checksum+img.Checksum)
		w.bool("protected", false)
		w.bool("os_hidden", false)
		w.strs("tags", nil)
		w.str("created_at", img.created)
		w.str("updated_at", img.created)
		w.str("self", "/v2/images/"+img.ID)
		w.str("file", "/v2/images/"+img.ID+"/file")
		w.str("schema", "/v2/schemas/image")
		w.endObj()
	}
	w.endArr()
	w.str("first", "/v2/images")
	w.str("schema", "/v2/schemas/images")
	if end-start == limit && limit > 0 && end < len(visible) {
		next := nextQuery(query, visible[end-1].ID)
		w.str("next", "/v2/images?"+next)
	}
	w.endObj()
	q.writeJSON(http.StatusOK, w.b)
}
