package datapath

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

func TestInputRulesShape(t *testing.T) {
	for _, p := range []inputSpec{{dns: 53, gossip: 6783, vxlan: 4789}, {dns: 5353, gossip: 7000, vxlan: 8472}} {
		rules := inputRules(p)
		seen := map[string]bool{}
		for _, r := range rules {
			if !strings.HasPrefix(r.comment, commentPrefix) || seen[r.comment] {
				t.Errorf("comment %q: want a unique one starting with %q", r.comment, commentPrefix)
			}
			seen[r.comment] = true
			v, ok := r.exprs[len(r.exprs)-1].(*expr.Verdict)
			if !ok {
				t.Fatalf("%s: does not end in a verdict", r.comment)
			}
			ref, counted := r.exprs[len(r.exprs)-2].(*expr.Objref)
			switch {
			case v.Kind == expr.VerdictDrop && (!counted || (ref.Name != CounterFromContainer && ref.Name != CounterVXLANNonMember)):
				t.Errorf("%s: drop without a named counter", r.comment)
			case v.Kind == expr.VerdictAccept && counted:
				t.Errorf("%s: accept counted as a drop", r.comment)
			}
		}
		if len(rules) != 6 {
			t.Errorf("%d rules, want 6", len(rules))
		}
		// Changing a port changes the comments, so the chain is rebuilt.
		for _, want := range []string{"gossip tcp/", "vxlan udp/"} {
			if !slices.ContainsFunc(rules, func(r inRule) bool { return strings.Contains(r.comment, want) }) {
				t.Errorf("no rule comment mentions %q", want)
			}
		}
	}
}

// With the underlay address known, VXLAN is accepted only there: to any
// other address of its family, and over the other family, it is dropped and
// counted.
func TestInputRulesVTEP(t *testing.T) {
	for _, tc := range []struct {
		vtep       string
		to, family string
	}{
		{"192.0.2.1", "vxlan udp/4789 to an address other than 192.0.2.1", "vxlan udp/4789 over IPv6"},
		{"2001:db8::1", "vxlan udp/4789 to an address other than 2001:db8::1", "vxlan udp/4789 over IPv4"},
	} {
		vtep := netip.MustParseAddr(tc.vtep)
		rules := inputRules(inputSpec{dns: 53, gossip: 6783, vxlan: 4789, vtep: vtep})
		if len(rules) != 8 {
			t.Errorf("%s: %d rules, want 8", tc.vtep, len(rules))
		}
		for _, want := range []string{tc.to, tc.family} {
			i := slices.IndexFunc(rules, func(r inRule) bool { return r.comment == commentPrefix+want })
			if i < 0 {
				t.Errorf("no rule %q", want)
				continue
			}
			es := rules[i].exprs
			ref, counted := es[len(es)-2].(*expr.Objref)
			if v, ok := es[len(es)-1].(*expr.Verdict); !ok || v.Kind != expr.VerdictDrop || !counted || ref.Name != CounterVXLANNonMember {
				t.Errorf("rule %q: want a drop counted in %s", want, CounterVXLANNonMember)
			}
			cmpsVTEP := slices.ContainsFunc(es, func(e expr.Any) bool {
				c, ok := e.(*expr.Cmp)
				return ok && c.Op == expr.CmpOpNeq && bytes.Equal(c.Data, vtep.AsSlice())
			})
			if cmpsVTEP != (want == tc.to) {
				t.Errorf("rule %q: compares with %s = %v", want, vtep, cmpsVTEP)
			}
		}
	}
}

// TestInputRulesPorts checks that each port appears, big-endian, in the
// rules about it.
func TestInputRulesPorts(t *testing.T) {
	p := inputSpec{dns: 0x1234, gossip: 0x2345, vxlan: 0x3456}
	tests := []struct {
		comment string
		port    []byte
	}{
		{"gwbridge gossip tcp/9029", []byte{0x23, 0x45}},
		{"gwbridge vxlan udp/13398", []byte{0x34, 0x56}},
		{"vxlan udp/13398 from non-member (vxlan_peers)", []byte{0x34, 0x56}},
	}
	rules := inputRules(p)
	for _, tc := range tests {
		i := slices.IndexFunc(rules, func(r inRule) bool { return r.comment == commentPrefix+tc.comment })
		if i < 0 {
			t.Errorf("no rule %q", tc.comment)
			continue
		}
		if !slices.ContainsFunc(rules[i].exprs, func(e expr.Any) bool {
			c, ok := e.(*expr.Cmp)
			return ok && bytes.Equal(c.Data, tc.port)
		}) {
			t.Errorf("rule %q does not compare with port %x", tc.comment, tc.port)
		}
	}
}

