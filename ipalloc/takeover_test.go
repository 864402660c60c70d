package ipalloc

import (
	"context"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weavego/weavego/internal/record"
	"github.com/weavego/weavego/mesh"
	"github.com/weavego/weavego/mesh/meshtest"
)

// steppedHost is an allocator without a Run loop: the test calls Sync, so
// it decides exactly which writes the other hosts see.
func steppedHost(t *testing.T, n *meshtest.Net, dir, name string) *Allocator {
	t.Helper()
	a, err := New(Config{SpaceTimeout: time.Second}, openDB(t, filepath.Join(dir, name+".db")), n.Peer(name))
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	return a
}

// The race of issue 11: h1 hands block 63 to h2; h2 adopts it (its write
// at v+1 never reaches h1, cut off at that moment) and leases from it; h1
// removes h2 (rmpeer) and takes the block, also right after v. With a
// takeover at v+1 the merge picks h2's write by name and neither host
// notices; the takeover must win, and h2 must stop and report.
func TestTakeoverWinsRaceWithRemovedHostsWrite(t *testing.T) {
	ctx := context.Background()
	n, dir := meshtest.New(meshtest.Config{Seed: 31}), t.TempDir()
	const id = "10.12.0.0/24" // block 63: .252-.254, .255 is the broadcast
	h1 := steppedHost(t, n, dir, "h1")
	mustPool(t, h1, PoolRequest{Subnet: id}) // h2 not yet known: confirmed at once
	h2 := steppedHost(t, n, dir, "h2")
	n.Sync()
	mustPool(t, h2, PoolRequest{Subnet: id})
	h2.Sync() // h2 asks for its reserve
	h1.Sync() // h1 hands block 63 over (version v)
	n.Partition([]string{"h1"}, []string{"h2"})
	h2.Sync() // h2 adopts it at v+1, unseen by h1
	// h2 leases two addresses of the block; .254 stays free there.
	ips := []string{"10.12.0.252", "10.12.0.253"}
	for _, want := range ips {
		if got := mustAddr(t, h2, AddressRequest{PoolID: id}); got.Addr().String() != want {
			t.Fatalf("h2 leased %s, want %s", got.Addr(), want)
		}
	}
	if err := h1.RemovePeer(ctx, "h2"); err != nil { // the misuse the docs warn about
		t.Fatal(err)
	}
	for _, ip := range append(ips, "10.12.0.254") { // h1 now leases the same addresses
		mustAddr(t, h1, AddressRequest{PoolID: id, IP: netip.MustParseAddr(ip)})
	}
	n.Heal()
	// Before any Sync, h2 already sees the takeover: it leases nothing more
	// from the block (and, holding no other space, gets nothing).
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if got, err := h2.RequestAddress(short, AddressRequest{PoolID: id}); err == nil {
		t.Fatalf("h2 leased %s from space taken over", got)
	}
	for range 3 {
		h1.Sync()
		h2.Sync()
		n.Sync()
	}
	key := blockKey(id, h1.pools[id].rec.Info.Nonce, 63)
	e, _ := h2.rep.Get(KindBlock, key)
	if info, _ := decode[blockInfo](e); info.Holder != "h1" || e.Version < takeoverJump {
		t.Fatalf("block entry after the heal: %+v, want h1's takeover at version %d or above", e, takeoverJump)
	}
	if !h1.pools[id].holds(63) || h2.pools[id].holds(63) {
		t.Fatalf("block 63 held by h1: %v, by h2: %v; want h1 only", h1.pools[id].holds(63), h2.pools[id].holds(63))
	}
	pr := strings.Join(h2.Status().Problems, "\n")
	for _, want := range append([]string{"taken over by host h1", "10.12.0.252-10.12.0.255"}, ips...) {
		if !strings.Contains(pr, want) {
			t.Errorf("h2's problems do not mention %q:\n%s", want, pr)
		}
	}
	if pr := h1.Status().Problems; len(pr) != 0 {
		t.Errorf("h1, the taker, reports problems: %v", pr)
	}
}

