package reconcile

import (
	"context"
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/weavego/weavego/driver"
	"github.com/weavego/weavego/internal/dockerapi"
	"github.com/weavego/weavego/internal/record"
	"github.com/weavego/weavego/mesh"
	"github.com/weavego/weavego/mesh/meshtest"
)

// userCreatesEncrypted simulates `docker network create -o encrypted` on a host.
func (h *host) userCreatesEncrypted(id, name, subnet string, vni uint32) {
	sn := netip.MustParsePrefix(subnet)
	opts := map[string]string{driver.OptEncrypted: "true"}
	h.docker.mu.Lock()
	h.docker.networks[name] = dockerapi.Network{ID: id, Name: name, Subnet: sn, Options: opts}
	h.docker.mu.Unlock()
	h.local.network(driver.Network{ID: id, Subnet: sn, VNI: vni, Options: opts}, driver.Created)
}

func live(m interface {
	Get(kind, key string) (mesh.Entry, bool)
}, kind, key string) bool {
	e, ok := m.Get(kind, key)
	return ok && !e.Deleted
}

// An encrypted network's definition travels under its own kind only, and every host of this release builds
// it encrypted.
func TestEncryptedDefinitionHasItsOwnKind(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := meshtest.New(meshtest.Config{})
	a := newHost(t, ctx, w, "a", "192.0.2.1")
	b := newHost(t, ctx, w, "b", "192.0.2.2")
	a.userCreatesEncrypted("A1", "enc1", "10.32.0.0/24", 100)
	eventually(t, "enc1 on host b, encrypted", func() bool {
		n, ok := b.has("enc1")
		return ok && driver.Encrypted(n.Options)
	})
	if _, ok := w.Peer("b").Get(KindNetwork, "enc1"); ok {
		t.Errorf("the encrypted network's definition is also under kind %q, which older releases build in clear", KindNetwork)
	}
	if !live(w.Peer("b"), KindEncNetwork, "enc1") {
		t.Errorf("no live %q record of enc1", KindEncNetwork)
	}
	a.docker.mu.Lock()
	delete(a.docker.networks, "enc1")
	a.docker.mu.Unlock()
	a.local.network(driver.Network{ID: "A1", VNI: 100}, driver.Deleted)
	eventually(t, "enc1 removed on b", func() bool { _, ok := b.has("enc1"); return !ok })
}

// An encrypted network defined under the plain kind, as this release wrote it before the kind of its own, is
// moved there, and keeps working on every host.
func TestEncryptedDefinitionMigrates(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := meshtest.New(meshtest.Config{})
	old := NetDef{Name: "enc1", Subnet: netip.MustParsePrefix("10.32.0.0/24"), Gateway: netip.MustParseAddr("10.32.0.1"),
		VNI: 100, Options: map[string]string{driver.OptEncrypted: "true"}, Origin: "c"}
	b := newHost(t, ctx, w, "b", "192.0.2.2")
	w.Peer("c").Set(KindNetwork, "enc1", record.Encode(old))
	eventually(t, "the definition moved", func() bool {
		return live(w.Peer("b"), KindEncNetwork, "enc1") && !live(w.Peer("b"), KindNetwork, "enc1")
	})
	eventually(t, "enc1 on b, encrypted", func() bool {
		n, ok := b.has("enc1")
		return ok && driver.Encrypted(n.Options)
	})
	e, _ := w.Peer("b").Get(KindEncNetwork, "enc1")
	if got, _ := record.Decode[NetDef](e.Value); got.Origin != "c" || got.VNI != 100 {
		t.Errorf("moved definition %+v, want origin c and VNI 100 kept", got)
	}
}

// TestEncNetworkPreviousRelease shows what a host of the release before encryption (46612c6) does with an
// encrypted network's definition: its mesh admits only the kinds it has validators for (net, ep, hostnet,
// name) and skips any other without counting it as a peer's fault (its mesh/admit.go: errUnknownKind; the
// mesh logs the first one of each kind); so the record never reaches its agent, which would build the
// network in clear. A plain network's definition still reaches it.
func TestEncNetworkPreviousRelease(t *testing.T) {
	cur := Validators()
	previous := map[string]func(mesh.Entry) error{KindNetwork: cur[KindNetwork], KindEndpoint: cur[KindEndpoint],
		KindHostNet: cur[KindHostNet], KindName: cur[KindName]}
	var sent [][]byte
	newer := mesh.NewReplica(mesh.ReplicaConfig{Name: "new", Validators: cur,
		Broadcast: func(m []byte) { sent = append(sent, m) }})
	older := mesh.NewReplica(mesh.ReplicaConfig{Name: "old", Validators: previous})
	enc := NetDef{Name: "enc1", Subnet: netip.MustParsePrefix("10.32.0.0/24"), VNI: 100,
		Options: map[string]string{driver.OptEncrypted: "true"}, Origin: "new"}
	plain := NetDef{Name: "net1", Subnet: netip.MustParsePrefix("10.33.0.0/24"), VNI: 101, Origin: "new"}
	newer.Set(defKind(enc), enc.Name, record.Encode(enc))
	newer.Set(defKind(plain), plain.Name, record.Encode(plain))
	for _, msg := range append(sent, newer.State()) {
		if _, err := older.Merge(msg); err != nil {
			t.Fatalf("the previous release fails to read the message: %v", err)
		}
	}
	if len(older.List(KindEncNetwork)) != 0 {
		t.Errorf("the previous release admitted the encrypted network's definition")
	}
	if len(older.List(KindNetwork)) != 1 {
		t.Errorf("the previous release holds %d plain definitions, want net1", len(older.List(KindNetwork)))
	}
	if r := older.Rejected(); len(r) != 0 {
		t.Errorf("the previous release counts the newer host as breaking the rules: %+v", r)
	}
	// The previous release's NetDef reads a plain definition as before.
	type previousNetDef struct {
		Name     string
		Subnet   netip.Prefix
		Gateway  netip.Addr
		IPRange  netip.Prefix `json:",omitempty"`
		VNI      uint32
		MTU      int               `json:",omitempty"`
		Internal bool              `json:",omitempty"`
		Options  map[string]string `json:",omitempty"`
		Origin   string
	}
	var got previousNetDef
	if err := json.Unmarshal(older.List(KindNetwork)[0].Value, &got); err != nil || got.VNI != 101 {
		t.Errorf("previous release reads the plain definition as %+v, %v", got, err)
	}
}

// A definition under the encrypted kind that does not ask for encryption is refused.
func TestEncNetworkValidatorWantsEncryption(t *testing.T) {
	def := NetDef{Name: "net1", Subnet: netip.MustParsePrefix("10.33.0.0/24"), VNI: 101, Origin: "h1"}
	if err := validateEncNetwork(mesh.Entry{Kind: KindEncNetwork, Key: "net1", Value: record.Encode(def)}); err == nil {
		t.Errorf("a plain definition under %q was admitted", KindEncNetwork)
	}
	def.Options = map[string]string{driver.OptEncrypted: "true"}
	if err := validateEncNetwork(mesh.Entry{Kind: KindEncNetwork, Key: "net1", Value: record.Encode(def)}); err != nil {
		t.Errorf("an encrypted definition was refused: %v", err)
	}
}
