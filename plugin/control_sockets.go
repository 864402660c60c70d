package main

import (
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// Why two sockets rather than one that asks who calls: SO_PEERCRED gives
// the caller's uid, primary gid and pid, but not its supplementary groups,
// which only /proc/PID/status tells; the managed plugin runs in a pid
// namespace of its own, where the caller's pid is 0 or another process's,
// and a pid read after connect may be reused by then. The mode of a socket
// is checked by the kernel at connect, against the caller's user and every
// group it has, with nothing for the plugin to get wrong.

// apiSocket is one socket of the control API and its server.
type apiSocket struct {
	l   net.Listener
	srv *http.Server
}

// listenControlAPI opens the control socket and, with STATUS_GROUP, the
// status socket beside it.
func (p *parts) listenControlAPI() ([]apiSocket, error) {
	cl, err := listenControl(p.sec.ControlSocket, "CONTROL_GROUP", p.set.ControlGroup)
	if err != nil {
		return nil, err
	}
	c := p.control()
	socks := []apiSocket{{cl, controlServer(c.handler(false))}}
	sl, err := listenStatus(p.sec.ControlSocket, p.set.StatusGroup)
	if err != nil {
		cl.Close()
		return nil, err
	}
	if sl != nil {
		socks = append(socks, apiSocket{sl, controlServer(c.handler(true))})
	}
	return socks, nil
}

func controlServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: maxControlBody}
}

// listenStatus listens on the status socket beside the control socket
// controlPath, for root and group (0660). Without a group it makes none,
// and removes the one a crashed run may have left; it then returns nil.
func listenStatus(controlPath, group string) (net.Listener, error) {
	path := filepath.Join(filepath.Dir(controlPath), statusSocket)
	if group == "" {
		if fi, err := os.Lstat(path); err == nil && fi.Mode().Type() == fs.ModeSocket {
			_ = os.Remove(path)
		}
		return nil, nil
	}
	return listenControl(path, "STATUS_GROUP", group)
}
