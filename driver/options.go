package driver

import (
	"fmt"
	"slices"
	"strings"
)

// OptReplica marks a network the reconciler created on this host because it
// exists elsewhere in the cluster; its value is the host it came from.
const OptReplica = "weavego.replica"

// optEncrypted is Docker overlay's option, which weavego does not implement
// yet.
const optEncrypted = "encrypted"

// dockerOptPrefix starts Docker's own option names, which the driver lets
// through whether it uses them or not.
const dockerOptPrefix = "com.docker.network."

// knownOptions are the `-o` options weavego understands, as the user types
// them (OptReplica, which only the reconciler sets, aside).
var knownOptions = []string{OptVNI, optMTU}

// UnknownOptions returns, sorted, the keys of the generic options opts that
// weavego does not know.
func UnknownOptions(opts map[string]string) []string {
	var out []string
	for k := range opts {
		if !slices.Contains(knownOptions, k) && k != OptReplica && !strings.HasPrefix(k, dockerOptPrefix) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// unknownOptionsError is the sentence `docker network create` shows for
// options weavego does not know.
func unknownOptionsError(unknown []string) error {
	what := "the option " + quoted(unknown)
	if len(unknown) > 1 {
		what = "the options " + quoted(unknown)
	}
	why := ""
	if slices.Contains(unknown, optEncrypted) {
		why = ": encryption is not available yet"
	}
	return fmt.Errorf("weavego does not know %s of docker network create (known: %s)%s; remove %s",
		what, strings.Join(knownOptions, ", "), why, flags(unknown))
}

// UnknownOptionsNote says, for a network that already exists with options
// weavego does not know (it was created before weavego refused them), that
// they have no effect (what) and how to re-create the network without them
// (fix). name is the network's name, or its short ID where the name is not
// known.
func UnknownOptionsNote(name string, unknown []string) (what, fix string) {
	effect := "they have no effect"
	if slices.Contains(unknown, optEncrypted) {
		effect = "its traffic between hosts is NOT encrypted (encryption is not available yet)"
	}
	what = fmt.Sprintf("network %s was created with %s, which weavego does not know: %s", name, flags(unknown), effect)
	fix = fmt.Sprintf("re-create it: stop its containers, `docker network rm %s`, then `docker network create` it "+
		"again without %s", name, flags(unknown))
	return what, fix
}

func quoted(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = fmt.Sprintf("%q", k)
	}
	return strings.Join(q, ", ")
}

func flags(keys []string) string {
	return "-o " + strings.Join(keys, " -o ")
}

// warnUnknownOptions logs UnknownOptionsNote for n if it has options weavego
// does not know.
func (d *Driver) warnUnknownOptions(n *Network) {
	if unknown := UnknownOptions(n.Options); len(unknown) > 0 {
		what, fix := UnknownOptionsNote(ShortID(n.ID), unknown)
		d.log.Warn(what+"; "+fix, "network", ShortID(n.ID), "options", unknown)
	}
}
