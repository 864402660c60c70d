package ipalloc

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// restartable is an allocator on a state file that a test can close and
// open again, as a plugin restart does.
type restartable struct {
	t    *testing.T
	path string
	db   *bbolt.DB
	a    *Allocator
}

func newRestartable(t *testing.T) *restartable {
	r := &restartable{t: t, path: filepath.Join(t.TempDir(), "state.db")}
	r.restart()
	return r
}

// restart closes the state file (as the plugin's exit does) and opens a new
// allocator on it.
func (r *restartable) restart() {
	r.t.Helper()
	if r.db != nil {
		r.db.Close()
	}
	r.db = openDB(r.t, r.path)
	a, err := New(Config{}, r.db, solo("h1"))
	if err != nil {
		r.t.Fatalf("New after restart: %v", err)
	}
	r.a = a
}

func (r *restartable) release(id, ip string) {
	r.t.Helper()
	if err := r.a.ReleaseAddress(context.Background(), id, netip.MustParseAddr(ip)); err != nil {
		r.t.Fatal(err)
	}
}

// A graceful dockerd restart releases its containers' addresses, stops the
// plugin, starts it again and asks for addresses with no preference: the
// containers get theirs back, by name where Docker names them, else
// together, the last released first; others avoid them.
func TestHandBackAcrossRestart(t *testing.T) {
	const id = "10.12.0.0/24"
	type step struct {
		name string // request under this name
		want string
	}
	tests := []struct {
		name  string
		named bool     // leases under the names c0, c1, ...
		rel   []string // released before the restart, in order (.2 is c0, .3 c1, ...)
		steps []step   // after the restart
		left  int      // addresses still remembered after the steps
	}{
		{"one unnamed container", false, []string{"10.12.0.2", "10.12.0.4"}, []step{
			{want: "10.12.0.4"},
		}, 1},
		{"unnamed containers keep their set, last released first", false, []string{"10.12.0.2", "10.12.0.4", "10.12.0.3"}, []step{
			{want: "10.12.0.3"}, {want: "10.12.0.4"}, {want: "10.12.0.2"},
		}, 0},
		{"named containers each their own, whatever the order", true, []string{"10.12.0.2", "10.12.0.3", "10.12.0.4"}, []step{
			{name: "c1", want: "10.12.0.3"}, {name: "new", want: "10.12.0.6"}, {name: "c2", want: "10.12.0.4"},
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRestartable(t)
			mustPool(t, r.a, PoolRequest{Subnet: id})
			for i := range 4 { // .2 .3 .4 .5; .5 stays leased
				name := ""
				if tt.named {
					name = fmt.Sprintf("c%d", i)
				}
				mustAddr(t, r.a, AddressRequest{PoolID: id, Name: name})
			}
			for _, ip := range tt.rel {
				r.release(id, ip)
			}
			r.restart()
			for i, s := range tt.steps {
				if got := mustAddr(t, r.a, AddressRequest{PoolID: id, Name: s.name}); got.Addr().String() != s.want {
					t.Fatalf("step %d: request named %q got %s, want %s", i, s.name, got.Addr(), s.want)
				}
			}
			// What was handed back is forgotten in the file too.
			r.restart()
			if n := len(r.a.pools[id].recent); n != tt.left {
				t.Fatalf("%d addresses remembered after a second restart, want %d", n, tt.left)
			}
		})
	}
}

// A saved release is a preference with the guarantees of one made in
// memory: it is not handed back once expired, stamped in the future (the
// wall clock was set back: its age is unknown), unreadable, or for an
// address leased, reserved or outside the pool; the plugin starts anyway.
func TestHandBackSavedLimits(t *testing.T) {
	const id = "10.12.0.0/24"
	now := time.Now()
	tests := []struct {
		name  string
		value string // saved for the pool, replacing what the release saved
		want  string // the first unnamed request after the restart
	}{
		{"kept", `{"10.12.0.7":{"At":"` + now.Add(-time.Minute).Format(time.RFC3339Nano) + `"}}`, "10.12.0.7"},
		{"expired", `{"10.12.0.7":{"At":"` + now.Add(-handBackFor-time.Second).Format(time.RFC3339Nano) + `"}}`, "10.12.0.3"},
		{"stamped in the future", `{"10.12.0.7":{"At":"` + now.Add(time.Minute).Format(time.RFC3339Nano) + `"}}`, "10.12.0.3"},
		{"leased", `{"10.12.0.2":{"At":"` + now.Format(time.RFC3339Nano) + `"}}`, "10.12.0.3"},
		{"gateway", `{"10.12.0.1":{"At":"` + now.Format(time.RFC3339Nano) + `"}}`, "10.12.0.3"},
		{"outside the pool", `{"10.13.0.7":{"At":"` + now.Format(time.RFC3339Nano) + `"}}`, "10.12.0.3"},
		{"unreadable", `{"10.12.0.7":`, "10.12.0.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRestartable(t)
			mustPool(t, r.a, PoolRequest{Subnet: id})
			mustAddr(t, r.a, AddressRequest{PoolID: id, Name: "c0"}) // .2
			if err := r.db.Update(func(tx *bbolt.Tx) error {
				return tx.Bucket(bucketReleased).Put([]byte(id), []byte(tt.value))
			}); err != nil {
				t.Fatal(err)
			}
			r.restart()
			if got := mustAddr(t, r.a, AddressRequest{PoolID: id}); got.Addr().String() != tt.want {
				t.Fatalf("got %s, want %s", got.Addr(), tt.want)
			}
		})
	}
}

// The saved releases stay bounded: expired ones go with the next release,
// and a pool forgotten takes its own with it.
func TestHandBackSavedBounded(t *testing.T) {
	const id = "10.12.0.0/24"
	r := newRestartable(t)
	mustPool(t, r.a, PoolRequest{Subnet: id})
	for range 3 { // .2 .3 .4
		mustAddr(t, r.a, AddressRequest{PoolID: id})
	}
	r.release(id, "10.12.0.2")
	r.a.mu.Lock()
	p := r.a.pools[id]
	old := p.recent[netip.MustParseAddr("10.12.0.2")]
	old.At = old.At.Add(-handBackFor)
	p.recent[netip.MustParseAddr("10.12.0.2")] = old
	r.a.mu.Unlock()
	r.release(id, "10.12.0.3")
	if got := savedReleases(t, r.db, id); got != `{"10.12.0.3"}` {
		t.Fatalf("saved %s after an expired release and a new one, want only 10.12.0.3", got)
	}
	r.release(id, "10.12.0.4")
	if err := r.a.ReleasePool(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if got := savedReleases(t, r.db, id); got != "" {
		t.Fatalf("saved %s for a pool forgotten", got)
	}
}

// savedReleases returns the addresses saved as released for pool id, as
// {"a","b"} in address order, or "" when nothing is saved.
func savedReleases(t *testing.T, db *bbolt.DB, id string) string {
	t.Helper()
	var out string
	err := db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketReleased).Get([]byte(id))
		if v == nil {
			return nil
		}
		var m map[netip.Addr]released
		if err := json.Unmarshal(v, &m); err != nil {
			return err
		}
		addrs := slices.SortedFunc(maps.Keys(m), netip.Addr.Compare)
		for i, a := range addrs {
			if i > 0 {
				out += ","
			}
			out += fmt.Sprintf("%q", a)
		}
		out = "{" + out + "}"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
