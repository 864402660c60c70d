package main

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/weavego/weavego/cluster"
	"github.com/weavego/weavego/dnsd"
	"github.com/weavego/weavego/ipalloc"
)

// StatusReport is the answer of GET /status.
type StatusReport struct {
	Version string
	Cluster cluster.Status
	IPAM    ipalloc.Status
	DNS     DNSStatus
}

// DNSStatus is the DNS part of the status.
type DNSStatus struct {
	Domain  string
	Listen  []string
	Records int
	Stats   dnsd.Stats
	// ServiceAddr is DNS_ADDR, "" when off; DaemonJSON the line that makes
	// every container of this host use it.
	ServiceAddr string `json:",omitempty"`
	DaemonJSON  string `json:",omitempty"`
}

func (p *parts) report() StatusReport {
	r := StatusReport{
		Version: version,
		Cluster: p.agent.Status(),
		IPAM:    p.alloc.Status(),
		DNS: DNSStatus{Domain: p.set.DNSDomain, Listen: p.dns.Addrs(), Records: p.table.Len(),
			Stats: p.dns.Stats()},
	}
	if p.set.DNSAddr.IsValid() {
		r.DNS.ServiceAddr = p.set.DNSAddr.String()
		r.DNS.DaemonJSON = daemonJSON(p.set.DNSAddr.String())
	}
	return r
}

// daemonJSON is the /etc/docker/daemon.json line that points every
// container of a host at the DNS service address.
func daemonJSON(addr string) string {
	return fmt.Sprintf(`{"dns": [%q]}`, addr)
}

// statusHandler serves the loopback API of `weavego status` and `rmpeer`.
func (p *parts) statusHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, p.report())
	})
	mux.HandleFunc("POST /rmpeer", func(w http.ResponseWriter, r *http.Request) {
		host := r.URL.Query().Get("host")
		if host == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"Err": "name the host to remove: weavego rmpeer HOST"})
			return
		}
		if err := p.alloc.RemovePeer(r.Context(), host); err != nil {
			writeJSON(w, http.StatusConflict, map[string]string{"Err": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"Result": "address space of " + host + " taken over"})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
