package main

import (
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
	host, ok := peerArg(w, r, "connect")
	if !ok {
		return
	}
	if c.connect == nil {
		fail(w, http.StatusNotImplemented, "this plugin does not change peers at run time")
		return
	}
	msg, err := c.connect(r.Context(), host)
	if err != nil {
		fail(w, http.StatusConflict, err.Error())
		return
	}
	c.log.Info("peer added at run time", "peer_addr", host)
	writeJSON(w, http.StatusOK, map[string]string{"Result": msg})
}

func (c *control) handleForget(w http.ResponseWriter, r *http.Request) {
	host, ok := peerArg(w, r, "forget")
	if !ok {
		return
	}
	if c.forget == nil {
		fail(w, http.StatusNotImplemented, "this plugin does not change peers at run time")
		return
	}
	msg, err := c.forget(host)
	if err != nil {
		fail(w, http.StatusNotFound, err.Error())
		return
	}
	c.log.Info("peer forgotten at run time", "peer_addr", host)
	writeJSON(w, http.StatusOK, map[string]string{"Result": msg})
}
