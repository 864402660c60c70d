package status

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/weavego/weavego/mesh"
	"github.com/weavego/weavego/plugin/keyring"
	"github.com/weavego/weavego/reconcile"
)

// Problem is something wrong that `weavego status` shows first, with what
// to do about it.
type Problem struct {
	What string
	Fix  string `json:",omitempty"`
}

// Diagnose lists what is wrong in rep, as seen at now. gossipPort is used
// in advice about reaching peers.
func Diagnose(rep Report, gossipPort int, now time.Time) []Problem {
	var out []Problem
	out = append(out, peerProblems(rep, gossipPort, now)...)
	if p, ok := ForwardingProblem(rep.Engine); ok {
		out = append(out, p)
	}
	for _, msg := range rep.IPAM.Problems {
		p := Problem{What: msg}
		for _, setting := range []string{"IPALLOC_RANGE6", "IPALLOC_RANGE"} {
			if strings.Contains(msg, setting+" ") {
				p.Fix = "give every host the same " + setting + ": docker plugin disable weavego, " +
					"docker plugin set weavego " + setting + "=..., docker plugin enable weavego"
				break
			}
		}
		out = append(out, p)
	}
	for _, n := range rep.Cluster.Networks {
		if n.Refused != "" {
			out = append(out, Problem{What: fmt.Sprintf("network %s (%s) is not created on this host: %s", n.Name, n.Subnet, n.Refused),
				Fix: "remove the route or network it overlaps on this host, or recreate " + n.Name + " with another --subnet"})
		}
		if n.UnknownOptions != "" {
			out = append(out, Problem{What: n.UnknownOptions, Fix: n.UnknownOptionsFix})
		}
	}
	for _, r := range rep.Rejected {
		out = append(out, Problem{
			What: fmt.Sprintf("%d %s records from %s refused (last: %s)", r.Count, r.Kind, r.Owner, r.Last),
			Fix: "check the weavego version and log on " + r.Owner + " (`weavego status` there); " +
				"if it is not one of your hosts, change the cluster key (docs/keys.md)"})
	}
	if rep.Security.Mode == keyring.ModeLegacy {
		out = append(out, LegacyKeyProblem())
	}
	if rep.Security.Mode == keyring.ModeOpen {
		out = append(out, Problem{What: rep.Security.Sentence(),
			Fix: "give every host a KEY (`weavego key generate`) and move to it as docs/keys.md says"})
	}
	return out
}

// peerProblems reports peers that stopped answering and join targets that
// never answered.
func peerProblems(rep Report, gossipPort int, now time.Time) []Problem {
	var out []Problem
	reach := "check that TCP and UDP " + strconv.Itoa(gossipPort) + " pass between the hosts and that it runs weavego with the same KEY"
	var memberHosts []string
	self, _ := netip.ParseAddr(rep.Cluster.VTEP)
	for _, p := range rep.Cluster.Peers {
		host := hostOf(p.Addr)
		if p.State == mesh.StateAlive {
			memberHosts = append(memberHosts, host)
		}
		if a, err := netip.ParseAddr(p.Addr); err == nil && p.State == mesh.StateAlive {
			if err := reconcile.FamilyMismatch(p.Name, a, self); err != nil {
				out = append(out, Problem{What: err.Error(),
					Fix: "docker plugin disable weavego, docker plugin set weavego ADVERTISE_ADDR=... (the same family on every host), docker plugin enable weavego"})
			}
		}
		if p.State != mesh.StateDead && p.State != mesh.StateSuspect {
			continue
		}
		since := ""
		if !p.Since.IsZero() {
			since = fmt.Sprintf(" since %s (%s ago)", p.Since.UTC().Format("2006-01-02 15:04:05 UTC"),
				now.Sub(p.Since).Round(time.Second))
		}
		out = append(out, Problem{What: fmt.Sprintf("peer %s (%s) is unreachable%s", p.Name, p.Addr, since),
			Fix: reach + ", or `weavego rmpeer " + p.Name + "` if it is gone for good"})
	}
	for _, t := range rep.JoinTargets {
		if _, err := netip.ParseAddr(hostOf(t)); err != nil || slices.Contains(memberHosts, hostOf(t)) {
			continue // a name: the members are known by address, so this cannot tell
		}
		out = append(out, Problem{What: "cannot join " + t + " (PEERS or weavego connect)",
			Fix: reach + ", or `weavego forget " + t + "` if the address is wrong"})
	}
	return out
}

// hostOf is the host part of host:port, or s itself.
func hostOf(s string) string {
	if h, _, err := net.SplitHostPort(s); err == nil {
		return h
	}
	return s
}

// LegacyKeyProblem is what the log at every start and `weavego status` say
// while the primary key is the unsalted SHA-256 of PASSWORD.
func LegacyKeyProblem() Problem {
	return Problem{
		What: "the primary cluster key is the unsalted SHA-256 of PASSWORD that weavego versions before the cluster key " +
			"used: anyone who captures gossip can test guessed passwords against it at the speed of SHA-256",
		Fix: "once every host runs this version, on every host: `weavego key list` and `weavego key use` the Argon2id key " +
			"(the other one; give it on standard input), then `weavego key remove` the old one; better, move to a random " +
			"key: `weavego key generate` and rotate to it (docs/keys.md)",
	}
}
