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

// Names of the sockets of the control API in STATE_DIR: the control socket
// serves every command; the status socket, made only when STATUS_GROUP is
// set, serves only what reads and reveals no secret (see control.routes).
const (
	controlSocket = "control.sock"
	statusSocket  = "status.sock"
)

// listenControl listens on the unix socket at path, readable and writable
// by root only, or by root and the group given in setting (group, mode
// 0660). A socket left by an earlier run is removed; any other file there
// is an error.
func listenControl(path, setting, group string) (net.Listener, error) {
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
