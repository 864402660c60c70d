// Package control serves the API of the weavego command on the plugin's
// unix sockets: the control socket serves every command, the status socket
// only what reads and reveals no secret. Whoever can open a socket is
// trusted with what it serves: the kernel checks the socket's mode against
// the caller's user and all its groups when it connects (root and
// CONTROL_GROUP on the control socket, root and STATUS_GROUP on the status
// socket), so the server never has to tell who calls.
//
// The package owns the routes, their answers and the sockets. It holds no
// state of its own: the status, the peers, the address space and the keys
// are the daemon's, reached through the small interfaces below.
package control

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"

	"github.com/weavego/weavego/ipalloc"
	"github.com/weavego/weavego/mesh"
	"github.com/weavego/weavego/plugin/keyring"
	"github.com/weavego/weavego/plugin/status"
)

// Control API bounds: every request is small, and a host name is a DNS name.
const (
	// MaxBody bounds a request's body and its header.
	MaxBody     = 64 << 10
	maxHostName = 253
)

// StatusSource gives the report of GET /status.
type StatusSource interface {
	Report() status.Report
}

// Mesh is what the peer commands read and change of the mesh (*mesh.Mesh).
type Mesh interface {
	Peers() []mesh.Peer
	Members() int
	Connect(ctx context.Context, peer string) (string, error)
	Forget(peer string) (string, bool, error)
}

// SavedPeers keeps the peers added with weavego connect across restarts
// (*mesh.SavedPeers).
type SavedPeers interface {
	Change(f func([]string) []string) error
}

// Allocator is what weavego rmpeer reads and changes of the address space
// (*ipalloc.Allocator).
type Allocator interface {
	Status() ipalloc.Status
	RemovePeer(ctx context.Context, host string) error
}

// Ring is the keyring the key commands change: the mesh's, wrapped in a
// keyring.HistoryRing so that removals are remembered.
type Ring interface {
	Keys() [][]byte
	InstallKey(key []byte) error
	UseKey(key []byte) error
	RemoveKey(key []byte) error
}

var (
	_ Mesh       = (*mesh.Mesh)(nil)
	_ SavedPeers = (*mesh.SavedPeers)(nil)
	_ Allocator  = (*ipalloc.Allocator)(nil)
	_ Ring       = keyring.HistoryRing{}
)

// Config is what the server needs to know of the settings.
type Config struct {
	// SettingPeers is the PEERS setting, each host:port: weavego forget
	// says that such a peer comes back at the next start.
	SettingPeers []string
	Logger       *slog.Logger
}

// Deps are the parts of the daemon the server answers with. Only Status
// is required: the refusing plugin serves its reason and the keys and
// nothing else.
type Deps struct {
	Status StatusSource
	// Mesh, Saved and Alloc serve rmpeer, connect and forget; all three or
	// none. Without them no host is known (rmpeer answers so) and connect
	// and forget are not offered.
	Mesh  Mesh
	Saved SavedPeers
	Alloc Allocator
	// Keys is nil for an open cluster. SaveRing persists the ring after a
	// change.
	Keys     Ring
	SaveRing func(keys [][]byte) error
	// RotateWireGuard replaces this host's WireGuard key pair and returns
	// the old and new public keys; nil: this host has no WireGuard device.
	RotateWireGuard func() (old, cur string, err error)
	// Metrics serves GET /metrics; nil: not offered.
	Metrics http.Handler
}

// Server answers the control API. Its handlers may be called concurrently.
type Server struct {
	cfg Config
	d   Deps
	log *slog.Logger

	// keyMu serialises key changes with their save, so that two concurrent
	// changes are saved in the order they were made.
	keyMu sync.Mutex
}

// New returns a server of the control API over d.
func New(cfg Config, d Deps) *Server {
	return &Server{cfg: cfg, d: d, log: cfg.Logger}
}

// route is one endpoint of the control API. A read-only one changes
// nothing and reveals no secret: the status socket serves it, and refuses
// the others, naming cmd, the commands that call them.
type route struct {
	pattern  string
	cmd      string
	readOnly bool
	serve    http.HandlerFunc
}

func (s *Server) routes() []route {
	rs := []route{
		{"GET /status", "weavego status", true, func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, s.d.Status.Report())
		}},
		{"POST /rmpeer", "weavego rmpeer", false, s.handleRmpeer},
		{"POST /connect", "weavego connect", false, s.handleConnect},
		{"POST /forget", "weavego forget", false, s.handleForget},
		{"GET /keys", "reading the cluster key (weavego token, weavego key list)", false, s.handleKeys},
	}
	for _, op := range []string{"install", "use", "remove"} {
		rs = append(rs, route{"POST /keys/" + op, "weavego key " + op, false,
			func(w http.ResponseWriter, r *http.Request) { s.handleKeyChange(w, r, op) }})
	}
	rs = append(rs, route{"POST /wireguard/rotate", "weavego key rotate-wireguard", false, s.handleWireGuardRotate})
	if s.d.Metrics != nil {
		rs = append(rs, route{"GET /metrics", "", true, s.d.Metrics.ServeHTTP})
	}
	return rs
}

// Handler serves every route (the control socket), or with readOnly the
// read-only ones, answering the others with a refusal (the status socket).
func (s *Server) Handler(readOnly bool) http.Handler {
	mux := http.NewServeMux()
	for _, r := range s.routes() {
		serve := r.serve
		if readOnly && !r.readOnly {
			serve = notOnStatusSocket(r.cmd)
		}
		mux.HandleFunc(r.pattern, serve)
	}
	return http.MaxBytesHandler(mux, MaxBody)
}

// notOnStatusSocket answers a command that the status socket does not serve.
func notOnStatusSocket(cmd string) http.HandlerFunc {
	msg := cmd + " needs root or the CONTROL_GROUP group: this is the status socket, which the " +
		"STATUS_GROUP group may use only to read the status"
	return func(w http.ResponseWriter, _ *http.Request) { fail(w, http.StatusForbidden, msg) }
}

// Result is the answer of a command that changes something: a sentence.
type Result struct {
	Result string
}

// Failure is the answer of a request that failed: a sentence the user can
// act on.
type Failure struct {
	Err string
}

func fail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, Failure{Err: msg})
}

func done(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusOK, Result{Result: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
