//go:build linux

package e2e

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/weavego/weavego/cluster"
	"github.com/weavego/weavego/mesh"
	"github.com/weavego/weavego/settings"
)

// The fake peer of the scale benchmark: one more member of the benchmark's weavego cluster, in a namespace of
// its own on the underlay, speaking the real gossip (package mesh, the cluster key, the cluster package's
// validators and record types) but with no Docker and no datapath. It publishes endpoints of one network as
// a host with that many containers would, so that the real hosts reconcile their real datapath against
// thousands of remote endpoints that this machine could not run as containers. Nothing is added to the
// plugin: a fake peer is what any holder of the cluster key could already be.
const benchFakePeerPrefix = "FAKEPEER "

// benchFakePeer runs the fake peer: args = NAME BINDIP KEY NETWORK PEERS(comma-separated). It reads commands on
// stdin, one a line, and answers each with one line starting with benchFakePeerPrefix:
//
//	set N          hold exactly endpoints 0..N-1 (adding and deleting at once)
//	add FROM K MS  add endpoints FROM..FROM+K-1, one every MS milliseconds
//	stats          mesh.Stats as JSON
func benchFakePeer(args []string) error {
	if len(args) != 5 {
		return errors.New("usage: fakepeer NAME BINDIP KEY NETWORK PEERS")
	}
	key, err := settings.ParseKey(args[2])
	if err != nil {
		return err
	}
	ip := net.ParseIP(args[1])
	m, err := mesh.New(mesh.Config{Name: args[0], BindAddr: args[1], AdvertiseAddr: ip,
		Peers: strings.Split(args[4], ","), Keys: [][]byte{key}, Validators: cluster.Validators()})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = m.Run(ctx) }()
	defer m.Close()
	p := &benchPeerState{m: m, network: args[3], vtep: netip.MustParseAddr(args[1])}
	if err := p.waitNetwork(2 * time.Minute); err != nil {
		return err
	}
	m.Set(cluster.KindHostNet, fmt.Sprintf("%d/%s", p.def.VNI, args[0]), benchJSON(cluster.HostNetRec{VNI: p.def.VNI, VTEP: p.vtep}))
	fmt.Printf("%sready vni=%d subnet=%s\n", benchFakePeerPrefix, p.def.VNI, p.def.Subnet)
	return p.serve(os.Stdin)
}

type benchPeerState struct {
	m       *mesh.Mesh
	network string
	vtep    netip.Addr
	def     cluster.NetDef
	held    int // endpoints 0..held-1 are published
}

// waitNetwork waits until the network's definition has arrived by gossip.
func (p *benchPeerState) waitNetwork(within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if e, ok := p.m.Get(cluster.KindNetwork, p.network); ok && !e.Deleted {
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

// benchFakeIP is the address of fake endpoint i: counted down from the top of the subnet, far from the
// addresses the IPAM gives the real containers (from the bottom).
func benchFakeIP(subnet netip.Prefix, i int) netip.Addr {
	top := binary.BigEndian.Uint32(subnet.Addr().AsSlice()) | (1<<(32-subnet.Bits()) - 1)
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], top-1-uint32(i))
	return netip.AddrFrom4(b)
}

func (p *benchPeerState) publish(i int) {
	ip := benchFakeIP(p.def.Subnet, i)
	a := ip.As4()
	mac := fmt.Sprintf("02:fe:%02x:%02x:%02x:%02x", a[0], a[1], a[2], a[3])
	p.m.Set(cluster.KindEndpoint, fmt.Sprintf("benchpeer-ep-%05d", i),
		benchJSON(cluster.EndpointRec{VNI: p.def.VNI, IP: ip, MAC: mac, VTEP: p.vtep}))
	p.m.Set(cluster.KindName, fmt.Sprintf("benchpeer-ctr-%05d/%d", i, p.def.VNI),
		benchJSON(cluster.NameRec{Names: []string{fmt.Sprintf("fake%05d", i)}, IP: ip, VNI: p.def.VNI, Network: p.network}))
}

func (p *benchPeerState) unpublish(i int) {
	p.m.Delete(cluster.KindEndpoint, fmt.Sprintf("benchpeer-ep-%05d", i))
	p.m.Delete(cluster.KindName, fmt.Sprintf("benchpeer-ctr-%05d/%d", i, p.def.VNI))
}

func benchJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
