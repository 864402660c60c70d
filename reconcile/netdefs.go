package reconcile

import (
	"github.com/weavego/weavego/driver"
	"github.com/weavego/weavego/internal/record"
	"github.com/weavego/weavego/mesh"
)

// Network definitions live under two kinds: KindNetwork for plain networks,
// KindEncNetwork for encrypted ones. The release before encryption reads
// only KindNetwork, takes `encrypted` there for an option it does not know
// and builds the network in clear; a record of a kind it has no validator
// for is not admitted, not passed on, and logged once ("ignoring entries of
// a kind this version of weavego does not know; a peer runs a newer version
// (upgrade this host to use them)", kind=encnet). So an older host never
// creates an encrypted network. An encrypted network defined under
// KindNetwork by a release of this one before this change is moved to
// KindEncNetwork by the first host of this release that sees it
// (migrateEncrypted); until then both are read.

// NetworkKinds are the kinds of network definitions, for the kinds a stale
// saved state leaves out.
func NetworkKinds() []string { return []string{KindNetwork, KindEncNetwork} }

// defKind is the kind a definition is written under.
func defKind(def NetDef) string {
	if driver.Encrypted(def.Options) {
		return KindEncNetwork
	}
	return KindNetwork
}

// netDefs lists the live definitions, one per name, sorted by kind then
// name: where both kinds have a live definition of a name (two hosts
// defined it at once, one encrypted), the encrypted one wins.
func (a *Agent) netDefs() []mesh.Entry {
	enc := a.rep.List(KindEncNetwork)
	taken := make(map[string]bool, len(enc))
	for _, e := range enc {
		taken[e.Key] = true
	}
	out := enc
	for _, e := range a.rep.List(KindNetwork) {
		if !taken[e.Key] {
			out = append(out, e)
		}
	}
	return out
}

// netDef returns the definition of name: the live one (encrypted first),
// else a tombstone of either kind.
func (a *Agent) netDef(name string) (mesh.Entry, bool) {
	enc, encOK := a.rep.Get(KindEncNetwork, name)
	if encOK && !enc.Deleted {
		return enc, true
	}
	if e, ok := a.rep.Get(KindNetwork, name); ok {
		return e, true
	}
	return enc, encOK
}

// setNetDef writes def under its kind, and removes a live definition of the
// same name under the other kind.
func (a *Agent) setNetDef(def NetDef) {
	kind := defKind(def)
	a.rep.Set(kind, def.Name, record.Encode(def))
	other := KindNetwork
	if kind == KindNetwork {
		other = KindEncNetwork
	}
	if e, ok := a.rep.Get(other, def.Name); ok && !e.Deleted {
		a.rep.Delete(other, def.Name)
	}
}

// deleteNetDef removes the live definitions of name, of both kinds.
func (a *Agent) deleteNetDef(name string) {
	for _, k := range NetworkKinds() {
		if e, ok := a.rep.Get(k, name); ok && !e.Deleted {
			a.rep.Delete(k, name)
		}
	}
}

// migrateEncrypted moves the encrypted definitions found under KindNetwork
// (written before KindEncNetwork existed) to KindEncNetwork. Hosts of the
// release before encryption then see the network removed and remove their
// copy, built in clear, unless containers are attached.
func (a *Agent) migrateEncrypted() {
	for _, e := range a.rep.List(KindNetwork) {
		def, ok := record.Decode[NetDef](e.Value)
		if !ok || !driver.Encrypted(def.Options) || checkNetDef(e.Key, def) != nil {
			continue
		}
		if enc, ok := a.rep.Get(KindEncNetwork, e.Key); !ok || enc.Deleted {
			a.rep.Set(KindEncNetwork, e.Key, e.Value)
		}
		a.rep.Delete(KindNetwork, e.Key)
		a.log.Info("encrypted network's definition moved where hosts of releases before encryption cannot "+
			"build it in clear", "network", e.Key, "origin", def.Origin)
	}
}
