package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/weavego/weavego/settings"
)

// runClient runs `weavego status [SECTION]` and `weavego rmpeer HOST`.
func runClient(args []string, getenv settings.Getenv, out io.Writer) error {
	port := fmt.Sprint(settings.DefaultStatusPort)
	if v, ok := getenv("STATUS_PORT"); ok && v != "" {
		port = v
	}
	base := "http://" + net.JoinHostPort("127.0.0.1", port)
	c := &http.Client{Timeout: 15 * time.Second}
	if args[0] == "rmpeer" {
		if len(args) != 2 {
			return fmt.Errorf("usage: weavego rmpeer HOST")
		}
		return call(c, http.MethodPost, base+"/rmpeer?host="+url.QueryEscape(args[1]), out)
	}
	resp, err := c.Get(base + "/status")
	if err != nil {
		return fmt.Errorf("the weavego plugin does not answer on %s (is it enabled? `docker plugin ls`): %w", base, err)
	}
	defer resp.Body.Close()
	var rep StatusReport
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		return fmt.Errorf("unreadable status from the plugin: %w", err)
	}
	section := ""
	if len(args) > 1 {
		section = args[1]
	}
	return render(out, rep, section)
}

func call(c *http.Client, method, u string, out io.Writer) error {
	req, _ := http.NewRequest(method, u, nil)
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("the weavego plugin does not answer: %w", err)
	}
	defer resp.Body.Close()
	var body map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s", body["Err"])
	}
	fmt.Fprintln(out, body["Result"])
	return nil
}

func render(out io.Writer, rep StatusReport, section string) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	defer w.Flush()
	all := section == ""
	switch {
	case all || section == "peers":
		fmt.Fprintf(w, "weavego %s on %s (%s)\n\nPEER\tADDRESS\tSTATE\tENDPOINTS\n", rep.Version, rep.Cluster.Self, rep.Cluster.VTEP)
		for _, p := range rep.Cluster.Peers {
			me := ""
			if p.Local {
				me = " (this host)"
			}
			fmt.Fprintf(w, "%s%s\t%s\t%s\t%d\n", p.Name, me, p.Addr, p.State, p.Endpoints)
		}
		renderRejected(w, rep)
		if !all {
			break
		}
		fallthrough
	case section == "networks":
		fmt.Fprintf(w, "\nNETWORK\tVNI\tSUBNET\tGATEWAY\tENDPOINTS\tHOSTS\n")
		for _, n := range rep.Cluster.Networks {
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%d\t%s\n", n.Name, n.VNI, n.Subnet, n.Gateway, n.Endpoints, strings.Join(n.Hosts, ","))
		}
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
	default:
		return fmt.Errorf("unknown section %q: use peers, networks, ipam or dns", section)
	}
	return nil
}

func renderIPAM(w io.Writer, rep StatusReport) {
	fmt.Fprintf(w, "\nIPAM range %s\nPOOL\tHOST\tOWNED\tUSED\tFREE\tREACHABLE\n", rep.IPAM.Range)
	for _, p := range rep.IPAM.Pools {
		for _, h := range p.Hosts {
			fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%v\n", p.ID, h.Host, h.Owned, h.Used, h.Free, h.Reachable)
		}
	}
	for _, pr := range rep.IPAM.Problems {
		fmt.Fprintf(w, "problem: %s\n", pr)
	}
}

func renderDNS(w io.Writer, rep StatusReport) {
	fmt.Fprintf(w, "\nDNS domain %s, %d names, listening on %s\n", rep.DNS.Domain, rep.DNS.Records, strings.Join(rep.DNS.Listen, ", "))
	for _, n := range rep.Cluster.Networks {
		if n.Gateway != "" {
			fmt.Fprintf(w, "  network %s: docker run --dns %s --network %s ...\n", n.Name, n.Gateway, n.Name)
		}
	}
	if len(rep.Cluster.Networks) > 0 && rep.Cluster.Networks[0].Gateway != "" {
		fmt.Fprintf(w, "  daemon-wide, in /etc/docker/daemon.json: {\"dns\": [\"%s\"]}\n", rep.Cluster.Networks[0].Gateway)
	}
}
