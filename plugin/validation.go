package main

import (
	"fmt"
	"io"
	"maps"

	"github.com/weavego/weavego/ipalloc"
	"github.com/weavego/weavego/mesh"
	"github.com/weavego/weavego/plugin/status"
	"github.com/weavego/weavego/reconcile"
)

// entryValidators is the registry of every kind weavego replicates, with
// the check each record of another host must pass (mesh.Config.Validators).
func entryValidators() map[string]func(mesh.Entry) error {
	v := reconcile.Validators()
	maps.Copy(v, ipalloc.Validators())
	return v
}

// renderRejected shows what this host refuses from the others: records
// rejected per owner and kind, and networks it will not create.
func renderRejected(w io.Writer, rep status.Report) {
	if len(rep.Rejected) > 0 {
		fmt.Fprintf(w, "\nREJECTED FROM\tKIND\tCOUNT\tLAST REASON\n")
		for _, r := range rep.Rejected {
			fmt.Fprintf(w, "%s\t%s\t%d\t%s\n", r.Owner, r.Kind, r.Count, r.Last)
		}
	}
	for _, n := range rep.Cluster.Networks {
		if n.Refused != "" {
			fmt.Fprintf(w, "network %s refused on this host: %s\n", n.Name, n.Refused)
		}
		if n.Kept != "" {
			fmt.Fprintf(w, "network %s was removed on this host but stays: %s\n", n.Name, n.Kept)
		}
	}
}
