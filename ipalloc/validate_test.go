package ipalloc

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/weavego/weavego/internal/record"
	"github.com/weavego/weavego/mesh"
)

func TestValidators(t *testing.T) {
	pool := record.Encode(poolInfo{Subnet: "10.1.0.0/24", Range: "10.1.0.0/25", Gateway: "10.1.0.1", Seeder: "h1",
		Nonce: "0011223344556677", Cluster: "10.0.0.0/8"})
	e := func(kind, key, owner string, v []byte) mesh.Entry {
		return mesh.Entry{Kind: kind, Key: key, Owner: owner, Version: 1, Value: v}
	}
	tomb := func(kind, key string) mesh.Entry {
		return mesh.Entry{Kind: kind, Key: key, Owner: "h2", Version: 2, Deleted: true}
	}
	for _, tc := range []struct {
		name string
		e    mesh.Entry
		want string // "" = accepted
	}{
		{"good pool", e(KindPool, "10.1.0.0/24", "h1", pool), ""},
		{"pool under another key", e(KindPool, "10.2.0.0/24", "h1", pool), "stored under"},
		{"loopback pool", e(KindPool, "127.0.0.0/24", "h1", pool), "loopback"},
		{"unmasked pool key", e(KindPool, "10.1.0.5/24", "h1", pool), "masked"},
		{"pool not JSON", e(KindPool, "10.1.0.0/24", "h1", []byte("[1,2")), "JSON"},
		{"pool range outside", e(KindPool, "10.1.0.0/24", "h1", record.Encode(poolInfo{Subnet: "10.1.0.0/24",
			Range: "10.9.0.0/25", Gateway: "10.1.0.1", Seeder: "h1", Nonce: "n"})), "not inside"},
		{"pool without seeder", e(KindPool, "10.1.0.0/24", "h1", record.Encode(poolInfo{Subnet: "10.1.0.0/24",
			Range: "10.1.0.0/24", Gateway: "10.1.0.1", Nonce: "n"})), "host name"},
		{"pool tombstone", tomb(KindPool, "10.1.0.0/24"), ""},
		{"good block", e(KindBlock, "10.1.0.0/24|n1|63", "h1", record.Encode(blockInfo{Holder: "h2"})), ""},
		{"block -5", e(KindBlock, "10.1.0.0/24|n1|-5", "h1", record.Encode(blockInfo{Holder: "h2"})), "not a block"},
		{"block past the pool", e(KindBlock, "10.1.0.0/24|n1|64", "h1", record.Encode(blockInfo{Holder: "h2"})), "not a block"},
		{"block +1", e(KindBlock, "10.1.0.0/24|n1|+1", "h1", record.Encode(blockInfo{Holder: "h2"})), "not a block"},
		{"block tombstone -5", tomb(KindBlock, "10.1.0.0/24|n1|-5"), "not a block"},
		{"block key shape", e(KindBlock, "10.1.0.0/24|1", "h1", record.Encode(blockInfo{Holder: "h2"})), "pool|nonce|block"},
		{"block without holder", e(KindBlock, "10.1.0.0/24|n1|1", "h1", []byte(`{}`)), "host name"},
		{"good host", e(KindHost, "h1", "h1", record.Encode(hostInfo{Range: "10.32.0.0/12"})), ""},
		{"host for another", e(KindHost, "h1", "h2", record.Encode(hostInfo{Range: "10.32.0.0/12"})), "writes the entry"},
		{"host tombstone by another", tomb(KindHost, "h1"), ""},
		{"host with range6", e(KindHost, "h1", "h1", record.Encode(hostInfo{Range: "10.32.0.0/12", Range6: DefaultRange6})), ""},
		{"host with a v4 range6", e(KindHost, "h1", "h1", record.Encode(hostInfo{Range: "10.32.0.0/12", Range6: "10.0.0.0/8"})), "IPv6 range"},
		{"host of a later release", e(KindHost, "h1", "h1", []byte(`{"Range":"10.32.0.0/12","Later":1}`)), ""},
		{"good v6 pool", e(KindPool, "fd00:1::/64", "h1", record.Encode(poolInfo{Subnet: "fd00:1::/64",
			Range: "fd00:1::/64", Gateway: "fd00:1::1", Seeder: "h1", Nonce: "n", Cluster: DefaultRange6})), ""},
		{"link-local v6 pool", e(KindPool, "fe80::/64", "h1", record.Encode(poolInfo{Subnet: "fe80::/64",
			Range: "fe80::/64", Gateway: "fe80::1", Seeder: "h1", Nonce: "n"})), "link-local"},
		{"good v6 used", e(KindUsed, "fd00:1::/64|h2", "h2", record.Encode(usedInfo{Nonce: "n", Addrs: []string{"fd00:1::9"}, Held: 2})), ""},
		{"good want", e(KindWant, "10.1.0.0/24|h2", "h2", record.Encode(wantInfo{Nonce: "n", Req: "r", Block: -1})), ""},
		{"want block -5", e(KindWant, "10.1.0.0/24|h2", "h2", record.Encode(wantInfo{Nonce: "n", Req: "r", Block: -5})), "block -5"},
		{"want address outside", e(KindWant, "10.1.0.0/24|h2", "h2",
			record.Encode(wantInfo{Nonce: "n", Req: "r", Block: 1, IP: "10.2.0.1"})), "not in pool"},
		{"good used", e(KindUsed, "10.1.0.0/24|h2", "h2", record.Encode(usedInfo{Nonce: "n", Addrs: []string{"10.1.0.9"}, Held: 2})), ""},
		{"used outside", e(KindUsed, "10.1.0.0/24|h2", "h2", record.Encode(usedInfo{Nonce: "n", Addrs: []string{"1.1.1.1"}})), "not in pool"},
		{"used free beyond the pool", e(KindUsed, "10.1.0.0/24|h2", "h2", record.Encode(usedInfo{Nonce: "n", Free: 257})), "free addresses"},
		{"used negative", e(KindUsed, "10.1.0.0/24|h2", "h2", record.Encode(usedInfo{Nonce: "n", Held: -1})), "blocks"},
		{"good ack", e(KindAck, "10.1.0.0/24|h2", "h2", record.Encode(ackInfo{Seeder: "h1", Nonce: "n"})), ""},
		{"ack without host", e(KindAck, "10.1.0.0/24", "h2", record.Encode(ackInfo{Seeder: "h1", Nonce: "n"})), "host name"},
		{"good lend", e(KindLend, "10.1.0.0/24|10.1.0.7", "h1", record.Encode(lendInfo{Nonce: "n", To: "h2"})), ""},
		{"lend outside", e(KindLend, "10.1.0.0/24|10.9.0.7", "h1", record.Encode(lendInfo{Nonce: "n", To: "h2"})), "not in pool"},
		{"good removal", e(KindRemoved, "h3", "h1", record.Encode(removedInfo{By: "h1", Takers: map[string]string{"10.1.0.0/24": "h1"}})), ""},
		{"removal with bad pool", e(KindRemoved, "h3", "h1", record.Encode(removedInfo{By: "h1", Takers: map[string]string{"x": "h1"}})), "masked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Validators()[tc.e.Kind](tc.e)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestBlockMinus5NeverReachesTheAllocator merges, through a real mesh, the
// block entry that once stopped the plugin from starting.
func TestBlockMinus5NeverReachesTheAllocator(t *testing.T) {
	m, err := mesh.New(mesh.Config{Name: "self", BindAddr: "127.0.0.1", BindPort: -1,
		Logger: slog.New(slog.DiscardHandler), Validators: Validators()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.Restore([]mesh.Entry{
		{Kind: KindBlock, Key: "10.1.0.0/24|n1|-5", Owner: "evil", Version: 1, Value: record.Encode(blockInfo{Holder: "self"})},
		{Kind: KindBlock, Key: "10.1.0.0/24|n1|3", Owner: "h1", Version: 1, Value: record.Encode(blockInfo{Holder: "self"})},
	})
	if got := m.List(KindBlock); len(got) != 1 || !strings.HasSuffix(got[0].Key, "|3") {
		t.Fatalf("blocks held: %+v, want only block 3", got)
	}
	if rej := m.Rejected(); len(rej) != 1 || rej[0].Owner != "evil" || rej[0].Kind != KindBlock {
		t.Fatalf("rejections %+v, want one of evil's blocks", rej)
	}
}

// FuzzValidateBlock checks that the block validator never panics and never
// admits a block index outside its pool.
func FuzzValidateBlock(f *testing.F) {
	f.Add("10.1.0.0/24|n1|3", []byte(`{"Holder":"h"}`))
	f.Add("10.1.0.0/24|n1|-5", []byte(`{"Holder":"h"}`))
	f.Add("10.0.0.0/8|n1|1023", []byte(`{"Holder":"h"}`))
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		e := mesh.Entry{Kind: KindBlock, Key: key, Owner: "h", Version: 1, Value: value}
		if validateBlock(e) != nil {
			return
		}
		parts := strings.Split(key, "|")
		subnet, err := parsePrefix("subnet", parts[0])
		if err != nil {
			t.Fatalf("admitted block of pool %q", parts[0])
		}
		var b int
		for _, c := range parts[2] {
			if c < '0' || c > '9' {
				t.Fatalf("admitted block %q", parts[2])
			}
			b = b*10 + int(c-'0')
		}
		if b >= newSpace(subnet, subnet).blocks() || b >= maxBlocks {
			t.Fatalf("admitted block %d of pool %s", b, subnet)
		}
	})
}

// TestNegativeBlockNotAdopted: a block entry with an index outside its
// pool, had it been admitted, is never adopted, so the host still starts.
func TestNegativeBlockNotAdopted(t *testing.T) {
	c := newTestCluster(t, 1, Config{}, "h1", "h2")
	const id = "10.7.0.0/24"
	mustPool(t, c.host("h1"), PoolRequest{Subnet: id})
	mustPool(t, c.host("h2"), PoolRequest{Subnet: id})
	e, _ := c.net.Peer("h2").Get(KindPool, id)
	info, _ := decode[poolInfo](e)
	c.net.Peer("h2").Set(KindBlock, blockKey(id, info.Nonce, -5), record.Encode(blockInfo{Holder: "h1"}))
	c.settle()
	if _, err := c.host("h1").RequestAddress(context.Background(), AddressRequest{PoolID: id}); err != nil {
		t.Fatal(err)
	}
	c.stop("h1")
	c.start("h1")
}
