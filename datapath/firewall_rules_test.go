package datapath

import (
	"testing"

	"github.com/google/nftables/expr"
)

func TestRuleRoundTrip(t *testing.T) {
	rules := append(desiredRules([]string{"wgb-b", "wgb-a"}), jumpRule(FirewallChain))
	for _, r := range rules {
		got, ok := decodeRule(r.exprs())
		if !ok || got.key() != r.key() {
			t.Errorf("decode(encode(%s)) = %s, %v", r.key(), got.key(), ok)
		}
	}
}

func TestDesiredRules(t *testing.T) {
	got := desiredRules([]string{"wgb-b", "wgb-a"})
	want := []string{
		fwRule{iif: []byte("wgb-a\x00"), oif: []byte("wgb-a\x00"), verdict: expr.VerdictAccept}.key(),
		fwRule{iif: []byte("wgb-b\x00"), oif: []byte("wgb-b\x00"), verdict: expr.VerdictAccept}.key(),
		fwRule{iif: []byte("wgb-"), verdict: expr.VerdictDrop}.key(),
		fwRule{oif: []byte("wgb-"), verdict: expr.VerdictDrop}.key(),
	}
	if len(got) != len(want) {
		t.Fatalf("got %d rules, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].key() != want[i] {
			t.Errorf("rule %d = %s, want %s", i, got[i].key(), want[i])
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
