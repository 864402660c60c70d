package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/weavego/weavego/plugin/settings"
)

// keyringFile is the name, in STATE_DIR, of the saved gossip keys: a JSON
// list of base64 keys, the primary first, readable by root only.
const keyringFile = "keyring"

// generatedFile, beside keyringFile, holds the key this host generated for
// itself as a first host, as long as that key is its primary: a KEY given
// later (the host joins another cluster) then replaces it as primary.
const generatedFile = "keyring.generated"

// Security modes, as the status and the log name them.
const (
	modeOpen     = "open"
	modeKey      = "key"
	modePassword = "password"
	// modeLegacy: the primary key is the unsalted SHA-256 of PASSWORD of
	// weavego versions before the cluster key, reported as a problem.
	modeLegacy = "password-sha256"
)

// keySource is what the settings say about the cluster key.
type keySource struct {
	key      []byte // KEY, or the key derived from PASSWORD; nil if neither
	password bool   // key was derived from PASSWORD
	open     bool   // INSECURE_OPEN=true
	joining  bool   // PEERS is set: this host joins an existing cluster
	// generated is the key this host generated for itself and still uses
	// as primary, nil if none.
	generated []byte
	// legacy is the key an older weavego derived from PASSWORD, set when
	// this host is upgraded from such a version (saved state, no ring).
	legacy []byte
}

// keyPlan is the outcome of resolveKeys.
type keyPlan struct {
	keys      [][]byte // the keyring, primary first; nil when open
	mode      string   // modeOpen, modeKey or modePassword
	save      bool     // the ring differs from the saved one
	generated bool     // the primary key was just made here
	promoted  bool     // KEY replaced a key generated here as primary
	// legacy is the fingerprint of the unsalted key an older weavego
	// derived from PASSWORD, "" if none (see historyFile).
	legacy string
}

// errNoKey is the refusal to join a cluster without a key.
var errNoKey = errors.New("PEERS is set, or the saved state comes from a cluster, but this host has no cluster key: " +
	"run `weavego token` on a member and give its output to `weavego key install` here on standard input " +
	"(e.g. `weavego key install < keyfile`; the plugin then starts), or set KEY=... (docker plugin set; readable " +
	"by whoever reaches the Docker API); a cluster that ran without a key moves to one with KEY_ROLLOUT " +
	"(docs/keys.md), or stays open with INSECURE_OPEN=true")

// resolveKeys decides the gossip keys from the settings and the saved ring:
// a given key is added to a saved ring (and is primary only when there is
// none, or when the primary is a key this host generated for itself); a
// first host without a key generates one; a joining host without one is
// refused. A host upgraded from a version that derived its key from
// PASSWORD the old way keeps sending with that key until told otherwise.
func resolveKeys(src keySource, saved [][]byte, gen func() ([]byte, error)) (keyPlan, error) {
	if src.open {
		return keyPlan{mode: modeOpen}, nil
	}
	plan := keyPlan{keys: saved}
	switch {
	case src.key != nil && len(saved) == 0 && src.legacy != nil:
		plan.keys, plan.save = [][]byte{src.legacy, src.key}, true
	case src.key != nil && !containsKey(saved, src.key) && len(saved) > 0 && bytes.Equal(saved[0], src.generated):
		plan.keys = append([][]byte{src.key}, saved...)
		plan.save, plan.promoted = true, true
	case src.key != nil && !containsKey(saved, src.key):
		plan.keys = append(append([][]byte(nil), saved...), src.key)
		plan.save = true
	case src.key == nil && len(saved) == 0:
		if src.joining {
			return keyPlan{}, errNoKey
		}
		k, err := gen()
		if err != nil {
			return keyPlan{}, fmt.Errorf("generate a cluster key: %w", err)
		}
		plan.keys, plan.save, plan.generated = [][]byte{k}, true, true
	}
	plan.mode = modeKey
	if src.password && bytes.Equal(plan.keys[0], src.key) {
		plan.mode = modePassword
	}
	return plan, nil
}

func containsKey(keys [][]byte, k []byte) bool {
	for _, x := range keys {
		if bytes.Equal(x, k) {
			return true
		}
	}
	return false
}

// newKey returns a fresh random cluster key.
func newKey() ([]byte, error) {
	k := make([]byte, settings.KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	return k, nil
}

func encodeKey(k []byte) string { return base64.StdEncoding.EncodeToString(k) }

// loadKeyring reads the saved keys; a missing file is an empty ring.
func loadKeyring(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the saved cluster keys %s: %w", path, err)
	}
	var enc []string
	if err := json.Unmarshal(b, &enc); err != nil {
		return nil, fmt.Errorf("the saved cluster keys %s are unreadable (%v): move the file away and set KEY to the "+
			"cluster's key (`weavego token` on a member); the keys it held are lost", path, err)
	}
	keys := make([][]byte, 0, len(enc))
	for i, s := range enc {
		k, err := settings.ParseKey(s)
		if err != nil {
			return nil, fmt.Errorf("saved cluster key %d in %s: %w", i+1, path, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// saveKeyring writes keys to path with mode 0600, atomically.
func saveKeyring(path string, keys [][]byte) error {
	enc := make([]string, len(keys))
	for i, k := range keys {
		enc[i] = encodeKey(k)
	}
	b, _ := json.Marshal(enc)
	if err := writeFileAtomic(path, append(b, '\n')); err != nil {
		return fmt.Errorf("save the cluster keys to %s: %w (the keys saved before are kept; free space if the disk is full)", path, err)
	}
	return nil
}

// writeFileAtomic replaces path with data, mode 0600 whatever the umask:
// a reader sees the old file or the new one, never a part.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	_, werr := tmp.Write(data)
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil { // CreateTemp makes 0600; keep it so whatever the umask
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// loadGenerated reads the key recorded as generated here; nil when none.
func loadGenerated(path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	k, err := settings.ParseKey(string(bytes.TrimSpace(b)))
	if err != nil {
		return nil
	}
	return k
}

// recordGenerated keeps generatedFile in step with plan: written when the
// primary key was just generated here, removed once another key replaced
// it as primary.
func recordGenerated(path string, plan keyPlan) error {
	switch {
	case plan.generated:
		if err := os.WriteFile(path, []byte(encodeKey(plan.keys[0])+"\n"), 0o600); err != nil {
			return fmt.Errorf("record the generated cluster key: %w", err)
		}
	case plan.promoted:
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("forget the generated cluster key: %w", err)
		}
	}
	return nil
}
