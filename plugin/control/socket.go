package control

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Why two sockets rather than one that asks who calls: SO_PEERCRED gives
// the caller's uid, primary gid and pid, but not its supplementary groups,
// which only /proc/PID/status tells; the managed plugin runs in a pid
// namespace of its own, where the caller's pid is 0 or another process's,
// and a pid read after connect may be reused by then. The mode of a socket
// is checked by the kernel at connect, against the caller's user and every
// group it has, with nothing for the plugin to get wrong.

// Names of the sockets of the control API in STATE_DIR: the control socket
// serves every command; the status socket, made only when STATUS_GROUP is
// set, serves only what reads and reveals no secret (see Server.Handler).
const (
	SocketName       = "control.sock"
	StatusSocketName = "status.sock"
)

// Socket is one socket of the control API and its server.
type Socket struct {
	l   net.Listener
	srv *http.Server
}

// Socket serves s on l: every route, or with readOnly only the read-only
// ones (the status socket).
func (s *Server) Socket(l net.Listener, readOnly bool) Socket {
	return Socket{l, &http.Server{Handler: s.Handler(readOnly), ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes: MaxBody}}
}

// Serve serves the socket until Shutdown or Close.
func (s Socket) Serve() error {
	if err := s.srv.Serve(s.l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops the server, letting the requests in flight answer until
// ctx ends.
func (s Socket) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// Close closes the listener of a socket that was never served.
func (s Socket) Close() error { return s.l.Close() }

// Open opens the control socket at path, for root and controlGroup, and
// with statusGroup the status socket beside it, serving s.
func (s *Server) Open(path, controlGroup, statusGroup string) ([]Socket, error) {
	cl, err := Listen(path, "CONTROL_GROUP", controlGroup)
	if err != nil {
		return nil, err
	}
	socks := []Socket{s.Socket(cl, false)}
	sl, err := ListenStatus(path, statusGroup)
	if err != nil {
		cl.Close()
		return nil, err
	}
	if sl != nil {
		socks = append(socks, s.Socket(sl, true))
	}
	return socks, nil
}

// ListenStatus listens on the status socket beside the control socket
// controlPath, for root and group (0660). Without a group it makes none,
// and removes the one a crashed run may have left; it then returns nil.
func ListenStatus(controlPath, group string) (net.Listener, error) {
	path := filepath.Join(filepath.Dir(controlPath), StatusSocketName)
	if group == "" {
		if fi, err := os.Lstat(path); err == nil && fi.Mode().Type() == fs.ModeSocket {
			_ = os.Remove(path)
		}
		return nil, nil
	}
	return Listen(path, "STATUS_GROUP", group)
}

// Listen listens on the unix socket at path, readable and writable by root
// only, or by root and the group given in setting (group, mode 0660). A
// socket left by an earlier run is removed; any other file there is an
// error.
func Listen(path, setting, group string) (net.Listener, error) {
	gid := -1
	if group != "" {
		var err error
		if gid, err = lookupGroup(setting, group); err != nil {
			return nil, err
		}
	}
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	// The umask makes the socket 0600 from its creation: no other user can
	// connect between listen and chmod. Nothing else creates files now.
	old := syscall.Umask(0o177)
	l, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("listen on the control socket %s: %w", path, err)
	}
	if gid >= 0 {
		err = os.Chown(path, -1, gid)
		if err == nil {
			err = os.Chmod(path, 0o660)
		}
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("give group %s (%s) access to the socket %s: %w", group, setting, path, err)
		}
	}
	return l, nil
}

func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case os.IsNotExist(err):
		return os.MkdirAll(filepath.Dir(path), 0o755)
	case err != nil:
		return fmt.Errorf("socket %s: %w", path, err)
	case fi.Mode().Type() != fs.ModeSocket:
		return fmt.Errorf("%s is in the way of a socket of the plugin and is not a socket: move it away", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove the old socket %s: %w", path, err)
	}
	return nil
}

// lookupGroup resolves the group of setting (CONTROL_GROUP, STATUS_GROUP):
// a numeric gid, or a group name that this process can resolve (the managed
// plugin sees no /etc/group of the host, so give it a number there).
func lookupGroup(setting, group string) (int, error) {
	if gid, err := strconv.Atoi(group); err == nil && gid >= 0 {
		return gid, nil
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		return -1, fmt.Errorf("setting %s: group %q is unknown here: give its number "+
			"(e.g. `getent group %s` on the host)", setting, group, group)
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return -1, fmt.Errorf("setting %s: group %q has no numeric id", setting, group)
	}
	return gid, nil
}
