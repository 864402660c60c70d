package client

import (
	"bytes"
	"context"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/weavego/weavego/plugin/control/controltest"
	"github.com/weavego/weavego/plugin/keyring"
)

// statusRefusal is what the status socket answers to every command it does not
// serve.
const statusRefusal = "needs root or the CONTROL_GROUP group: this is the status socket"

// TestStatusSocket: on the status socket, status and metrics answer; every
// command that changes the cluster or reveals the key is refused with a
// sentence, and changes nothing.
func TestStatusSocket(t *testing.T) {
	tc := controltest.Start(t, controltest.Options{})
	checkCLI(t, tc.StatusSocket, keyring.Encode(controltest.Key(1)), []cliCase{
		{[]string{"status"}, "cluster key: key, 1 installed", false},
		{[]string{"status", "--json", "security"}, `"GossipAddr": "10.0.0.1:6783"`, false},
		{[]string{"token"}, "reading the cluster key (weavego token, weavego key list) " + statusRefusal, true},
		{[]string{"key", "list"}, "reading the cluster key", true},
		{[]string{"key", "install", keyring.Encode(controltest.Key(2))}, "weavego key install " + statusRefusal, true},
		{[]string{"key", "use", keyring.Encode(controltest.Key(1))}, "weavego key use " + statusRefusal, true},
		{[]string{"key", "remove", keyring.Encode(controltest.Key(1))}, "weavego key remove " + statusRefusal, true},
		{[]string{"rmpeer", "gone"}, "weavego rmpeer " + statusRefusal, true},
		{[]string{"connect", "h2"}, "weavego connect " + statusRefusal, true},
		{[]string{"forget", "h2"}, "weavego forget " + statusRefusal, true},
	})
	if len(tc.Removed()) != 0 || tc.Saved() != nil || len(tc.Keys()) != 1 {
		t.Errorf("the status socket changed the cluster: removed %v, saved %v, keys %d", tc.Removed(), tc.Saved(), len(tc.Keys()))
	}
}

// TestClientFallsBackToStatusSocket: a caller the control socket refuses
// (as the kernel refuses one that is neither root nor in CONTROL_GROUP)
// reaches the status socket, reads the status there and gets the statusRefusal
// for the rest; with no status socket it gets the permission error.
func TestClientFallsBackToStatusSocket(t *testing.T) {
	tc := controltest.Start(t, controltest.Options{})
	c := New(tc.Socket)
	dial := c.dial
	c.dial = func(ctx context.Context, path string) (net.Conn, error) {
		if path == tc.Socket {
			return nil, &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", syscall.EACCES)}
		}
		return dial(ctx, path)
	}
	var out bytes.Buffer
	if err := c.status(nil, &out); err != nil || !strings.Contains(out.String(), "cluster key: key") {
		t.Errorf("status through the status socket: %v, %q", err, out.String())
	}
	if err := c.token(nil, &out); err == nil || !strings.Contains(err.Error(), statusRefusal) {
		t.Errorf("token through the status socket: %v", err)
	}
	if err := os.Remove(tc.StatusSocket); err != nil {
		t.Fatal(err)
	}
	c.http.CloseIdleConnections()
	err := c.status(nil, &out)
	if err == nil || !strings.Contains(err.Error(), "needs root") || !strings.Contains(err.Error(), "STATUS_GROUP") {
		t.Errorf("no status socket: %v", err)
	}
}
