package driver

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// OptReplica marks a network the reconciler created on this host because it
// exists elsewhere in the cluster; its value is the host it came from.
const OptReplica = "weavego.replica"

// OptEncrypted is Docker overlay's option: `-o encrypted` (or
// `-o encrypted=true`) makes a network whose traffic between hosts crosses
// the underlay only inside WireGuard; `-o encrypted=false` makes a plain one
// where ENCRYPT_DEFAULT is set.
const OptEncrypted = "encrypted"

// dockerOptPrefix starts Docker's own option names, which the driver lets
// through whether it uses them or not.
const dockerOptPrefix = "com.docker.network."

// knownOptions are the `-o` options weavego understands, as the user types
// them (OptReplica, which only the reconciler sets, aside).
var knownOptions = []string{OptVNI, optMTU, OptEncrypted, OptDirect, OptIfacePrefix}

// otherDriverOptions start the names of Docker's options that configure
// another driver (the bridge's bridge name, ICC, masquerading, gateway modes
// and SNAT addresses; the overlay's VXLAN ids): on a weavego network they
// would do nothing, so they count as unknown. Docker's other options pass.
var otherDriverOptions = []string{dockerOptPrefix + "bridge.", dockerOptPrefix + "host_ipv4",
	dockerOptPrefix + "host_ipv6", dockerOptPrefix + "driver.overlay."}

// UnknownOptions returns, sorted, the keys of the generic options opts that
// weavego does not know.
func UnknownOptions(opts map[string]string) []string {
	var out []string
	for k := range opts {
		if !slices.Contains(knownOptions, k) && k != OptReplica && !dockerOption(k) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// dockerOption tells whether k is one of Docker's own options that a weavego
// network lets through.
func dockerOption(k string) bool {
	if !strings.HasPrefix(k, dockerOptPrefix) {
		return false
	}
	for _, p := range otherDriverOptions {
		if strings.HasPrefix(k, p) {
			return false
		}
	}
	return true
}

// unknownOptionsError is the sentence `docker network create` shows for
// options weavego does not know.
func unknownOptionsError(unknown []string) error {
	what := "the option " + quoted(unknown)
	if len(unknown) > 1 {
		what = "the options " + quoted(unknown)
	}
	return fmt.Errorf("weavego does not know %s of docker network create (known: %s); remove %s",
		what, strings.Join(knownOptions, ", "), flags(unknown))
}

// UnknownOptionsNote says, for a network that already exists with options
// weavego does not know (it was created before weavego refused them), that
// they have no effect (what) and how to re-create the network without them
// (fix). name is the network's name, or its short ID where the name is not
// known.
func UnknownOptionsNote(name string, unknown []string) (what, fix string) {
	effect := "they have no effect"
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

// Encrypted tells whether options opts ask for an encrypted network:
// `-o encrypted` with no value or a true one. A value that is neither true
// nor false counts as encrypted (parseNetwork refuses it at creation; a
// network that has one anyway is never built in clear).
func Encrypted(opts map[string]string) bool {
	v, ok := opts[OptEncrypted]
	if !ok {
		return false
	}
	b, err := strconv.ParseBool(v)
	return v == "" || err != nil || b
}
