// Package client is the weavego command's side of the control API: the
// commands that talk to the plugin of this host (status, rmpeer, token,
// connect, forget, key) call it over the control socket, or the status
// socket beside it, and print its answers.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"path/filepath"
	"syscall"
	"time"

	"github.com/weavego/weavego/plugin/control"
)

// DefaultSocket is the control socket of a plugin installed with the
// default state mount.
const DefaultSocket = "/var/lib/weavego/" + control.SocketName

// Client calls the control API of the plugin on this host.
type Client struct {
	socket string
	// statusSock is the status socket beside socket, tried when socket
	// refuses the caller.
	statusSock string
	// dial opens the unix socket at path; tests replace it.
	dial func(ctx context.Context, path string) (net.Conn, error)
	http *http.Client
	// version is this command's version: status compares it with the
	// plugin's.
	version string
}

// New returns a client of the control socket at socket.
func New(socket string) *Client {
	c := &Client{socket: socket, statusSock: filepath.Join(filepath.Dir(socket), control.StatusSocketName)}
	c.dial = func(ctx context.Context, path string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}
	c.http = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DialContext: c.dialAPI}}
	return c
}

// dialAPI opens the control socket, or the status socket when the control
// socket refuses the caller: a member of STATUS_GROUP then reads the status,
// and the plugin answers its other commands with a sentence that says why
// not. When neither opens, the control socket's error stands.
func (c *Client) dialAPI(ctx context.Context, _, _ string) (net.Conn, error) {
	conn, err := c.dial(ctx, c.socket)
	if err == nil || !errors.Is(err, fs.ErrPermission) || c.statusSock == c.socket {
		return conn, err
	}
	if sc, serr := c.dial(ctx, c.statusSock); serr == nil {
		return sc, nil
	}
	return nil, err
}

// do sends a request with body (if not nil) as JSON and decodes a 200
// answer into into; other answers become their Err sentence.
func (c *Client) do(method, path string, body, into any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://weavego"+path, rd)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.dialError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e control.Failure
		if json.NewDecoder(resp.Body).Decode(&e) != nil || e.Err == "" {
			return fmt.Errorf("the plugin answered %s", resp.Status)
		}
		return errors.New(e.Err)
	}
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		return fmt.Errorf("unreadable answer from the plugin: %w", err)
	}
	return nil
}

// errNoPlugin is the error of a call that no plugin answered: the control
// socket is missing or nobody listens on it.
var errNoPlugin = errors.New("the weavego plugin does not answer")

func (c *Client) dialError(err error) error {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("needs root (or the CONTROL_GROUP group; for weavego status, the STATUS_GROUP group): "+
			"cannot open the control socket %s: permission denied", c.socket)
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w on %s: is it enabled (`docker plugin ls`)? "+
			"If its state mount is not /var/lib/weavego, give --socket <state dir>/%s", errNoPlugin, c.socket, control.SocketName)
	}
	return fmt.Errorf("the weavego plugin does not answer on %s: %w", c.socket, err)
}
