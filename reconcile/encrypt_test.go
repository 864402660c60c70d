package reconcile

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/weavego/weavego/driver"
	"github.com/weavego/weavego/internal/record"
	"github.com/weavego/weavego/mesh/meshtest"
	"github.com/weavego/weavego/tunnel"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// fakeTunnel records the last SetPeers.
type fakeTunnel struct {
	key wgtypes.Key
	// mu guards peers.
	mu    sync.Mutex
	peers []tunnel.Peer
}

func (f *fakeTunnel) PublicKey() wgtypes.Key { return f.key }
func (f *fakeTunnel) Port() int              { return 6784 }
func (f *fakeTunnel) SetPeers(p []tunnel.Peer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.peers = p
	return nil
}
func (f *fakeTunnel) Status() (map[wgtypes.Key]tunnel.PeerStatus, error) { return nil, nil }

func (f *fakeTunnel) names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, p := range f.peers {
		out = append(out, p.Name+"@"+p.Addr.String())
	}
	slices.Sort(out)
	return out
}

func wgKey(t *testing.T) wgtypes.Key {
	t.Helper()
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k.PublicKey()
}

// The tunnel's peers are the live hosts that share an encrypted network with this one and publish a key, each
// at its own address; a host without a key, one that claims another's address, and one that shares only a
// plain network are not, and a host that dies is removed. This host publishes its key in its own records.
func TestTunnelPeers(t *testing.T) {
	w := meshtest.New(meshtest.Config{})
	addr := map[string]netip.Addr{}
	for i, h := range []string{"a", "b", "c", "d", "e"} {
		addr[h] = netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)})
		w.Add(h, addr[h])
	}
	kb, kd, ke := wgKey(t), wgKey(t), wgKey(t)
	publish := func(host string, vni uint32, rec HostNetRec) {
		rec.VNI = vni
		w.Peer(host).Set(KindHostNet, strings.Join([]string{itoa(vni), host}, "/"), record.Encode(rec))
	}
	publish("b", 100, HostNetRec{VTEP: addr["b"], WGKey: kb.String(), WGPort: 6784})
	publish("c", 100, HostNetRec{VTEP: addr["c"]})                                   // no key: an older weavego
	publish("d", 100, HostNetRec{VTEP: addr["b"], WGKey: kd.String(), WGPort: 6784}) // b's address
	publish("e", 200, HostNetRec{VTEP: addr["e"], WGKey: ke.String(), WGPort: 6784}) // plain network only

	tun, loc := &fakeTunnel{key: wgKey(t)}, newFakeLocal()
	ag := New(Config{VTEP: addr["a"]}, Deps{Map: w.Peer("a"), Local: loc, Kernel: newFakeKernel(), Tunnel: tun})
	loc.cl = ag
	loc.network(driver.Network{ID: "A1", Subnet: netip.MustParsePrefix("10.32.0.0/24"), VNI: 100,
		Options: map[string]string{driver.OptEncrypted: ""}}, driver.Restored)
	loc.network(driver.Network{ID: "A2", Subnet: netip.MustParsePrefix("10.32.1.0/24"), VNI: 200}, driver.Restored)
	if err := ag.reconcileKernel(); err != nil {
		t.Fatal(err)
	}
	if got, want := tun.names(), []string{"b@192.0.2.2"}; !slices.Equal(got, want) {
		t.Errorf("tunnel peers %v, want %v", got, want)
	}
	reasons := map[string]string{}
	for _, p := range ag.Status().Encrypted {
		reasons[p.Name] = p.Reason
	}
	if !strings.Contains(reasons["c"], "publishes no WireGuard key") {
		t.Errorf("status of c, which publishes no key: %q", reasons["c"])
	}
	if _, ok := reasons["d"]; ok {
		t.Errorf("d, whose record names b's address, is listed: %q", reasons["d"])
	}
	if _, ok := reasons["e"]; ok {
		t.Errorf("e, which shares only a plain network, is listed: %q", reasons["e"])
	}
	for _, vni := range []uint32{100, 200} {
		e, ok := w.Peer("a").Get(KindHostNet, itoa(vni)+"/a")
		rec, _ := record.Decode[HostNetRec](e.Value)
		if !ok || rec.WGKey != tun.key.String() || rec.WGPort != 6784 {
			t.Errorf("a's own record of VNI %d: %+v, want its key and port", vni, rec)
		}
	}

	w.Kill("b")
	if err := ag.reconcileKernel(); err != nil {
		t.Fatal(err)
	}
	if got := tun.names(); len(got) != 0 {
		t.Errorf("tunnel peers after b died: %v, want none", got)
	}
}

// A host that cannot encrypt publishes no key, and lists its peers with the reason.
func TestTunnelPeersCannotEncrypt(t *testing.T) {
	w := meshtest.New(meshtest.Config{})
	w.Add("a", netip.MustParseAddr("192.0.2.1"))
	w.Add("b", netip.MustParseAddr("192.0.2.2"))
	w.Peer("b").Set(KindHostNet, "100/b", record.Encode(HostNetRec{VNI: 100, VTEP: netip.MustParseAddr("192.0.2.2"),
		WGKey: wgKey(t).String(), WGPort: 6784}))
	loc := newFakeLocal()
	ag := New(Config{VTEP: netip.MustParseAddr("192.0.2.1"), CannotEncrypt: "no TUN device"},
		Deps{Map: w.Peer("a"), Local: loc, Kernel: newFakeKernel()})
	loc.cl = ag
	loc.network(driver.Network{ID: "A1", Subnet: netip.MustParsePrefix("10.32.0.0/24"), VNI: 100,
		Options: map[string]string{driver.OptEncrypted: "true"}}, driver.Restored)
	if err := ag.reconcileKernel(); err != nil {
		t.Fatal(err)
	}
	e, _ := w.Peer("a").Get(KindHostNet, "100/a")
	if rec, _ := record.Decode[HostNetRec](e.Value); rec.WGKey != "" || rec.WGPort != 0 {
		t.Errorf("a host without a tunnel publishes %+v", rec)
	}
	st := ag.Status().Encrypted
	if len(st) != 1 || st[0].Up || !strings.Contains(st[0].Reason, "this host cannot encrypt: no TUN device") {
		t.Errorf("status %+v, want b down because this host cannot encrypt", st)
	}
}

func itoa(v uint32) string { return strconv.FormatUint(uint64(v), 10) }
