package control

import "net/http"

// WireGuardRotateAnswer is the answer of POST /wireguard/rotate: the
// host's public keys before and after.
type WireGuardRotateAnswer struct {
	Old, New string
}

// handleWireGuardRotate replaces this host's WireGuard key pair.
func (s *Server) handleWireGuardRotate(w http.ResponseWriter, _ *http.Request) {
	if s.d.RotateWireGuard == nil {
		fail(w, http.StatusConflict, "this host has no WireGuard device (weavego status says why under encryption), "+
			"so it has no WireGuard key to replace")
		return
	}
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	old, cur, err := s.d.RotateWireGuard()
	if err != nil {
		fail(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, WireGuardRotateAnswer{Old: old, New: cur})
}
