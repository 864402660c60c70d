package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/weavego/weavego/plugin/control"
	"github.com/weavego/weavego/plugin/keyring"
)

// With no plugin answering (before the first enable), key install from
// standard input saves the key, 0600, where the plugin reads it at start.
func TestKeyInstallWithoutPlugin(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	for i, key := range []string{keyring.Encode(k(5)), keyring.Encode(k(6))} {
		var out, errOut bytes.Buffer
		code := run([]string{"--socket", filepath.Join(dir, control.SocketName), "key", "install", "-"},
			process{getenv: noEnv, stdin: strings.NewReader(key), stdout: &out, stderr: &errOut})
		if code != 0 || !strings.Contains(out.String(), "used when the plugin starts") {
			t.Fatalf("install %d without a plugin: exit %d, %q %q", i, code, out.String(), errOut.String())
		}
	}
	path := filepath.Join(dir, keyring.RingFile)
	if keys, err := keyring.LoadRing(path); err != nil || !reflect.DeepEqual(keys, [][]byte{k(5), k(6)}) {
		t.Errorf("saved ring %v, %v; want the first key primary, the second beside it", keys, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("keyring: %v %v; want mode 0600", fi, err)
	}
	var errOut bytes.Buffer
	if code := run([]string{"--socket", filepath.Join(dir, control.SocketName), "key", "install"},
		process{getenv: noEnv, stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &errOut}); code == 0 ||
		!strings.Contains(errOut.String(), "no key on standard input") {
		t.Errorf("install with empty stdin: exit %d, %q", code, errOut.String())
	}
}
