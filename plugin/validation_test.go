package main

import (
	"testing"

	"github.com/weavego/weavego/cluster"
	"github.com/weavego/weavego/ipalloc"
)

func TestEntryValidatorsCoverEveryKind(t *testing.T) {
	c, i := cluster.Validators(), ipalloc.Validators()
	all := entryValidators()
	if len(all) != len(c)+len(i) {
		t.Fatalf("%d validators, want %d: cluster's and ipalloc's kinds overlap", len(all), len(c)+len(i))
	}
	for _, k := range []string{cluster.KindNetwork, cluster.KindEndpoint, cluster.KindHostNet, cluster.KindName,
		"ipalloc.host", "ipalloc.pool", "ipalloc.ack", "ipalloc.block", "ipalloc.want", "ipalloc.used",
		"ipalloc.removed", "ipalloc.lend"} {
		if all[k] == nil {
			t.Errorf("kind %q has no validator", k)
		}
	}
}
