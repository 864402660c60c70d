package main

import (
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// controlSocket is the name of the control socket in STATE_DIR.
const controlSocket = "control.sock"

// listenControl listens on the unix socket at path, readable and writable
// by root only, or by root and gid when group is set (mode 0660). A socket
// left by an earlier run is removed; any other file there is an error.
func listenControl(path, group string) (net.Listener, error) {
	gid := -1
	if group != "" {
		var err error
		if gid, err = lookupGroup(group); err != nil {
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
			return nil, fmt.Errorf("give group %s access to the control socket %s: %w", group, path, err)
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
		return fmt.Errorf("control socket %s: %w", path, err)
	case fi.Mode().Type() != fs.ModeSocket:
		return fmt.Errorf("%s is in the way of the control socket and is not a socket: move it away", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove the old control socket %s: %w", path, err)
	}
	return nil
}

// lookupGroup resolves CONTROL_GROUP: a numeric gid, or a group name that
// this process can resolve (the managed plugin sees no /etc/group of the
// host, so give it a number there).
func lookupGroup(group string) (int, error) {
	if gid, err := strconv.Atoi(group); err == nil && gid >= 0 {
		return gid, nil
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		return -1, fmt.Errorf("setting CONTROL_GROUP: group %q is unknown here: give its number "+
			"(e.g. `getent group %s` on the host)", group, group)
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return -1, fmt.Errorf("setting CONTROL_GROUP: group %q has no numeric id", group)
	}
	return gid, nil
}
