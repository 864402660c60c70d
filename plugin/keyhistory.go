package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// historyFile, beside keyringFile, remembers what the ring alone cannot
// tell: the fingerprints of the keys removed here, so that a setting that
// still holds one does not install it again at the next start, and the
// fingerprint of the unsalted key an older weavego derived from PASSWORD,
// so that every start and `weavego status` can say it is still in use.
const historyFile = "keyring.history"

// keyHistory is the content of historyFile.
type keyHistory struct {
	Removed []removedKey `json:",omitempty"`
	// Legacy is the fingerprint of the key an older weavego derived from
	// PASSWORD with SHA-256, "" if this host never had one.
	Legacy string `json:",omitempty"`
}

// removedKey is a key removed with `weavego key remove`.
type removedKey struct {
	Fingerprint string
	At          time.Time
}

// fingerprint names a key without giving it away: the first 16 bytes of
// SHA-256 over a weavego label and the key, in hex.
func fingerprint(k []byte) string {
	h := sha256.Sum256(append([]byte("weavego key fingerprint v1\x00"), k...))
	return hex.EncodeToString(h[:16])
}

// historyStore reads and writes historyFile in a state directory.
type historyStore struct{ dir string }

func (s historyStore) path() string { return filepath.Join(s.dir, historyFile) }

func (s historyStore) load() (keyHistory, error) {
	var h keyHistory
	b, err := os.ReadFile(s.path())
	if errors.Is(err, os.ErrNotExist) {
		return h, nil
	}
	if err == nil {
		err = json.Unmarshal(b, &h)
	}
	if err != nil {
		return h, fmt.Errorf("read the key history %s: %w (move it away to start without it: the removed keys it "+
			"lists are then accepted again from the settings)", s.path(), err)
	}
	return h, nil
}

// change applies f to the saved history and saves it, mode 0600.
func (s historyStore) change(f func(*keyHistory)) error {
	h, err := s.load()
	if err != nil {
		return err
	}
	f(&h)
	b, _ := json.Marshal(h)
	if err := writeFileAtomic(s.path(), append(b, '\n')); err != nil {
		return fmt.Errorf("save the key history: %w", err)
	}
	return nil
}

// noteRemoved remembers that k was removed at.
func (s historyStore) noteRemoved(k []byte, at time.Time) error {
	fp := fingerprint(k)
	return s.change(func(h *keyHistory) {
		h.Removed = slices.DeleteFunc(h.Removed, func(r removedKey) bool { return r.Fingerprint == fp })
		h.Removed = append(h.Removed, removedKey{Fingerprint: fp, At: at.UTC()})
	})
}

// forgetRemoved drops k from the removed keys: it is installed again on
// purpose.
func (s historyStore) forgetRemoved(k []byte) error {
	fp := fingerprint(k)
	h, err := s.load()
	if err != nil || !slices.ContainsFunc(h.Removed, func(r removedKey) bool { return r.Fingerprint == fp }) {
		return err
	}
	return s.change(func(h *keyHistory) {
		h.Removed = slices.DeleteFunc(h.Removed, func(r removedKey) bool { return r.Fingerprint == fp })
	})
}

// removedAt reports when k was removed here, if it was.
func (h keyHistory) removedAt(k []byte) (time.Time, bool) {
	fp := fingerprint(k)
	for _, r := range h.Removed {
		if r.Fingerprint == fp {
			return r.At, true
		}
	}
	return time.Time{}, false
}

// refusal is a reason not to start that the settings or the saved keys
// give: the plugin then serves the reason where the user types (see
// refuse) instead of exiting with it.
type refusal struct{ err error }

func (r refusal) Error() string { return r.err.Error() }
func (r refusal) Unwrap() error { return r.err }

// historyRing is a keyring whose removals are remembered in historyFile,
// so that a setting still holding a removed key is refused at the next
// start; installing a removed key again on purpose forgets the removal.
type historyRing struct {
	keyring
	hist historyStore
	now  func() time.Time
}

func (r historyRing) InstallKey(k []byte) error {
	if err := r.keyring.InstallKey(k); err != nil {
		return err
	}
	return r.hist.forgetRemoved(k)
}

func (r historyRing) RemoveKey(k []byte) error {
	if err := r.keyring.RemoveKey(k); err != nil {
		return err
	}
	return r.hist.noteRemoved(k, r.now())
}
