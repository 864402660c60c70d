// Package keyring is the cluster key on disk: which gossip keys a host
// starts with (Resolve, from the settings and the saved ring), the saved
// ring itself (RingFile, 0600, written atomically), the marker of a key the
// host generated for itself, and the history of keys removed here and of an
// older version's password key (HistoryFile), and the keys derived from
// PASSWORD (FromPassword, and LegacyFromPassword for the unsalted key of
// older versions). It never talks to the mesh: package main hands the mesh
// the keys Resolve chose, and wraps the mesh's ring in a HistoryRing for
// the key commands.
package keyring

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

// RingFile is the name, in STATE_DIR, of the saved gossip keys: a JSON
// list of base64 keys, the primary first, readable by root only.
const RingFile = "keyring"

// GeneratedFile, beside RingFile, holds the key this host generated for
// itself as a first host, as long as that key is its primary: a KEY given
// later (the host joins another cluster) then replaces it as primary.
const GeneratedFile = "keyring.generated"

// Security modes, as the status and the log name them.
const (
	ModeOpen     = "open"
	ModeKey      = "key"
	ModePassword = "password"
	// ModeLegacy: the primary key is the unsalted SHA-256 of PASSWORD of
	// weavego versions before the cluster key, reported as a problem.
	ModeLegacy = "password-sha256"
)

// Source is what the settings say about the cluster key.
type Source struct {
	Key      []byte // KEY, or the key derived from PASSWORD; nil if neither
	Password bool   // Key was derived from PASSWORD
	Open     bool   // INSECURE_OPEN=true
	Joining  bool   // PEERS is set: this host joins an existing cluster
	// Generated is the key this host generated for itself and still uses
	// as primary, nil if none.
	Generated []byte
	// Legacy is the key an older weavego derived from PASSWORD, set when
	// this host is upgraded from such a version (saved state, no ring).
	Legacy []byte
}

// Plan is the outcome of Resolve.
type Plan struct {
	Keys      [][]byte // the keyring, primary first; nil when open
	Mode      string   // ModeOpen, ModeKey or ModePassword
	Save      bool     // the ring differs from the saved one
	Generated bool     // the primary key was just made here
	Promoted  bool     // KEY replaced a key generated here as primary
	// Legacy is the Fingerprint of the unsalted key an older weavego
	// derived from PASSWORD, "" if none (see HistoryFile).
	Legacy string
}

// ErrNoKey is the refusal to join a cluster without a key.
var ErrNoKey = errors.New("PEERS is set, or the saved state comes from a cluster, but this host has no cluster key: " +
	"run `weavego token` on a member and give its output to `weavego key install` here on standard input " +
	"(e.g. `weavego key install < keyfile`; the plugin then starts), or set KEY=... (docker plugin set; readable " +
	"by whoever reaches the Docker API); a cluster that ran without a key moves to one with KEY_ROLLOUT " +
	"(docs/keys.md), or stays open with INSECURE_OPEN=true")

// Resolve decides the gossip keys from the settings and the saved ring:
// a given key is added to a saved ring (and is primary only when there is
// none, or when the primary is a key this host generated for itself); a
// first host without a key generates one; a joining host without one is
// refused. A host upgraded from a version that derived its key from
// PASSWORD the old way keeps sending with that key until told otherwise.
func Resolve(src Source, saved [][]byte, gen func() ([]byte, error)) (Plan, error) {
	if src.Open {
		return Plan{Mode: ModeOpen}, nil
	}
	plan := Plan{Keys: saved}
	switch {
	case src.Key != nil && len(saved) == 0 && src.Legacy != nil:
		plan.Keys, plan.Save = [][]byte{src.Legacy, src.Key}, true
	case src.Key != nil && !Contains(saved, src.Key) && len(saved) > 0 && bytes.Equal(saved[0], src.Generated):
		plan.Keys = append([][]byte{src.Key}, saved...)
		plan.Save, plan.Promoted = true, true
	case src.Key != nil && !Contains(saved, src.Key):
		plan.Keys = append(append([][]byte(nil), saved...), src.Key)
		plan.Save = true
	case src.Key == nil && len(saved) == 0:
		if src.Joining {
			return Plan{}, ErrNoKey
		}
		k, err := gen()
		if err != nil {
			return Plan{}, fmt.Errorf("generate a cluster key: %w", err)
		}
		plan.Keys, plan.Save, plan.Generated = [][]byte{k}, true, true
	}
	plan.Mode = ModeKey
	if src.Password && bytes.Equal(plan.Keys[0], src.Key) {
		plan.Mode = ModePassword
	}
	return plan, nil
}

func Contains(keys [][]byte, k []byte) bool {
	for _, x := range keys {
		if bytes.Equal(x, k) {
			return true
		}
	}
	return false
}

// New returns a fresh random cluster key.
func New() ([]byte, error) {
	k := make([]byte, settings.KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	return k, nil
}

func Encode(k []byte) string { return base64.StdEncoding.EncodeToString(k) }

// LoadRing reads the saved keys; a missing file is an empty ring.
func LoadRing(path string) ([][]byte, error) {
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

// SaveRing writes keys to path with mode 0600, atomically.
func SaveRing(path string, keys [][]byte) error {
	enc := make([]string, len(keys))
	for i, k := range keys {
		enc[i] = Encode(k)
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

// LoadGenerated reads the key recorded as generated here; nil when none.
func LoadGenerated(path string) []byte {
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

// RecordGenerated keeps GeneratedFile in step with plan: written when the
// primary key was just generated here, removed once another key replaced
// it as primary.
func RecordGenerated(path string, plan Plan) error {
	switch {
	case plan.Generated:
		if err := os.WriteFile(path, []byte(Encode(plan.Keys[0])+"\n"), 0o600); err != nil {
			return fmt.Errorf("record the generated cluster key: %w", err)
		}
	case plan.Promoted:
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("forget the generated cluster key: %w", err)
		}
	}
	return nil
}
