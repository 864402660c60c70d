package main

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/weavego/weavego/plugin/keyring"
	"log/slog"
	"net/http"
	"sync"

	"github.com/weavego/weavego/plugin/settings"
	"github.com/weavego/weavego/plugin/status"
)

// Control API bounds: every request is small, and a host name is a DNS name.
const (
	maxControlBody = 64 << 10
	maxHostName    = 253
)

// control serves the API of the weavego command on the control socket,
// and its read-only part on the status socket. Whoever can open a socket is
// trusted with what it serves: the kernel checks the socket's mode against
// the caller's user and all its groups when it connects (root and
// CONTROL_GROUP on the control socket, root and STATUS_GROUP on the status
// socket), so the plugin never has to tell who calls.
type control struct {
	report   func() status.Report
	known    func(host string) bool // host is a member or holds address space
	rmpeer   func(ctx context.Context, host string) error
	connect  func(ctx context.Context, host string) (string, error) // nil: not offered
	forget   func(host string) (string, error)
	keys     keyring.Ring              // the part of the mesh the key commands change; nil for an open cluster
	saveRing func(keys [][]byte) error // persists the ring after a change
	metrics  http.Handler              // GET /metrics; nil: not offered
	log      *slog.Logger

	// keyMu serialises key changes with their save, so that two concurrent
	// changes are saved in the order they were made.
	keyMu sync.Mutex
}

// keyRequest is the body of the key change requests.
type keyRequest struct {
	Key string
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

func (c *control) routes() []route {
	rs := []route{
		{"GET /status", "weavego status", true, func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, c.report())
		}},
		{"POST /rmpeer", "weavego rmpeer", false, c.handleRmpeer},
		{"POST /connect", "weavego connect", false, c.handleConnect},
		{"POST /forget", "weavego forget", false, c.handleForget},
		{"GET /keys", "reading the cluster key (weavego token, weavego key list)", false, c.handleKeys},
	}
	for _, op := range []string{"install", "use", "remove"} {
		rs = append(rs, route{"POST /keys/" + op, "weavego key " + op, false,
			func(w http.ResponseWriter, r *http.Request) { c.handleKeyChange(w, r, op) }})
	}
	if c.metrics != nil {
		rs = append(rs, route{"GET /metrics", "", true, c.metrics.ServeHTTP})
	}
	return rs
}

// handler serves every route (the control socket), or with readOnly the
// read-only ones, answering the others with a refusal (the status socket).
func (c *control) handler(readOnly bool) http.Handler {
	mux := http.NewServeMux()
	for _, r := range c.routes() {
		serve := r.serve
		if readOnly && !r.readOnly {
			serve = notOnStatusSocket(r.cmd)
		}
		mux.HandleFunc(r.pattern, serve)
	}
	return http.MaxBytesHandler(mux, maxControlBody)
}

// notOnStatusSocket answers a command that the status socket does not serve.
func notOnStatusSocket(cmd string) http.HandlerFunc {
	msg := cmd + " needs root or the CONTROL_GROUP group: this is the status socket, which the " +
		"STATUS_GROUP group may use only to read the status"
	return func(w http.ResponseWriter, _ *http.Request) { fail(w, http.StatusForbidden, msg) }
}

func (c *control) handleRmpeer(w http.ResponseWriter, r *http.Request) {
	host := r.URL.Query().Get("host")
	switch {
	case host == "":
		fail(w, http.StatusBadRequest, "name the host to remove: weavego rmpeer HOST")
		return
	case len(host) > maxHostName:
		fail(w, http.StatusBadRequest, fmt.Sprintf("a host name is at most %d bytes", maxHostName))
		return
	case !c.known(host):
		fail(w, http.StatusNotFound, fmt.Sprintf("%q is not a member of this cluster and holds no address space: "+
			"see `weavego status peers` and `weavego status ipam` for the names", host))
		return
	}
	if err := c.rmpeer(r.Context(), host); err != nil {
		fail(w, http.StatusConflict, err.Error())
		return
	}
	c.log.Info("address space of a removed peer taken over", "peer", host)
	writeJSON(w, http.StatusOK, map[string]string{"Result": "address space of " + host + " taken over"})
}

// keysAnswer is the answer of GET /keys: the keys in base64, primary first.
type keysAnswer struct {
	Keys []string
}

func (c *control) handleKeys(w http.ResponseWriter, _ *http.Request) {
	if c.keys == nil {
		fail(w, http.StatusConflict, "this cluster is open (INSECURE_OPEN=true): it has no key")
		return
	}
	var a keysAnswer
	for _, k := range c.keys.Keys() {
		a.Keys = append(a.Keys, keyring.Encode(k))
	}
	writeJSON(w, http.StatusOK, a)
}

func (c *control) handleKeyChange(w http.ResponseWriter, r *http.Request, op string) {
	if c.keys == nil {
		fail(w, http.StatusConflict, "this cluster is open (INSECURE_OPEN=true): set KEY and restart the plugin to use keys")
		return
	}
	var req keyRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		fail(w, http.StatusBadRequest, "the request is not {\"Key\": \"...\"} of at most 64 KiB")
		return
	}
	key, err := settings.ParseKey(req.Key)
	if err != nil {
		fail(w, http.StatusBadRequest, "the key: "+err.Error())
		return
	}
	change := map[string]func([]byte) error{"install": c.keys.InstallKey, "use": c.keys.UseKey, "remove": c.keys.RemoveKey}[op]
	c.keyMu.Lock()
	defer c.keyMu.Unlock()
	if err := change(key); err != nil {
		fail(w, http.StatusConflict, err.Error())
		return
	}
	if err := c.saveRing(c.keys.Keys()); err != nil {
		fail(w, http.StatusInternalServerError, "the change is made in the running plugin but not saved, so a restart undoes it: "+err.Error())
		return
	}
	done := map[string]string{"install": "installed", "use": "made primary", "remove": "removed"}[op]
	c.log.Info("cluster key changed", "op", op, "keys", len(c.keys.Keys()))
	writeJSON(w, http.StatusOK, map[string]string{"Result": "key " + done + " on this host; do the same on every other host"})
}

func fail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"Err": msg})
}