func TestUpToDate(t *testing.T) {
	want := tableChains(inputSpec{dns: 53, gossip: 6783, vxlan: 4789})
	comments := func(rs []inRule) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.comment)
		}
		return out
	}
	full := func() inputState {
		return inputState{
			chains: map[string]*nftables.Chain{inputChainName: {}, forwardChainName: {}, outputChainName: {}},
			comments: map[string][]string{inputChainName: comments(want[0].rules),
				forwardChainName: comments(want[1].rules), outputChainName: comments(want[2].rules)},
			sets:     map[string]*nftables.Set{VXLANPeersSet: {}, VXLANPeers6Set: {}},
			counters: map[string]bool{CounterFromContainer: true, CounterVXLANNonMember: true}}
	}
	tests := []struct {
		name   string
		mangle func(*inputState)
		want   bool
	}{
		{"complete", func(*inputState) {}, true},
		{"no input chain", func(s *inputState) { delete(s.chains, inputChainName) }, false},
		{"no forward chain", func(s *inputState) { delete(s.chains, forwardChainName) }, false},
		{"no output chain", func(s *inputState) { delete(s.chains, outputChainName) }, false},
		{"rule missing", func(s *inputState) { s.comments[inputChainName] = s.comments[inputChainName][1:] }, false},
		{"forward rule missing", func(s *inputState) { s.comments[forwardChainName] = s.comments[forwardChainName][1:] }, false},
		{"rules reordered", func(s *inputState) {
			c := s.comments[inputChainName]
			c[0], c[1] = c[1], c[0]
		}, false},
		{"foreign rule", func(s *inputState) { s.comments[inputChainName][2] = "" }, false},
		{"set missing", func(s *inputState) { delete(s.sets, VXLANPeers6Set) }, false},
		{"counter missing", func(s *inputState) { delete(s.counters, CounterVXLANNonMember) }, false},
	}
	for _, tc := range tests {
		s := full()
		tc.mangle(&s)
		if got := s.upToDate(want); got != tc.want {
			t.Errorf("%s: upToDate = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestPeers(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		name     string
		have, in []netip.Addr
		norm     []netip.Addr
		add, del []netip.Addr
		v4n, v6n int
	}{
		{"empty", nil, nil, []netip.Addr{}, nil, nil, 0, 0},
		{"dedupe, sort, unmap, drop invalid",
			nil, []netip.Addr{a("10.0.0.2"), a("::ffff:10.0.0.1"), {}, a("10.0.0.2"), a("2001:db8::1")},
			[]netip.Addr{a("10.0.0.1"), a("10.0.0.2"), a("2001:db8::1")},
			[]netip.Addr{a("10.0.0.1"), a("10.0.0.2"), a("2001:db8::1")}, nil, 2, 1},
		{"same set: nothing to do", []netip.Addr{a("10.0.0.1")}, []netip.Addr{a("10.0.0.1")},
			[]netip.Addr{a("10.0.0.1")}, nil, nil, 1, 0},
		{"member replaced", []netip.Addr{a("10.0.0.1"), a("10.0.0.3")}, []netip.Addr{a("10.0.0.1"), a("10.0.0.2")},
			[]netip.Addr{a("10.0.0.1"), a("10.0.0.2")}, []netip.Addr{a("10.0.0.2")}, []netip.Addr{a("10.0.0.3")}, 2, 0},
	}
	for _, tc := range tests {
		norm := normalizePeers(tc.in)
		if !slices.Equal(norm, tc.norm) {
			t.Errorf("%s: normalizePeers = %v, want %v", tc.name, norm, tc.norm)
		}
		add, del := diffPeers(tc.have, norm)
		if !slices.Equal(add, tc.add) || !slices.Equal(del, tc.del) {
			t.Errorf("%s: diff = +%v -%v, want +%v -%v", tc.name, add, del, tc.add, tc.del)
		}
		v4, v6 := splitPeers(norm)
		if len(v4) != tc.v4n || len(v6) != tc.v6n {
			t.Errorf("%s: split = %v / %v", tc.name, v4, v6)
		}
		for _, e := range elements(v4) {
			if len(e.Key) != 4 {
				t.Errorf("%s: IPv4 element of %d bytes", tc.name, len(e.Key))
			}
		}
	}
}

func TestPort(t *testing.T) {
	for _, tc := range []struct{ in, def, want int }{{0, 53, 53}, {-1, 53, 53}, {70000, 53, 53}, {5353, 53, 5353}} {
		if got := port(tc.in, tc.def); int(got) != tc.want {
			t.Errorf("port(%d, %d) = %d, want %d", tc.in, tc.def, got, tc.want)
		}
	}
}

// The output chain drops, and counts, VXLAN that a socket of a user other
// than root sends; nothing else.
func TestOutputRules(t *testing.T) {
	rules := outputRules(inputSpec{dns: 53, gossip: 6783, vxlan: 0x3456})
	if len(rules) != 1 || rules[0].comment != commentPrefix+"vxlan udp/13398 from a local user" {
		t.Fatalf("output rules %+v, want the one local-user VXLAN rule", rules)
	}
	es := rules[0].exprs
	port := slices.ContainsFunc(es, func(e expr.Any) bool {
		c, ok := e.(*expr.Cmp)
		return ok && bytes.Equal(c.Data, []byte{0x34, 0x56})
	})
	uid := slices.ContainsFunc(es, func(e expr.Any) bool {
		m, ok := e.(*expr.Meta)
		return ok && m.Key == expr.MetaKeySKUID
	})
	ref, counted := es[len(es)-2].(*expr.Objref)
	if v, ok := es[len(es)-1].(*expr.Verdict); !port || !uid || !ok || v.Kind != expr.VerdictDrop || !counted ||
		ref.Name != CounterVXLANNonMember {
		t.Errorf("local-user VXLAN rule %+v: want port 13398, socket uid, counted drop", es)
	}
}
