package api

// ForgetGroupTrees drops the group trees the Web UI keeps, as a restart
// of the server does: the next view of a groups page builds its tree
// while the person waits (the benchmark's "groups-first-view").
func (s *Server) ForgetGroupTrees() {
	s.groupTrees.mu.Lock()
	defer s.groupTrees.mu.Unlock()
	s.groupTrees.m = nil
}
