package main

import (
	"maps"

	"github.com/weavego/weavego/ipalloc"
	"github.com/weavego/weavego/mesh"
	"github.com/weavego/weavego/reconcile"
)

// entryValidators is the registry of every kind weavego replicates, with
// the check each record of another host must pass (mesh.Config.Validators).
func entryValidators() map[string]func(mesh.Entry) error {
	v := reconcile.Validators()
	maps.Copy(v, ipalloc.Validators())
	return v
}
