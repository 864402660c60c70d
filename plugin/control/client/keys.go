package client

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/weavego/weavego/plugin/control"
	"github.com/weavego/weavego/plugin/keyring"
	"github.com/weavego/weavego/plugin/settings"
)

const keyUsage = "usage: weavego key list | install [KEY] | use [KEY] | remove [KEY] | generate | rotate-wireguard " +
	"(without KEY, or with -, the key is read from standard input)"

// key runs `weavego key ...`. generate needs no plugin; install, with no
// plugin answering, saves the key for the plugin's next start.
func (c *Client) key(args []string, in io.Reader, out io.Writer) error {
	if len(args) == 0 {
		return errors.New(keyUsage)
	}
	if args[0] == "generate" && len(args) == 1 {
		k, err := keyring.New()
		if err != nil {
			return fmt.Errorf("generate a key: %w", err)
		}
		fmt.Fprintln(out, keyring.Encode(k))
		return nil
	}
	switch op := args[0]; {
	case op == "rotate-wireguard" && len(args) == 1:
		var a control.WireGuardRotateAnswer
		if err := c.do(http.MethodPost, "/wireguard/rotate", nil, &a); err != nil {
			return err
		}
		fmt.Fprintf(out, "this host's WireGuard key pair is replaced: public key %s (was %s); the other hosts "+
			"take it on their next pass, and until then their encrypted traffic to this host waits\n", a.New, a.Old)
		return nil
	case op == "list" && len(args) == 1:
		var a control.KeysAnswer
		if err := c.do(http.MethodGet, "/keys", nil, &a); err != nil {
			return err
		}
		for i, k := range a.Keys {
			role := ""
			if i == 0 {
				role = "  (primary: used to send)"
			}
			fmt.Fprintf(out, "%s%s\n", k, role)
		}
		return nil
	case len(args) <= 2 && (op == "install" || op == "use" || op == "remove"):
		key, err := keyArg(args[1:], in)
		if err != nil {
			return err
		}
		err = c.result(http.MethodPost, "/keys/"+op, control.KeyRequest{Key: key}, out)
		if op == "install" && errors.Is(err, errNoPlugin) {
			return installSaved(filepath.Dir(c.socket), key, out)
		}
		return err
	}
	return errors.New(keyUsage)
}

// keyArg is the key of a key command: its argument, or, without one or
// with -, standard input, which keeps the key out of the process list
// (/proc/PID/cmdline is readable by every local user).
func keyArg(args []string, in io.Reader) (string, error) {
	if len(args) == 1 && args[0] != "-" {
		return args[0], nil
	}
	b, err := io.ReadAll(io.LimitReader(in, 4<<10))
	if err != nil {
		return "", fmt.Errorf("read the key from standard input: %w", err)
	}
	key := strings.TrimSpace(string(b))
	if key == "" {
		return "", errors.New("no key on standard input: give it there, e.g. `weavego key install < keyfile`, " +
			"or `weavego token` of a member piped in")
	}
	return key, nil
}

// installSaved saves key in the keyring of stateDir, for the plugin's next
// start, when no plugin answers there (before the first enable, or while it
// is disabled). The key is added as the KEY setting would add it: primary
// only when there is no other, or when the primary was generated here.
func installSaved(stateDir, key string, out io.Writer) error {
	k, err := settings.ParseKey(key)
	if err != nil {
		return fmt.Errorf("the key: %w", err)
	}
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return fmt.Errorf("no plugin answers, and the state directory cannot be made: %w", err)
	}
	ring, gen := filepath.Join(stateDir, keyring.RingFile), filepath.Join(stateDir, keyring.GeneratedFile)
	saved, err := keyring.LoadRing(ring)
	if err != nil {
		return err
	}
	plan, err := keyring.Resolve(keyring.Source{Key: k, Generated: keyring.LoadGenerated(gen)}, saved, keyring.New)
	if err != nil {
		return err
	}
	if plan.Save {
		if err := keyring.SaveRing(ring, plan.Keys); err != nil {
			return err
		}
	}
	if err := errors.Join(keyring.RecordGenerated(gen, plan), keyring.HistoryStore{Dir: stateDir}.ForgetRemoved(k)); err != nil {
		return err
	}
	fmt.Fprintf(out, "no plugin answers on %s: the key is saved in %s (mode 0600, %d key(s) in all) and used when the "+
		"plugin starts (docker plugin enable weavego)\n", filepath.Join(stateDir, control.SocketName), ring, len(plan.Keys))
	return nil
}
