package meshsim

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/weavego/weavego/reconcile"
)

// The workload: one network, and on every host containers that each
// publish an endpoint and a name entry, written by the host that runs
// them, with the plugin's record types (package reconcile).
const (
	simNetwork = "simnet"
	simVNI     = 4100
)

// workload holds the containers of every host.
type workload struct {
	s    *Sim
	next int           // containers created so far, for addresses and names
	ctrs map[int][]ctr // by host index
	vtep map[int]netip.Addr
	// churning is the number of churn events per second, 0 when off.
	churning float64
	gen      int // bumps to stop an earlier churn loop
}

// ctr is one container: the keys of its two entries.
type ctr struct {
	epKey, nameKey string
}

func newWorkload(s *Sim) *workload {
	return &workload{s: s, ctrs: map[int][]ctr{}, vtep: map[int]netip.Addr{}}
}

// id returns a Docker-style 64-hex-digit ID from the run's random source.
func (w *workload) id() string {
	var b [32]byte
	for i := 0; i < 32; i += 8 {
		v := w.s.rnd.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return hex.EncodeToString(b[:])
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// hostAddr is host i's underlay address, its VTEP.
func hostAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{172, 16 + byte(i>>16), byte(i >> 8), byte(i)})
}

// joinNetwork writes h's record that it has the network (KindHostNet).
func (w *workload) joinNetwork(h *host) []byte {
	w.vtep[h.id] = hostAddr(h.id + 1)
	return h.node.Set(reconcile.KindHostNet, fmt.Sprintf("%d/%s", simVNI, h.name),
		mustJSON(reconcile.HostNetRec{VNI: simVNI, VTEP: w.vtep[h.id]}))
}

// create starts a container on h and returns the broadcasts of its two
// entries, with their (kind, key).
func (w *workload) create(h *host) (msgs [2][]byte, c ctr) {
	n := w.next
	w.next++
	ip := netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)})
	if n&0xff == 0 || n&0xff == 0xff {
		ip = netip.AddrFrom4([4]byte{10, 128 + byte(n>>16), byte(n >> 8), 1})
	}
	mac := fmt.Sprintf("02:42:%02x:%02x:%02x:%02x", byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	c = ctr{epKey: w.id(), nameKey: w.id() + fmt.Sprintf("/%d", simVNI)}
	msgs[0] = h.node.Set(reconcile.KindEndpoint, c.epKey,
		mustJSON(reconcile.EndpointRec{VNI: simVNI, IP: ip, MAC: mac, VTEP: w.vtep[h.id]}))
	msgs[1] = h.node.Set(reconcile.KindName, c.nameKey,
		mustJSON(reconcile.NameRec{Names: []string{fmt.Sprintf("ctr%07d", n)}, IP: ip, VNI: simVNI, Network: simNetwork}))
	w.ctrs[h.id] = append(w.ctrs[h.id], c)
	return msgs, c
}

// remove stops h's container number i and returns the two broadcasts.
func (w *workload) remove(h *host, i int) (msgs [2][]byte, c ctr) {
	c = w.ctrs[h.id][i]
	w.ctrs[h.id] = append(w.ctrs[h.id][:i], w.ctrs[h.id][i+1:]...)
	msgs[0] = h.node.Delete(reconcile.KindEndpoint, c.epKey)
	msgs[1] = h.node.Delete(reconcile.KindName, c.nameKey)
	return msgs, c
}

// populate gives every host its network record and containers, and every
// host the whole map, as if the cluster had run for a while: each host's
// own state is collected on a seed replica, whose state every host merges.
func (s *Sim) populate() {
	seed := s.cfg.Protocol.NewNode("seed")
	for _, h := range s.hosts {
		s.work.joinNetwork(h)
		for range s.cfg.EndpointsPerHost {
			s.work.create(h)
		}
		if _, err := seed.Gossip(h.node.State()); err != nil {
			panic("meshsim: populate: " + err.Error())
		}
	}
	all := seed.State()
	for _, h := range s.hosts {
		if _, err := h.node.Gossip(all); err != nil {
			panic("meshsim: populate: " + err.Error())
		}
	}
}

// write queues a local write's broadcast at h and tracks it.
func (s *Sim) write(h *host, kind, key string, msg []byte) *write {
	w := s.track.add(h, kind, key)
	h.enqueue("e\x00"+kind+"\x00"+key, msg, w)
	return w
}

// CreateContainer starts a container on a random member and returns the
// tracked writes of its endpoint and name entries.
func (s *Sim) CreateContainer() [2]*write {
	h := s.hosts[s.up[s.rnd.IntN(len(s.up))]]
	msgs, c := s.work.create(h)
	return [2]*write{
		s.write(h, reconcile.KindEndpoint, c.epKey, msgs[0]),
		s.write(h, reconcile.KindName, c.nameKey, msgs[1]),
	}
}

// removeContainer stops a random container of a random member, if it has
// one.
func (s *Sim) removeContainer() {
	h := s.hosts[s.up[s.rnd.IntN(len(s.up))]]
	if len(s.work.ctrs[h.id]) == 0 {
		return
	}
	msgs, c := s.work.remove(h, s.rnd.IntN(len(s.work.ctrs[h.id])))
	s.write(h, reconcile.KindEndpoint, c.epKey, msgs[0])
	s.write(h, reconcile.KindName, c.nameKey, msgs[1])
}

// Churn starts (rate > 0) or stops (rate 0) container churn: rate
// containers per second cluster-wide, in a Poisson process, each a
// creation or a removal with equal odds, on a random member.
func (s *Sim) Churn(rate float64) {
	w := s.work
	w.gen++
	w.churning = rate
	if rate <= 0 {
		return
	}
	gen := w.gen
	var tick func()
	tick = func() {
		if w.gen != gen {
			return
		}
		if s.rnd.IntN(2) == 0 {
			s.CreateContainer()
		} else {
			s.removeContainer()
		}
		s.at(time.Duration(s.rnd.ExpFloat64()/rate*float64(time.Second)), tick)
	}
	s.at(time.Duration(s.rnd.ExpFloat64()/rate*float64(time.Second)), tick)
}