func TestTakenBy(t *testing.T) {
	held := blockRec{Held: true, Version: 5}
	entry := func(v uint64, owner, holder string) mesh.Entry {
		return mesh.Entry{Kind: KindBlock, Key: "k", Version: v, Owner: owner, Value: record.Encode(blockInfo{Holder: holder})}
	}
	tests := []struct {
		name string
		e    mesh.Entry
		r    blockRec
		want string
	}{
		{"own write", entry(5, "h1", "h1"), held, ""},
		{"older write by another host", entry(4, "h2", "h2"), held, ""},
		{"equal version won by another host", entry(5, "h2", "h2"), held, "h2"},
		{"taken over above", entry(5+takeoverJump, "h2", "h2"), held, "h2"},
		{"taken and handed on", entry(9, "h2", "h3"), held, "h3"},
		{"handed back to this host", entry(9, "h2", "h1"), held, ""},
		{"not held here", entry(9, "h2", "h2"), blockRec{Version: 5}, ""},
		{"tombstone", mesh.Entry{Kind: KindBlock, Key: "k", Version: 9, Owner: "h2", Deleted: true}, held, ""},
	}
	a := &Allocator{name: "h1"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := a.takenBy(tt.e, true, tt.r); got != tt.want {
				t.Fatalf("takenBy = %q, want %q", got, tt.want)
			}
		})
	}
}

// A host removed with rmpeer that comes back with its old state gives up
// what was taken and reports its leases there, then gets space again like
// any host, and keeps it: the taker does not act on the removal once the
// host is back.
func TestRemovedHostBackGetsSpace(t *testing.T) {
	ctx := context.Background()
	n, dir := meshtest.New(meshtest.Config{Seed: 32}), t.TempDir()
	const id = "10.12.0.0/24"
	h1 := steppedHost(t, n, dir, "h1")
	mustPool(t, h1, PoolRequest{Subnet: id})
	h2 := steppedHost(t, n, dir, "h2")
	n.Sync()
	mustPool(t, h2, PoolRequest{Subnet: id})
	step := func() {
		for range 3 {
			h1.Sync()
			h2.Sync()
			n.Sync()
		}
	}
	step()
	old := mustAddr(t, h2, AddressRequest{PoolID: id})
	n.Partition([]string{"h1"}, []string{"h2"})
	if err := h1.RemovePeer(ctx, "h2"); err != nil {
		t.Fatal(err)
	}
	mustAddr(t, h1, AddressRequest{PoolID: id, IP: old.Addr()}) // the space is really reused
	n.Heal()
	step()
	step()
	h2.mu.Lock()
	p := h2.pools[id]
	held, free := p.heldBlocks(), p.freeHeld()
	h2.mu.Unlock()
	if len(held) == 0 || free == 0 {
		t.Fatalf("h2, back after rmpeer, holds blocks %v with %d free addresses; want its reserve", held, free)
	}
	for _, b := range held {
		if h := h1.holderOf(h1.pools[id], b); h != "h2" {
			t.Errorf("block %d: h2 holds it by its ledger, h1 sees holder %q", b, h)
		}
	}
	got := mustAddr(t, h2, AddressRequest{PoolID: id})
	if h1.pools[id].leases[got.Addr()] != (lease{}) {
		t.Errorf("h2 leased %s, which h1 leases too", got.Addr())
	}
	if e, ok := h1.rep.Get(KindRemoved, "h2"); ok && !e.Deleted {
		t.Errorf("h2's removal marker is still live: %+v", e)
	}
	if pr := strings.Join(h2.Status().Problems, "\n"); !strings.Contains(pr, old.Addr().String()) {
		t.Errorf("h2 does not report its lease %s in space taken over:\n%s", old.Addr(), pr)
	}
}
