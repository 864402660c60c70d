package datapath

import (
	"bytes"
	"fmt"

	"github.com/google/nftables/expr"
)

// fwRule is one forward rule in the only shape an earlier weavego wrote
// into Docker's table: optional iifname and oifname matches, a counter and a
// verdict (the shape iptables-nft writes for "-i IF -o IF -j VERDICT"). It is
// kept to recognise the jump to our old chain, which removeForward deletes.
type fwRule struct {
	iif, oif []byte // cmp data: name+NUL for an exact name, bare prefix for "name+"
	verdict  expr.VerdictKind
	chain    string // jump target
}

// exactIf matches interface name exactly, as iptables-nft encodes "-i name".
func exactIf(name string) []byte { return append([]byte(name), 0) }

// prefixIf matches names starting with prefix, as iptables-nft encodes "-i prefix+".
func prefixIf(prefix string) []byte { return []byte(prefix) }

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
