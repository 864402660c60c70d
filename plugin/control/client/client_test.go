package client

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"testing"

	"github.com/weavego/weavego/plugin/control"
	"github.com/weavego/weavego/plugin/control/controltest"
	"github.com/weavego/weavego/plugin/keyring"
)

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
		var out bytes.Buffer
		err := Run(tt.args, Options{Socket: socket, Version: "dev", In: strings.NewReader(""), Out: &out})
		got := out.String()
		if err != nil {
			got = err.Error()
		}
		leak := forbid != "" && strings.Contains(out.String()+got, forbid)
		if (err != nil) != tt.wantErr || !strings.Contains(got, tt.want) || leak {
			t.Errorf("weavego %v on %s: out %q, err %v; want %q", tt.args, socket, out.String(), err, tt.want)
		}
	}
}

func TestCommands(t *testing.T) {
	tc := controltest.Start(t, controltest.Options{})
	key2 := keyring.Encode(controltest.Key(2))
	checkCLI(t, tc.Socket, "", []cliCase{
		{[]string{"status"}, "cluster key: key, 1 installed", false},
		{[]string{"status", "problems"}, "- this weavego command is version dev, the plugin test\n" +
			"  fix: install the plugin's own command: install -m 0755 ", false},
		{[]string{"status", "--json"}, `"Mode": "key"`, false},
		{[]string{"status", "--json", "security"}, `"GossipAddr": "10.0.0.1:6783"`, false},
		{[]string{"status", "bogus"}, "unknown section", true},
		{[]string{"token"}, keyring.Encode(controltest.Key(1)), false},
		{[]string{"rmpeer", "gone"}, "address space of gone taken over", false},
		{[]string{"rmpeer", "stranger"}, `"stranger" is not a member`, true},
		{[]string{"rmpeer", strings.Repeat("a", 300)}, "at most 253 bytes", true},
		{[]string{"connect", "h2:6790"}, "connected to h2:6790 (2 members)", false},
		{[]string{"connect"}, "usage: weavego connect HOST", true},
		{[]string{"forget", "h2:6790"}, "forgot h2:6790: no longer joined", false},
		{[]string{"forget", "h9"}, "h9:6783 is not among the peers", true},
		{[]string{"key", "install", "s3cret"}, "not a cluster key", true},
		{[]string{"key", "install", key2}, "key installed", false},
		{[]string{"key", "use", key2}, "key made primary", false},
		{[]string{"key", "remove", keyring.Encode(controltest.Key(1))}, "key removed", false},
		{[]string{"key", "remove", key2}, "primary", true},
		{[]string{"key", "list"}, key2 + "  (primary", false},
		{[]string{"key", "bogus"}, "usage: weavego key", true},
	})
	if removed := tc.Removed(); len(removed) != 1 || removed[0] != "gone" {
		t.Errorf("removed %v, want [gone]", removed)
	}
	if saved := tc.Saved(); len(saved) != 1 || !bytes.Equal(saved[0], controltest.Key(2)) {
		t.Errorf("saved ring %v, want only key 2", saved)
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

func TestOpenCluster(t *testing.T) {
	tc := controltest.Start(t, controltest.Options{Open: true})
	for _, args := range [][]string{{"token"}, {"key", "install", keyring.Encode(controltest.Key(2))}} {
		if err := Run(args, Options{Socket: tc.Socket, Out: io.Discard}); err == nil || !strings.Contains(err.Error(), "open") {
			t.Errorf("weavego %v on an open cluster: %v", args, err)
		}
	}
}

func TestBodyLimit(t *testing.T) {
	tc := controltest.Start(t, controltest.Options{})
	c := New(tc.Socket)
	err := c.do(http.MethodPost, "/keys/install", control.KeyRequest{Key: strings.Repeat("A", 100<<10)}, &struct{}{})
	if err == nil || !strings.Contains(err.Error(), "64 KiB") {
		t.Errorf("oversized request: %v", err)
	}
}

func TestClientErrors(t *testing.T) {
	c := New("/nonexistent/control.sock")
	if err := c.status(nil, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "does not answer") {
		t.Errorf("no plugin: %v", err)
	}
	perm := c.dialError(fmt.Errorf("dial: %w", fs.ErrPermission))
	if !strings.Contains(perm.Error(), "needs root (or the CONTROL_GROUP group; for weavego status, the STATUS_GROUP group)") {
		t.Errorf("permission error: %v", perm)
	}
}
