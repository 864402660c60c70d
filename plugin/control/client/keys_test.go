package client

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/weavego/weavego/plugin/control"
	"github.com/weavego/weavego/plugin/control/controltest"
	"github.com/weavego/weavego/plugin/keyring"
)

// With no plugin answering (before the first enable), key install from
// standard input saves the key, 0600, where the plugin reads it at start.
func TestKeyInstallWithoutPlugin(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	for i, key := range []string{keyring.Encode(controltest.Key(5)), keyring.Encode(controltest.Key(6))} {
		var out bytes.Buffer
		err := Run([]string{"key", "install", "-"}, Options{Socket: filepath.Join(dir, control.SocketName),
			In: strings.NewReader(key), Out: &out})
		if err != nil || !strings.Contains(out.String(), "used when the plugin starts") {
			t.Fatalf("install %d without a plugin: %v, %q", i, err, out.String())
		}
	}
	path := filepath.Join(dir, keyring.RingFile)
	if keys, err := keyring.LoadRing(path); err != nil || !reflect.DeepEqual(keys, [][]byte{controltest.Key(5), controltest.Key(6)}) {
		t.Errorf("saved ring %v, %v; want the first key primary, the second beside it", keys, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("keyring: %v %v; want mode 0600", fi, err)
	}
	if err := Run([]string{"key", "install"}, Options{Socket: filepath.Join(dir, control.SocketName),
		In: strings.NewReader(""), Out: io.Discard}); err == nil || !strings.Contains(err.Error(), "no key on standard input") {
		t.Errorf("install with empty stdin: %v", err)
	}
}
