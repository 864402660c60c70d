package main

import (
	"context"
	"fmt"
	"net/http"
)

// peerArg returns the host query parameter, or answers the error itself.
func peerArg(w http.ResponseWriter, r *http.Request, cmd string) (string, bool) {
	host := r.URL.Query().Get("host")
	switch {
	case host == "":
		fail(w, http.StatusBadRequest, "name the host: weavego "+cmd+" HOST[:PORT]")
		return "", false
	case len(host) > maxHostName+6:
		fail(w, http.StatusBadRequest, fmt.Sprintf("a host name is at most %d bytes", maxHostName))
		return "", false
	}
	return host, true
}

func (c *control) handleConnect(w http.ResponseWriter, r *http.Request) {
	c.changePeers(w, r, "connect", http.StatusConflict, "peer added at run time", c.connect)
}

func (c *control) handleForget(w http.ResponseWriter, r *http.Request) {
	var forget func(context.Context, string) (string, error)
	if c.forget != nil {
		forget = func(_ context.Context, host string) (string, error) { return c.forget(host) }
	}
	c.changePeers(w, r, "forget", http.StatusNotFound, "peer forgotten at run time", forget)
}

// changePeers answers `weavego connect` and `weavego forget`: change runs
// with the host asked for, and a failure is answered with failStatus.
func (c *control) changePeers(w http.ResponseWriter, r *http.Request, cmd string, failStatus int, logMsg string,
	change func(context.Context, string) (string, error)) {
	host, ok := peerArg(w, r, cmd)
	if !ok {
		return
	}
	if change == nil {
		fail(w, http.StatusNotImplemented, "this plugin does not change peers at run time")
		return
	}
	msg, err := change(r.Context(), host)
	if err != nil {
		fail(w, failStatus, err.Error())
		return
	}
	c.log.Info(logMsg, "peer_addr", host)
	writeJSON(w, http.StatusOK, map[string]string{"Result": msg})
}
