package datapath

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/google/nftables/expr"
)

// fwRule is one firewall rule in the only shape this package writes:
// optional iifname and oifname matches, a counter and a verdict. It is the
// shape iptables-nft writes for "-i IF -o IF -j VERDICT", so iptables-nft
// can still list Docker's table with our rules in it.
type fwRule struct {
	iif, oif []byte // cmp data: name+NUL for an exact name, bare prefix for "name+"
	verdict  expr.VerdictKind
	chain    string // jump target
}

// exactIf matches interface name exactly, as iptables-nft encodes "-i name".
func exactIf(name string) []byte { return append([]byte(name), 0) }

// prefixIf matches names starting with prefix, as iptables-nft encodes "-i prefix+".
func prefixIf(prefix string) []byte { return []byte(prefix) }

// desiredRules are the rules of our chain for the given bridges: traffic
// bridged within one weavego bridge is accepted; anything else forwarded
// into or out of a weavego bridge is dropped; the rest returns to the caller.
func desiredRules(bridges []string) []fwRule {
	sorted := append([]string(nil), bridges...)
	sort.Strings(sorted)
	rules := make([]fwRule, 0, len(sorted)+2)
	for _, b := range sorted {
		rules = append(rules, fwRule{iif: exactIf(b), oif: exactIf(b), verdict: expr.VerdictAccept})
	}
	return append(rules,
		fwRule{iif: prefixIf(BridgePrefix), verdict: expr.VerdictDrop},
		fwRule{oif: prefixIf(BridgePrefix), verdict: expr.VerdictDrop})
}

func jumpRule(chain string) fwRule { return fwRule{verdict: expr.VerdictJump, chain: chain} }

// exprs encodes the rule.
func (r fwRule) exprs() []expr.Any {
	var es []expr.Any
	if r.iif != nil {
		es = append(es, &expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: r.iif})
	}
	if r.oif != nil {
		es = append(es, &expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: r.oif})
	}
	return append(es, &expr.Counter{}, &expr.Verdict{Kind: r.verdict, Chain: r.chain})
}

// key identifies the rule for comparison with what the kernel holds.
func (r fwRule) key() string {
	return fmt.Sprintf("iif=%q oif=%q verdict=%d chain=%q", r.iif, r.oif, r.verdict, r.chain)
}

// decodeRule recognises a rule of our shape; ok is false for anything else.
func decodeRule(es []expr.Any) (r fwRule, ok bool) {
	var key expr.MetaKey
	pending := false
	for _, e := range es {
		switch e := e.(type) {
		case *expr.Meta:
			if pending || e.SourceRegister || e.Register != 1 ||
				(e.Key != expr.MetaKeyIIFNAME && e.Key != expr.MetaKeyOIFNAME) {
				return fwRule{}, false
			}
			key, pending = e.Key, true
		case *expr.Cmp:
			if !pending || e.Op != expr.CmpOpEq || e.Register != 1 {
				return fwRule{}, false
			}
			if key == expr.MetaKeyIIFNAME {
				r.iif = bytes.Clone(e.Data)
			} else {
				r.oif = bytes.Clone(e.Data)
			}
			pending = false
		case *expr.Counter:
		case *expr.Verdict:
			r.verdict, r.chain = e.Kind, e.Chain
			ok = !pending
		default:
			return fwRule{}, false
		}
	}
	return r, ok
}

// sameRules reports whether the kernel's rules are exactly want, in order.
func sameRules(have [][]expr.Any, want []fwRule) bool {
	if len(have) != len(want) {
		return false
	}
	for i, es := range have {
		r, ok := decodeRule(es)
		if !ok || r.key() != want[i].key() {
			return false
		}
	}
	return true
}
