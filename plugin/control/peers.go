package control

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/weavego/weavego/mesh"
)

// connectTimeout bounds the join weavego connect waits for; the client
// gives up after 15 s.
const connectTimeout = 10 * time.Second

// peerArg returns the host query parameter of cmd, at most maxLen bytes, or
// answers the error itself.
func peerArg(w http.ResponseWriter, r *http.Request, usage string, maxLen int) (string, bool) {
	host := r.URL.Query().Get("host")
	switch {
	case host == "":
		fail(w, http.StatusBadRequest, "name the host"+usage)
		return "", false
	case len(host) > maxLen:
		fail(w, http.StatusBadRequest, fmt.Sprintf("a host name is at most %d bytes", maxHostName))
		return "", false
	}
	return host, true
}

func (s *Server) handleRmpeer(w http.ResponseWriter, r *http.Request) {
	host, ok := peerArg(w, r, " to remove: weavego rmpeer HOST", maxHostName)
	if !ok {
		return
	}
	if !s.known(host) {
		fail(w, http.StatusNotFound, fmt.Sprintf("%q is not a member of this cluster and holds no address space: "+
			"see `weavego status peers` and `weavego status ipam` for the names", host))
		return
	}
	if err := s.d.Alloc.RemovePeer(r.Context(), host); err != nil {
		fail(w, http.StatusConflict, err.Error())
		return
	}
	s.log.Info("address space of a removed peer taken over", "peer", host)
	done(w, "address space of "+host+" taken over")
}

// known reports whether host is in the mesh's peer table or holds address
// space in a pool.
func (s *Server) known(host string) bool {
	if s.d.Mesh == nil {
		return false
	}
	for _, peer := range s.d.Mesh.Peers() {
		if peer.Name == host {
			return true
		}
	}
	for _, pool := range s.d.Alloc.Status().Pools {
		for _, h := range pool.Hosts {
			if h.Host == host {
				return true
			}
		}
	}
	return false
}

func (s *Server) handleConnect(w http.ResponseWriter, r *http.Request) {
	s.changePeers(w, r, "connect", http.StatusConflict, "peer added at run time", s.connect)
}

func (s *Server) handleForget(w http.ResponseWriter, r *http.Request) {
	s.changePeers(w, r, "forget", http.StatusNotFound, "peer forgotten at run time", s.forget)
}

// changePeers answers `weavego connect` and `weavego forget`: change runs
// with the host asked for, and a failure is answered with failStatus.
func (s *Server) changePeers(w http.ResponseWriter, r *http.Request, cmd string, failStatus int, logMsg string,
	change func(context.Context, string) (string, error)) {
	host, ok := peerArg(w, r, ": weavego "+cmd+" HOST[:PORT]", maxHostName+6)
	if !ok {
		return
	}
	if s.d.Mesh == nil {
		fail(w, http.StatusNotImplemented, "this plugin does not change peers at run time")
		return
	}
	msg, err := change(r.Context(), host)
	if err != nil {
		fail(w, failStatus, err.Error())
		return
	}
	s.log.Info(logMsg, "peer_addr", host)
	done(w, msg)
}

// connect adds host to the peers joined now and after restarts.
func (s *Server) connect(ctx context.Context, host string) (string, error) {
	addr, err := mesh.NormalizePeer(host)
	if err != nil {
		return "", fmt.Errorf("%q is not host[:port]: %w", host, err)
	}
	if err := s.d.Saved.Change(func(l []string) []string {
		if slices.Contains(l, addr) {
			return l
		}
		return append(l, addr)
	}); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if _, err := s.d.Mesh.Connect(ctx, addr); err != nil {
		return "", fmt.Errorf("added %s to the peers, but joining it failed for now (retried in the background): %v; "+
			"check that TCP and UDP %s reach it and that it runs weavego with the same KEY", addr, err, portOf(addr))
	}
	return fmt.Sprintf("connected to %s (%d members); kept across restarts, `weavego forget %s` drops it",
		addr, s.d.Mesh.Members(), host), nil
}

// forget removes host from the peers joined now and after restarts.
func (s *Server) forget(_ context.Context, host string) (string, error) {
	addr, wasTarget, err := s.d.Mesh.Forget(host)
	if err != nil {
		return "", fmt.Errorf("%q is not host[:port]: %w", host, err)
	}
	saved := false
	if err := s.d.Saved.Change(func(l []string) []string {
		n := len(l)
		l = slices.DeleteFunc(l, func(s string) bool { return s == addr })
		saved = len(l) != n
		return l
	}); err != nil {
		return "", err
	}
	switch {
	case !wasTarget && !saved:
		return "", fmt.Errorf("%s is not among the peers this host joins: see `weavego status --json` (Peers)", addr)
	case slices.Contains(s.cfg.SettingPeers, addr):
		return fmt.Sprintf("forgot %s until the plugin restarts: it is in the PEERS setting; remove it there "+
			"(docker plugin set) to forget it for good", addr), nil
	}
	return fmt.Sprintf("forgot %s: no longer joined; a member stays one until it leaves "+
		"(`weavego rmpeer NAME` takes over the address space of a host gone for good)", addr), nil
}

// portOf is the port of host:port, or the default gossip port.
func portOf(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[i+1:]
		}
	}
	return fmt.Sprint(mesh.DefaultPort)
}
