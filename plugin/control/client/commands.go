package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/weavego/weavego/plugin/control"
	"github.com/weavego/weavego/plugin/status"
)

// Options are what the commands take from the process.
type Options struct {
	// Socket is the control socket.
	Socket string
	// Version is this command's version: status says when the plugin's is
	// another.
	Version string
	// In is where the key commands read a key from.
	In  io.Reader
	Out io.Writer
}

// Run runs the command args: `weavego status [--json] [SECTION]`,
// `weavego rmpeer HOST`, `weavego token`, `weavego connect|forget HOST` or
// `weavego key ...`.
func Run(args []string, o Options) error {
	c := New(o.Socket)
	c.version = o.Version
	switch args[0] {
	case "key":
		return c.key(args[1:], o.In, o.Out)
	case "rmpeer":
		return c.rmpeer(args[1:], o.Out)
	case "token":
		return c.token(args[1:], o.Out)
	case "connect", "forget":
		return c.peerChange(args[0], args[1:], o.Out)
	}
	return c.status(args[1:], o.Out)
}

// result calls an endpoint that answers {"Result": sentence} and prints it.
func (c *Client) result(method, path string, body any, out io.Writer) error {
	var r control.Result
	if err := c.do(method, path, body, &r); err != nil {
		return err
	}
	fmt.Fprintln(out, r.Result)
	return nil
}

// status runs `weavego status [--json] [SECTION]`.
func (c *Client) status(args []string, out io.Writer) error {
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
	if p, ok := versionProblem(c.version, rep.Version); ok {
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
func (c *Client) rmpeer(args []string, out io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: weavego rmpeer HOST")
	}
	return c.result(http.MethodPost, "/rmpeer?host="+url.QueryEscape(args[0]), nil, out)
}

// token runs `weavego token`: it prints the primary key.
func (c *Client) token(args []string, out io.Writer) error {
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
func (c *Client) peerChange(cmd string, args []string, out io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: weavego %s HOST[:PORT]", cmd)
	}
	return c.result(http.MethodPost, "/"+cmd+"?host="+url.QueryEscape(args[0]), nil, out)
}
