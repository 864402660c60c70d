package main

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
	"net/url"
	"path/filepath"
	"syscall"
	"time"

	"github.com/weavego/weavego/plugin/control"
	"github.com/weavego/weavego/plugin/status"
)

// defaultSocket is the control socket of a plugin installed with the
// default state mount.
const defaultSocket = "/var/lib/weavego/" + control.SocketName

// controlClient calls the control API of the plugin on this host.
type controlClient struct {
	socket string
	// statusSock is the status socket beside socket, tried when socket
	// refuses the caller.
	statusSock string
	// dial opens the unix socket at path; tests replace it.
	dial func(ctx context.Context, path string) (net.Conn, error)
	http *http.Client
}

func newControlClient(socket string) *controlClient {
	c := &controlClient{socket: socket, statusSock: filepath.Join(filepath.Dir(socket), control.StatusSocketName)}
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
func (c *controlClient) dialAPI(ctx context.Context, _, _ string) (net.Conn, error) {
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
func (c *controlClient) do(method, path string, body, into any) error {
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
		var e struct{ Err string }
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

func (c *controlClient) dialError(err error) error {
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

// result calls an endpoint that answers {"Result": sentence} and prints it.
func (c *controlClient) result(method, path string, body any, out io.Writer) error {
	var r struct{ Result string }
	if err := c.do(method, path, body, &r); err != nil {
		return err
	}
	fmt.Fprintln(out, r.Result)
	return nil
}

// status runs `weavego status [--json] [SECTION]`.
func (c *controlClient) status(args []string, out io.Writer) error {
	asJSON := len(args) > 0 && args[0] == "--json"
	if asJSON {
		args = args[1:]
	}
	if len(args) > 1 {
		return errors.New("usage: weavego status [--json] [SECTION]")
	}
	var raw json.RawMessage
	if err := c.do(http.MethodGet, "/status", nil, &raw); err != nil {
		return err
	}
	if asJSON && len(args) == 0 {
		var buf bytes.Buffer
		_ = json.Indent(&buf, raw, "", "  ")
		_, err := fmt.Fprintln(out, buf.String())
		return err
	}
	var rep status.Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		return fmt.Errorf("unreadable status from the plugin: %w", err)
	}
	section := ""
	if len(args) == 1 {
		section = args[0]
	}
	if asJSON {
		return sectionJSON(out, rep, section)
	}
	if p, ok := versionProblem(version, rep.Version); ok {
		rep.Problems = append(rep.Problems, p)
	}
	return render(out, rep, section)
}

// cliLine is the README's line that installs, on a host, the weavego command
// of the plugin installed there, from the plugin's own files.
const cliLine = `install -m 0755 "$(docker info -f '{{.DockerRootDir}}')/plugins/` +
	`$(docker plugin inspect -f '{{.ID}}' weavego)/rootfs/weavego" /usr/local/bin/weavego`

// versionProblem is the problem of a command whose version is not the
// plugin's: after docker plugin upgrade a host keeps the old command until
// cliLine runs again. The command adds it itself; the plugin cannot know.
func versionProblem(command, plugin string) (status.Problem, bool) {
	if command == plugin {
		return status.Problem{}, false
	}
	return status.Problem{What: fmt.Sprintf("this weavego command is version %s, the plugin %s", command, plugin),
		Fix: "install the plugin's own command: " + cliLine}, true
}

// rmpeer runs `weavego rmpeer HOST`.
func (c *controlClient) rmpeer(args []string, out io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: weavego rmpeer HOST")
	}
	return c.result(http.MethodPost, "/rmpeer?host="+url.QueryEscape(args[0]), nil, out)
}

// token runs `weavego token`: it prints the primary key.
func (c *controlClient) token(args []string, out io.Writer) error {
	if len(args) != 0 {
		return errors.New("usage: weavego token")
	}
	var a control.KeysAnswer
	if err := c.do(http.MethodGet, "/keys", nil, &a); err != nil {
		return err
	}
	if len(a.Keys) == 0 {
		return errors.New("this host has no cluster key")
	}
	fmt.Fprintln(out, a.Keys[0])
	return nil
}

// peerChange runs `weavego connect HOST` or `weavego forget HOST`.
func (c *controlClient) peerChange(cmd string, args []string, out io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: weavego %s HOST[:PORT]", cmd)
	}
	return c.result(http.MethodPost, "/"+cmd+"?host="+url.QueryEscape(args[0]), nil, out)
}
