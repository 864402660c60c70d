package main

import (
	"testing"

	"github.com/weavego/weavego/ipalloc"
	"github.com/weavego/weavego/reconcile"
)

func TestEntryValidatorsCoverEveryKind(t *testing.T) {
	c, i := reconcile.Validators(), ipalloc.Validators()
	all := entryValidators()
	if len(all) != len(c)+len(i) {
		t.Fatalf("%d validators, want %d: cluster's and ipalloc's kinds overlap", len(all), len(c)+len(i))
	}
	for _, k := range []string{reconcile.KindNetwork, reconcile.KindEncNetwork, reconcile.KindEndpoint, reconcile.KindHostNet, reconcile.KindName,
		"ipalloc.host", "ipalloc.pool", "ipalloc.ack", "ipalloc.block", "ipalloc.want", "ipalloc.used",
		"ipalloc.removed", "ipalloc.lend"} {
		if all[k] == nil {
			t.Errorf("kind %q has no validator", k)
		}
	}
}
