package client

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/weavego/weavego/plugin/status"
)

// sectionJSON prints one section of the status as JSON.
func sectionJSON(out io.Writer, rep status.Report, section string) error {
	parts := map[string]any{"peers": rep.Cluster.Peers, "networks": rep.Cluster.Networks, "ipam": rep.IPAM,
		"dns": rep.DNS, "security": rep.Security, "firewall": rep.Firewall, "problems": rep.Problems,
		"encryption": rep.Encryption, "engine": rep.Engine}
	v, ok := parts[section]
	if !ok {
		return fmt.Errorf("unknown section %q: use problems, peers, networks, encryption, ipam, dns, security, firewall or engine", section)
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	_, err := fmt.Fprintln(out, string(b))
	return err
}

func render(out io.Writer, rep status.Report, section string) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	defer w.Flush()
	all := section == ""
	if rep.NotStarted != "" {
		renderProblems(w, rep)
		fmt.Fprintf(w, "weavego %s serves no network on this host until this is fixed\n", rep.Version)
		return nil
	}
	if all || section == "problems" {
		renderProblems(w, rep)
		if !all {
			return nil
		}
	}
	switch {
	case all || section == "peers":
		fmt.Fprintf(w, "weavego %s on %s (%s)\n%s\n%s\n\n", rep.Version, rep.Cluster.Self, rep.Cluster.VTEP,
			rep.Security.Sentence(), rep.Engine.Sentence())
		renderPeers(w, rep.Cluster.Peers, !all)
		if sp := rep.Sync; sp.Writers > 0 {
			fmt.Fprintf(w, "sync: catching up, the records of %d writers awaited from %s\n", sp.Writers,
				strings.Join(sp.From, ", "))
		}
		renderRejected(w, rep)
		if !all {
			break
		}
		fallthrough
	case section == "networks":
		fmt.Fprintf(w, "\nNETWORK\tVNI\tSUBNET\tGATEWAY\tENDPOINTS\tHOSTS\n")
		for _, n := range rep.Cluster.Networks {
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%d\t%s\n", n.Name, n.VNI, n.Subnet, n.Gateway, n.Endpoints, hostList(n.Hosts, !all))
		}
		renderDirect(w, rep.Cluster.Networks)
		if !all {
			break
		}
		fallthrough
	case section == "encryption":
		renderEncryption(w, rep.Encryption)
		if !all {
			break
		}
		fallthrough
	case section == "ipam":
		renderIPAM(w, rep)
		if !all {
			break
		}
		fallthrough
	case section == "dns":
		renderDNS(w, rep)
	case section == "security":
		fmt.Fprintln(w, rep.Security.Sentence())
		fmt.Fprintln(w, rep.Security.RefusedSentence())
		fmt.Fprintln(w, rep.Firewall.Sentence())
	default:
		return fmt.Errorf("unknown section %q: use problems, peers, networks, encryption, ipam, dns or security", section)
	}
	return nil
}

func renderIPAM(w io.Writer, rep status.Report) {
	fmt.Fprintf(w, "\nIPAM range %s", rep.IPAM.Range)
	if rep.IPAM.Range6 != "" {
		fmt.Fprintf(w, ", IPv6 range %s", rep.IPAM.Range6)
	}
	fmt.Fprintf(w, "\nPOOL\tHOST\tOWNED\tUSED\tFREE\tRESERVE\tREACHABLE\n")
	for _, p := range rep.IPAM.Pools {
		for _, h := range p.Hosts {
			fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%d\t%v\n", p.ID, h.Host, h.Owned, h.Used, h.Free, h.Reserve, h.Reachable)
		}
	}
	for _, pr := range rep.IPAM.Problems {
		fmt.Fprintf(w, "problem: %s\n", pr)
	}
}

func renderDNS(w io.Writer, rep status.Report) {
	fmt.Fprintf(w, "\nDNS domain %s, %d names, listening on %s\n", rep.DNS.Domain, rep.DNS.Records, strings.Join(rep.DNS.Listen, ", "))
	st := rep.DNS.Stats
	fmt.Fprintf(w, "  queries %d, local %d, forwarded %d (%d from the cache), refused to strangers %d, over budget %d, "+
		"on --internal networks %d\n", st.Queries, st.Local, st.Forwarded, st.Cached, st.Strangers, st.OverBudget, st.Internal)
	fmt.Fprintf(w, "  dropped over the answer rate %d, TCP connections refused %d\n", st.Throttled, st.ConnsRefused)
	if rep.DNS.DaemonJSON != "" {
		fmt.Fprintf(w, "  every weavego network, daemon-wide in /etc/docker/daemon.json: %s\n", rep.DNS.DaemonJSON)
		fmt.Fprintf(w, "  or per container: docker run --dns %s ...\n", rep.DNS.ServiceAddr)
	}
	for _, n := range rep.Cluster.Networks {
		if n.Gateway != "" {
			fmt.Fprintf(w, "  network %s only: docker run --dns %s --network %s ...\n", n.Name, n.Gateway, n.Name)
		}
	}
}

// renderProblems prints what is wrong first, each with its fix.
func renderProblems(w io.Writer, rep status.Report) {
	if len(rep.Problems) == 0 {
		fmt.Fprintln(w, "no problems found")
		return
	}
	fmt.Fprintf(w, "%d PROBLEM(S):\n", len(rep.Problems))
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "- %s\n", p.What)
		if p.Fix != "" {
			fmt.Fprintf(w, "  fix: %s\n", p.Fix)
		}
	}
	fmt.Fprintln(w)
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
