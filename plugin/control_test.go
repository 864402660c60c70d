package main

import (
	"bytes"
	"context"
	"fmt"
	"github.com/weavego/weavego/plugin/keyring"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weavego/weavego/plugin/status"
	"github.com/weavego/weavego/reconcile"
)

type testControl struct {
	ring    *keyring.MemRing
	saved   [][]byte
	removed []string
	socket  string
	status  string // the status socket, beside socket
}

// startControl serves a control API with fakes on a control and a status
// socket in a temporary directory.
func startControl(t *testing.T, open bool) *testControl {
	t.Helper()
	dir := t.TempDir()
	tc := &testControl{ring: keyring.NewMemRing([][]byte{k(1)}), socket: filepath.Join(dir, controlSocket),
		status: filepath.Join(dir, statusSocket)}
	c := &control{
		report: func() status.Report {
			return status.Report{Version: "test", Cluster: reconcile.Status{Self: "h1"},
				Security: status.Security{Mode: keyring.ModeKey, Keys: len(tc.ring.Keys()), GossipAddr: "10.0.0.1:6783"}}
		},
		known:    func(h string) bool { return h == "h2" || h == "gone" },
		rmpeer:   func(_ context.Context, h string) error { tc.removed = append(tc.removed, h); return nil },
		keys:     tc.ring,
		saveRing: func(keys [][]byte) error { tc.saved = keys; return nil },
		metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "weavego_test_metric 1\n")
		}),
		log: slog.New(slog.DiscardHandler),
	}
	c.connect = func(_ context.Context, h string) (string, error) { return "connected to " + h, nil }
	c.forget = func(h string) (string, error) {
		if h != "h2" {
			return "", fmt.Errorf("%s is not among the peers", h)
		}
		return "forgot " + h, nil
	}
	if open {
		c.keys = nil
	}
	for _, s := range []struct {
		path     string
		readOnly bool
	}{{tc.socket, false}, {tc.status, true}} {
		l, err := listenControl(s.path, "CONTROL_GROUP", "")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: c.handler(s.readOnly)}
		go func() { _ = srv.Serve(l) }()
		t.Cleanup(func() { _ = srv.Close() })
	}
	return tc
}

// cliCase is one weavego command and what its output, or its error when
// wantErr, must contain.
type cliCase struct {
	args    []string
	want    string
	wantErr bool
}

// checkCLI runs each case against socket; no output may contain forbid
// (when not empty).
func checkCLI(t *testing.T, socket, forbid string, cases []cliCase) {
	t.Helper()
	for _, tt := range cases {
		var out, errOut bytes.Buffer
		code := run(append([]string{"--socket", socket}, tt.args...), process{getenv: noEnv, stdout: &out, stderr: &errOut})
		got := out.String()
		if tt.wantErr {
			got = errOut.String()
		}
		leak := forbid != "" && strings.Contains(out.String()+errOut.String(), forbid)
		if (code != 0) != tt.wantErr || !strings.Contains(got, tt.want) || leak {
			t.Errorf("weavego %v on %s: exit %d, out %q, err %q; want %q", tt.args, socket, code, out.String(),
				errOut.String(), tt.want)
		}
	}
}

func TestControlCommands(t *testing.T) {
	tc := startControl(t, false)
	key2 := keyring.Encode(k(2))
	checkCLI(t, tc.socket, "", []cliCase{
		{[]string{"status"}, "cluster key: key, 1 installed", false},
		{[]string{"status", "problems"}, "- this weavego command is version dev, the plugin test\n" +
			"  fix: install the plugin's own command: install -m 0755 ", false},
		{[]string{"status", "--json"}, `"Mode": "key"`, false},
		{[]string{"status", "--json", "security"}, `"GossipAddr": "10.0.0.1:6783"`, false},
		{[]string{"status", "bogus"}, "unknown section", true},
		{[]string{"token"}, keyring.Encode(k(1)), false},
		{[]string{"rmpeer", "gone"}, "address space of gone taken over", false},
		{[]string{"rmpeer", "stranger"}, `"stranger" is not a member`, true},
		{[]string{"rmpeer", strings.Repeat("a", 300)}, "at most 253 bytes", true},
		{[]string{"connect", "h2:6790"}, "connected to h2:6790", false},
		{[]string{"connect"}, "usage: weavego connect HOST", true},
		{[]string{"forget", "h2"}, "forgot h2", false},
		{[]string{"forget", "h9"}, "h9 is not among the peers", true},
		{[]string{"key", "install", "s3cret"}, "not a cluster key", true},
		{[]string{"key", "install", key2}, "key installed", false},
		{[]string{"key", "use", key2}, "key made primary", false},
		{[]string{"key", "remove", keyring.Encode(k(1))}, "key removed", false},
		{[]string{"key", "remove", key2}, "primary", true},
		{[]string{"key", "list"}, key2 + "  (primary", false},
		{[]string{"key", "bogus"}, "usage: weavego key", true},
	})
	if len(tc.removed) != 1 || tc.removed[0] != "gone" {
		t.Errorf("removed %v, want [gone]", tc.removed)
	}
	if len(tc.saved) != 1 || !bytes.Equal(tc.saved[0], k(2)) {
		t.Errorf("saved ring %v, want only key 2", tc.saved)
	}
}

