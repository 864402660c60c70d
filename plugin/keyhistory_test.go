package main

import (
	"bytes"
	"errors"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/weavego/weavego/plugin/keyring"
	"github.com/weavego/weavego/plugin/settings"
)

func logTo(b *bytes.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

// After `weavego key remove OLD`, a KEY setting that still holds OLD is
// refused at the next start with the sentence that says what to change,
// instead of installing OLD again.
func TestRemovedKeyRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	set := settings.Settings{StateDir: dir, Key: k(1), Peers: []string{"10.0.0.2"}}
	if _, err := gossipKeys(set, false, logTo(&bytes.Buffer{})); err != nil {
		t.Fatal(err)
	}
	// The rotation, as the control API makes it on the running plugin.
	ring := keyring.HistoryRing{Ring: keyring.NewMemRing([][]byte{k(1)}), Hist: keyring.HistoryStore{Dir: dir},
		Now: func() time.Time { return time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC) }}
	for _, step := range []func([]byte) error{ring.InstallKey, ring.UseKey} {
		if err := step(k(2)); err != nil {
			t.Fatal(err)
		}
	}
	if err := ring.RemoveKey(k(1)); err != nil {
		t.Fatal(err)
	}
	if err := keyring.SaveRing(filepath.Join(dir, keyring.RingFile), ring.Keys()); err != nil {
		t.Fatal(err)
	}

	_, err := gossipKeys(set, true, logTo(&bytes.Buffer{}))
	var r refusal
	if !errors.As(err, &r) || !strings.Contains(err.Error(), "removed from this host") ||
		!strings.Contains(err.Error(), "docker plugin set weavego KEY=") || !strings.Contains(err.Error(), "2026-12-07 20:00") {
		t.Fatalf("start with the removed key in KEY: %v; want a refusal that says to clear KEY", err)
	}
	if saved, _ := keyring.LoadRing(filepath.Join(dir, keyring.RingFile)); !reflect.DeepEqual(saved, [][]byte{k(2)}) {
		t.Errorf("the refused start changed the saved ring: %v", saved)
	}
	set.Key = nil
	plan, err := gossipKeys(set, true, logTo(&bytes.Buffer{}))
	if err != nil || !reflect.DeepEqual(plan.Keys, [][]byte{k(2)}) {
		t.Errorf("start with KEY cleared: %v, %v; want the saved ring", plan.Keys, err)
	}

	// A removed key installed again on purpose is accepted again.
	if err := ring.InstallKey(k(1)); err != nil {
		t.Fatal(err)
	}
	set.Key = k(1)
	if _, err := gossipKeys(set, true, logTo(&bytes.Buffer{})); err != nil {
		t.Errorf("start after the removed key was installed again: %v", err)
	}
}

func TestRemovedPasswordRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	if err := keyring.SaveRing(filepath.Join(dir, keyring.RingFile), [][]byte{k(2)}); err != nil {
		t.Fatal(err)
	}
	if err := (keyring.HistoryStore{Dir: dir}).NoteRemoved(keyring.FromPassword("pw"), time.Now()); err != nil {
		t.Fatal(err)
	}
	_, err := gossipKeys(settings.Settings{StateDir: dir, Password: "pw"}, true, logTo(&bytes.Buffer{}))
	if err == nil || !strings.Contains(err.Error(), "setting PASSWORD derives a cluster key that was removed") {
		t.Fatalf("start with a removed PASSWORD: %v", err)
	}
}

// A host upgraded from PASSWORD keeps the unsalted key primary: every start
// says so, also once PASSWORD is cleared, and the mode says it, until
// another key is made primary.
func TestLegacyKeyReportedEveryStart(t *testing.T) {
	dir := t.TempDir()
	set := settings.Settings{StateDir: dir, Password: "pw"}
	for i, tc := range []struct {
		set  settings.Settings
		mode string
	}{{set, keyring.ModeLegacy}, {set, keyring.ModeLegacy}, {settings.Settings{StateDir: dir}, keyring.ModeLegacy}} {
		var log bytes.Buffer
		plan, err := gossipKeys(tc.set, true, logTo(&log))
		if err != nil {
			t.Fatal(err)
		}
		if plan.Mode != tc.mode || !strings.Contains(log.String(), "unsalted SHA-256") {
			t.Errorf("start %d: mode %q, log %q; want %q and the warning", i+1, plan.Mode, log.String(), tc.mode)
		}
		if plan.Legacy == "" {
			t.Errorf("start %d: the plan does not know the legacy key", i+1)
		}
	}
	// weavego key use of the Argon2id key: the next start is clean.
	if err := keyring.SaveRing(filepath.Join(dir, keyring.RingFile), [][]byte{keyring.FromPassword("pw"), keyring.LegacyFromPassword("pw")}); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	plan, err := gossipKeys(set, true, logTo(&log))
	if err != nil || plan.Mode != keyring.ModePassword || strings.Contains(log.String(), "unsalted") {
		t.Errorf("after key use: mode %q, %v, log %q", plan.Mode, err, log.String())
	}
	// The history outlives a move to an open cluster, which has no keys.
	if plan, err := gossipKeys(settings.Settings{StateDir: dir, InsecureOpen: true}, true, logTo(&log)); err != nil || plan.Mode != keyring.ModeOpen {
		t.Errorf("open start with a legacy key in the history: %q, %v", plan.Mode, err)
	}
}

// k is a cluster key made of 32 bytes b.
func k(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }
