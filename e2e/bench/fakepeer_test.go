//go:build linux

package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weavego/weavego/mesh"
	"github.com/weavego/weavego/plugin/settings"
	"github.com/weavego/weavego/reconcile"
)

// The fake peer of the scale benchmark: one more member of the benchmark's weavego cluster, in a namespace of
// its own on the underlay, speaking the real gossip (package mesh, the cluster key, the cluster package's
// validators and record types) but with no Docker and no datapath. It publishes endpoints of one network as
// a host with that many containers would, so that the real hosts reconcile their real datapath against
// thousands of remote endpoints that this machine could not run as containers. Nothing is added to the
// plugin: a fake peer is what any holder of the cluster key could already be.
const benchFakePeerPrefix = "FAKEPEER "

// benchFakePeer runs the fake peer: args = NAME BINDIP KEY NETWORK PEERS [TAKEN], comma-separated lists (TAKEN:
// addresses of real containers, which fake endpoints must not reuse). It reads commands on
// stdin, one a line, and answers each with one line starting with benchFakePeerPrefix:
//
//	set N          hold exactly endpoints 0..N-1 (adding and deleting at once)
//	add FROM K MS  add endpoints FROM..FROM+K-1, one every MS milliseconds
//	stats          mesh.Stats as JSON
func benchFakePeer(args []string) error {
	if len(args) != 5 && len(args) != 6 {
		return errors.New("usage: fakepeer NAME BINDIP KEY NETWORK PEERS [TAKEN]")
	}
	key, err := settings.ParseKey(args[2])
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(args[1])
	if err != nil {
		return err
	}
	m, err := mesh.New(mesh.Config{Name: args[0], BindAddr: args[1], AdvertiseAddr: ip,
		Peers: strings.Split(args[4], ","), Keys: [][]byte{key}, Validators: reconcile.Validators()})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = m.Run(ctx) }()
	defer m.Close()
	p := &benchPeerState{m: m, network: args[3], vtep: ip}
	if err := p.waitNetwork(2 * time.Minute); err != nil {
		return err
	}
	taken := map[netip.Addr]bool{p.def.Gateway: true}
	if len(args) == 6 {
		for _, s := range strings.Split(args[5], ",") {
			if a, err := netip.ParseAddr(s); err == nil {
				taken[a] = true
			}
		}
	}
	p.ips = benchFreeAddrs(p.def.Subnet, taken, 8192)
	m.Set(reconcile.KindHostNet, fmt.Sprintf("%d/%s", p.def.VNI, args[0]), benchJSON(reconcile.HostNetRec{VNI: p.def.VNI, VTEP: p.vtep}))
	fmt.Printf("%sready vni=%d subnet=%s\n", benchFakePeerPrefix, p.def.VNI, p.def.Subnet)
	return p.serve(os.Stdin)
}

type benchPeerState struct {
	m       *mesh.Mesh
	network string
	vtep    netip.Addr
	def     reconcile.NetDef
	ips     []netip.Addr // address of fake endpoint i, free of real containers
	held    int          // endpoints 0..held-1 are published
}

// waitNetwork waits until the network's definition has arrived by gossip.
func (p *benchPeerState) waitNetwork(within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if e, ok := p.m.Get(reconcile.KindNetwork, p.network); ok && !e.Deleted {
			if err := json.Unmarshal(e.Value, &p.def); err == nil && p.def.VNI != 0 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("network %s not learnt from the cluster within %s (members %d)", p.network, within, p.m.Members())
}

func (p *benchPeerState) serve(in io.Reader) error {
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		n := make([]int, len(f))
		for i := 1; i < len(f); i++ {
			n[i], _ = strconv.Atoi(f[i])
		}
		var out string
		switch {
		case len(f) == 2 && f[0] == "set":
			for i := p.held; i < n[1]; i++ {
				p.publish(i)
			}
			for i := n[1]; i < p.held; i++ {
				p.unpublish(i)
			}
			p.held = n[1]
			out = fmt.Sprintf("ok %d", p.held)
		case len(f) == 4 && f[0] == "add":
			for i := n[1]; i < n[1]+n[2]; i++ {
				p.publish(i)
				time.Sleep(time.Duration(n[3]) * time.Millisecond)
			}
			p.held = max(p.held, n[1]+n[2])
			out = fmt.Sprintf("ok %d", p.held)
		case len(f) == 1 && f[0] == "stats":
			b, _ := json.Marshal(p.m.Stats())
			out = "stats " + string(b)
		default:
			out = "error unknown command " + strconv.Quote(sc.Text())
		}
		fmt.Printf("%s%s\n", benchFakePeerPrefix, out)
	}
	return sc.Err()
}

// benchFreeAddrs lists up to n addresses of subnet that are not taken, from the highest host address down.
func benchFreeAddrs(subnet netip.Prefix, taken map[netip.Addr]bool, n int) []netip.Addr {
	var out []netip.Addr
	for a := benchFakeTop(subnet); subnet.Contains(a) && a != subnet.Addr() && len(out) < n; a = a.Prev() {
		if !taken[a] {
			out = append(out, a)
		}
	}
	return out
}

// benchFakeTop is the highest host address of subnet: fake endpoints are counted down from it.
func benchFakeTop(subnet netip.Prefix) netip.Addr {
	top := binary.BigEndian.Uint32(subnet.Addr().AsSlice()) | (1<<(32-subnet.Bits()) - 1)
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], top-1)
	return netip.AddrFrom4(b)
}

func (p *benchPeerState) publish(i int) {
	ip := p.ips[i%len(p.ips)]
	a := ip.As4()
	mac := fmt.Sprintf("02:fe:%02x:%02x:%02x:%02x", a[0], a[1], a[2], a[3])
	p.m.Set(reconcile.KindEndpoint, fmt.Sprintf("benchpeer-ep-%05d", i),
		benchJSON(reconcile.EndpointRec{VNI: p.def.VNI, IP: ip, MAC: mac, VTEP: p.vtep}))
	p.m.Set(reconcile.KindName, fmt.Sprintf("benchpeer-ctr-%05d/%d", i, p.def.VNI),
		benchJSON(reconcile.NameRec{Names: []string{fmt.Sprintf("fake%05d", i)}, IP: ip, VNI: p.def.VNI, Network: p.network}))
}

func (p *benchPeerState) unpublish(i int) {
	p.m.Delete(reconcile.KindEndpoint, fmt.Sprintf("benchpeer-ep-%05d", i))
	p.m.Delete(reconcile.KindName, fmt.Sprintf("benchpeer-ctr-%05d/%d", i, p.def.VNI))
}

func benchJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// TestBenchFakePeerCommands drives the fake peer's command loop on a mesh of one on loopback (no hosts needed).
func TestBenchFakePeerCommands(t *testing.T) {
	m, err := mesh.New(mesh.Config{Name: "benchpeer", BindAddr: "127.0.0.1", BindPort: -1, AdvertiseAddr: netip.AddrFrom4([4]byte{127, 0, 0, 1})})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	subnet := netip.MustParsePrefix("10.100.0.0/19")
	taken := map[netip.Addr]bool{netip.MustParseAddr("10.100.31.253"): true}
	ips := benchFreeAddrs(subnet, taken, 8192)
	if len(ips) != 8190-1 || ips[0] != netip.MustParseAddr("10.100.31.254") || ips[1] != netip.MustParseAddr("10.100.31.252") {
		t.Fatalf("free addresses: %d, first %v", len(ips), ips[:2])
	}
	p := &benchPeerState{m: m, network: "n", vtep: benchFakePeerAddr, ips: ips,
		def: reconcile.NetDef{Name: "n", Subnet: subnet, VNI: 42}}
	var out strings.Builder
	stdout := os.Stdout
	r, w, _ := os.Pipe()
	os.Stdout = w
	err = p.serve(strings.NewReader("set 3\nadd 3 2 0\nset 1\nstats\n"))
	w.Close()
	os.Stdout = stdout
	b, _ := io.ReadAll(r)
	out.Write(b)
	if err != nil {
		t.Fatal(err)
	}
	live := 0
	for _, e := range m.List(reconcile.KindEndpoint) {
		if !e.Deleted {
			live++
			if err := reconcile.Validators()[reconcile.KindEndpoint](e); err != nil {
				t.Errorf("endpoint %s: %v", e.Key, err)
			}
		}
	}
	if live != 1 || !strings.Contains(out.String(), benchFakePeerPrefix+"ok 5") || !strings.Contains(out.String(), benchFakePeerPrefix+"stats ") {
		t.Fatalf("%d live endpoints, output:\n%s", live, out.String())
	}
}
