package keyring

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

// HistoryFile, beside RingFile, remembers what the ring alone cannot
// tell: the fingerprints of the keys removed here, so that a setting that
// still holds one does not install it again at the next start, and the
// Fingerprint of the unsalted key an older weavego derived from PASSWORD,
// so that every start and `weavego status` can say it is still in use.
const HistoryFile = "keyring.history"

// History is the content of HistoryFile.
type History struct {
	Removed []RemovedKey `json:",omitempty"`
	// Legacy is the Fingerprint of the key an older weavego derived from
	// PASSWORD with SHA-256, "" if this host never had one.
	Legacy string `json:",omitempty"`
}

// RemovedKey is a key removed with `weavego key remove`.
type RemovedKey struct {
	Fingerprint string
	At          time.Time
}

// Fingerprint names a key without giving it away: the first 16 bytes of
// SHA-256 over a weavego label and the key, in hex.
func Fingerprint(k []byte) string {
	h := sha256.Sum256(append([]byte("weavego key Fingerprint v1\x00"), k...))
	return hex.EncodeToString(h[:16])
}

// HistoryStore reads and writes HistoryFile in a state directory.
type HistoryStore struct{ Dir string }

func (s HistoryStore) path() string { return filepath.Join(s.Dir, HistoryFile) }

func (s HistoryStore) Load() (History, error) {
	var h History
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
func (s HistoryStore) Change(f func(*History)) error {
	h, err := s.Load()
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
func (s HistoryStore) NoteRemoved(k []byte, at time.Time) error {
	fp := Fingerprint(k)
	return s.Change(func(h *History) {
		h.Removed = slices.DeleteFunc(h.Removed, func(r RemovedKey) bool { return r.Fingerprint == fp })
		h.Removed = append(h.Removed, RemovedKey{Fingerprint: fp, At: at.UTC()})
	})
}

// forgetRemoved drops k from the removed keys: it is installed again on
// purpose.
func (s HistoryStore) ForgetRemoved(k []byte) error {
	fp := Fingerprint(k)
	h, err := s.Load()
	if err != nil || !slices.ContainsFunc(h.Removed, func(r RemovedKey) bool { return r.Fingerprint == fp }) {
		return err
	}
	return s.Change(func(h *History) {
		h.Removed = slices.DeleteFunc(h.Removed, func(r RemovedKey) bool { return r.Fingerprint == fp })
	})
}

// removedAt reports when k was removed here, if it was.
func (h History) RemovedAt(k []byte) (time.Time, bool) {
	fp := Fingerprint(k)
	for _, r := range h.Removed {
		if r.Fingerprint == fp {
			return r.At, true
		}
	}
	return time.Time{}, false
}

// HistoryRing is a keyring whose removals are remembered in HistoryFile,
// so that a setting still holding a removed key is refused at the next
// start; installing a removed key again on purpose forgets the removal.
type HistoryRing struct {
	Ring
	Hist HistoryStore
	Now  func() time.Time
}

func (r HistoryRing) InstallKey(k []byte) error {
	if err := r.Ring.InstallKey(k); err != nil {
		return err
	}
	return r.Hist.ForgetRemoved(k)
}

func (r HistoryRing) RemoveKey(k []byte) error {
	if err := r.Ring.RemoveKey(k); err != nil {
		return err
	}
	return r.Hist.NoteRemoved(k, r.Now())
}
