package datapath

import (
	"testing"

	"github.com/google/nftables/expr"
)

func TestRuleRoundTrip(t *testing.T) {
	rules := []fwRule{{iif: exactIf("wgb-a"), oif: exactIf("wgb-a"), verdict: expr.VerdictAccept},
		{iif: prefixIf(BridgePrefix), verdict: expr.VerdictDrop}, jumpRule(FirewallChain)}
	for _, r := range rules {
		got, ok := decodeRule(r.exprs())
		if !ok || got.key() != r.key() {
			t.Errorf("decode(encode(%s)) = %s, %v", r.key(), got.key(), ok)
		}
	}
}

func TestDecodeRuleRejectsForeign(t *testing.T) {
	tests := []struct {
		name  string
		exprs []expr.Any
	}{
		{"empty", nil},
		{"no verdict", []expr.Any{&expr.Counter{}}},
		{"meta without cmp", []expr.Any{&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1}, &expr.Verdict{Kind: expr.VerdictAccept}}},
		{"other meta", []expr.Any{&expr.Meta{Key: expr.MetaKeyMARK, Register: 1}, &expr.Cmp{Register: 1, Data: []byte{1}}, &expr.Verdict{Kind: expr.VerdictAccept}}},
		{"cmp neq", []expr.Any{&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1}, &expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte("x")}, &expr.Verdict{Kind: expr.VerdictAccept}}},
		{"foreign expr", []expr.Any{&expr.Ct{Key: expr.CtKeySTATE, Register: 1}, &expr.Verdict{Kind: expr.VerdictAccept}}},
	}
	for _, tc := range tests {
		if r, ok := decodeRule(tc.exprs); ok {
			t.Errorf("%s: decoded as %s", tc.name, r.key())
		}
	}
}
