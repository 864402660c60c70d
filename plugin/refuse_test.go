package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/weavego/weavego/plugin/control"
	"github.com/weavego/weavego/plugin/keyring"
)

// postUnix posts an empty JSON object to path on the plugin socket sock, as
// Docker would, and returns the status code and body.
func postUnix(t *testing.T, sock, path string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}}}
	defer c.CloseIdleConnections()
	resp, err := c.Post("http://plugin"+path, "application/json", strings.NewReader("{}"))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

func waitSocket(t *testing.T, sock string) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if code, _ := postUnix(t, sock, "/NetworkDriver.GetCapabilities"); code == http.StatusOK {
			return
		}
	}
	t.Fatalf("the plugin never answered on %s", sock)
}

// A setting that keeps the plugin from starting is told where the user
// types: the plugin serves its socket, refuses what would create something
// with the reason, lets teardown pass, and `weavego status` says it.
func TestDaemonRefusesWhereTyped(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"invalid setting", map[string]string{"MTU": "100"}, []string{"setting MTU"}},
		{"PEERS without a key", map[string]string{"PEERS": "10.0.0.2"}, []string{"KEY", "weavego token", "weavego key install"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			env := map[string]string{"STATE_DIR": dir, "ADVERTISE_ADDR": "127.0.0.1", "DOCKER_API": "off"}
			for k, v := range tc.env {
				env[k] = v
			}
			sock := filepath.Join(dir, "weavego.sock")
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			var log bytes.Buffer
			go func() {
				done <- runDaemonAt(ctx, sock, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, &log)
			}()
			waitSocket(t, sock)
			for _, path := range []string{"/IpamDriver.RequestPool", "/IpamDriver.RequestAddress", "/NetworkDriver.CreateNetwork",
				"/NetworkDriver.CreateEndpoint", "/NetworkDriver.Join"} {
				code, body := postUnix(t, sock, path)
				for _, w := range tc.want {
					if code == http.StatusOK || !strings.Contains(body, w) {
						t.Errorf("%s: %d %s; want a refusal naming %q", path, code, body, w)
					}
				}
			}
			for _, path := range []string{"/NetworkDriver.Leave", "/NetworkDriver.DeleteEndpoint", "/IpamDriver.ReleaseAddress",
				"/NetworkDriver.DeleteNetwork", "/IpamDriver.ReleasePool"} {
				if code, body := postUnix(t, sock, path); code != http.StatusOK {
					t.Errorf("%s: %d %s; want teardown to pass", path, code, body)
				}
			}
			var out, errOut bytes.Buffer
			run([]string{"--socket", filepath.Join(dir, control.SocketName), "status"}, process{getenv: noEnv, stdout: &out, stderr: &errOut})
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("weavego status: %q %q; want it to name %q", out.String(), errOut.String(), w)
				}
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("the refusing plugin stopped with %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the refusing plugin did not stop with its context")
			}
		})
	}
}

// A key given to the refusing plugin on standard input is saved, and the
// plugin starts again with it.
func TestRefuseKeyInstallRetries(t *testing.T) {
	dir := t.TempDir()
	cfg := refuseConfig{PluginSocket: filepath.Join(dir, "weavego.sock"), ControlSocket: filepath.Join(dir, control.SocketName),
		StateDir: dir, Reason: keyring.ErrNoKey, Log: logTo(&bytes.Buffer{})}
	type result struct {
		retry bool
		err   error
	}
	done := make(chan result, 1)
	go func() { r, err := refuse(context.Background(), cfg); done <- result{r, err} }()
	waitSocket(t, cfg.PluginSocket)
	if code, body := postUnix(t, cfg.PluginSocket, "/NetworkDriver.DeleteNetwork"); code != http.StatusOK {
		t.Fatalf("DeleteNetwork on the refusing plugin: %d %s", code, body)
	}
	if b, err := os.ReadFile(filepath.Join(dir, pendingFile)); err != nil || !bytes.Contains(b, []byte("NetworkDriver.DeleteNetwork")) {
		t.Errorf("the DeleteNetwork let pass is not recorded for the next start: %q %v", b, err)
	}
	var out, errOut bytes.Buffer
	code := run([]string{"--socket", cfg.ControlSocket, "key", "install"},
		process{getenv: noEnv, stdin: strings.NewReader(keyring.Encode(k(5)) + "\n"), stdout: &out, stderr: &errOut})
	if code != 0 || !strings.Contains(out.String(), "installed") {
		t.Fatalf("key install from stdin: exit %d, %q %q", code, out.String(), errOut.String())
	}
	select {
	case r := <-done:
		if !r.retry || r.err != nil {
			t.Errorf("refuse = %v, %v; want a retry", r.retry, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("refuse did not end after the key was installed")
	}
	if keys, err := keyring.LoadRing(filepath.Join(dir, keyring.RingFile)); err != nil || !reflect.DeepEqual(keys, [][]byte{k(5)}) {
		t.Errorf("saved ring %v, %v; want the installed key", keys, err)
	}
}