func TestVersionProblem(t *testing.T) {
	if p, ok := versionProblem("1.2", "1.2"); ok {
		t.Errorf("same versions: %+v", p)
	}
	p, ok := versionProblem("1.1", "1.2")
	if !ok || p.What != "this weavego command is version 1.1, the plugin 1.2" || !strings.HasSuffix(p.Fix, cliLine) {
		t.Errorf("1.1 against 1.2: %+v %v", p, ok)
	}
}

func TestControlOpenCluster(t *testing.T) {
	tc := startControl(t, true)
	for _, args := range [][]string{{"token"}, {"key", "install", keyring.Encode(k(2))}} {
		var out, errOut bytes.Buffer
		if code := run(append([]string{"--socket=" + tc.socket}, args...), process{getenv: noEnv, stdout: &out, stderr: &errOut}); code == 0 ||
			!strings.Contains(errOut.String(), "open") {
			t.Errorf("weavego %v on an open cluster: exit %d, %q", args, code, errOut.String())
		}
	}
}

func TestControlBodyLimit(t *testing.T) {
	tc := startControl(t, false)
	c := newControlClient(tc.socket)
	err := c.do(http.MethodPost, "/keys/install", keyRequest{Key: strings.Repeat("A", 100<<10)}, &struct{}{})
	if err == nil || !strings.Contains(err.Error(), "64 KiB") {
		t.Errorf("oversized request: %v", err)
	}
}

func TestControlSocket(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, controlSocket)
	for i := range 2 { // the second time, a stale socket is in the way
		l, err := listenControl(path, "CONTROL_GROUP", "")
		if err != nil {
			t.Fatalf("listen %d: %v", i, err)
		}
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != 0o600 || fi.Mode().Type() != fs.ModeSocket {
			t.Fatalf("socket mode %v, %v; want a 0600 socket", fi.Mode(), err)
		}
		if ul, ok := l.(interface{ SetUnlinkOnClose(bool) }); ok {
			ul.SetUnlinkOnClose(false)
		}
		l.Close()
	}
	l, err := listenControl(path, "STATUS_GROUP", fmt.Sprint(os.Getgid()))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode with a group %v, want 0660", fi.Mode())
	}
	other := filepath.Join(dir, "file")
	_ = os.WriteFile(other, nil, 0o600)
	if _, err := listenControl(other, "CONTROL_GROUP", ""); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("listen over a regular file: %v", err)
	}
	if _, err := listenControl(filepath.Join(dir, "s2"), "STATUS_GROUP", "no such group!"); err == nil ||
		!strings.Contains(err.Error(), "setting STATUS_GROUP") {
		t.Errorf("a bad group: %v", err)
	}
}

func TestClientErrors(t *testing.T) {
	c := newControlClient("/nonexistent/control.sock")
	if err := c.status(nil, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "does not answer") {
		t.Errorf("no plugin: %v", err)
	}
	perm := c.dialError(fmt.Errorf("dial: %w", fs.ErrPermission))
	if !strings.Contains(perm.Error(), "needs root (or the CONTROL_GROUP group; for weavego status, the STATUS_GROUP group)") {
		t.Errorf("permission error: %v", perm)
	}
}

func noEnv(string) (string, bool) { return "", false }

func TestGlobalFlags(t *testing.T) {
	tests := []struct {
		args    []string
		env     string
		socket  string
		rest    int
		wantErr bool
	}{
		{[]string{"status"}, "", defaultSocket, 1, false},
		{[]string{"status"}, "/e.sock", "/e.sock", 1, false},
		{[]string{"--socket", "/a.sock", "status"}, "/e.sock", "/a.sock", 1, false},
		{[]string{"--socket=/b.sock", "token"}, "", "/b.sock", 1, false},
		{[]string{"--socket"}, "", "", 0, true},
		{[]string{"--socket="}, "", "", 0, true},
	}
	for _, tt := range tests {
		env := func(string) (string, bool) { return tt.env, tt.env != "" }
		socket, rest, err := globalFlags(tt.args, env)
		if (err != nil) != tt.wantErr || socket != tt.socket || len(rest) != tt.rest {
			t.Errorf("globalFlags(%v) = %q, %v, %v", tt.args, socket, rest, err)
		}
	}
}
