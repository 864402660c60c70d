package main

import (
	"encoding/json"
	"net/http"

	"github.com/weavego/weavego/cluster"
	"github.com/weavego/weavego/dnsd"
	"github.com/weavego/weavego/ipalloc"
	"github.com/weavego/weavego/mesh"
)

// StatusReport is the answer of GET /status.
type StatusReport struct {
	Version string
	Cluster cluster.Status
	IPAM    ipalloc.Status
	DNS     DNSStatus
	// Rejected counts the records of other hosts this host refused, per
	// owner and kind (see mesh.Rejection).
	Rejected []mesh.Rejection `json:",omitempty"`
}

// DNSStatus is the DNS part of the status.
type DNSStatus struct {
	Domain  string
	Listen  []string
	Records int
	Stats   dnsd.Stats
}

func (p *parts) report() StatusReport {
	return StatusReport{
		Version: version,
		Cluster: p.agent.Status(),
		IPAM:    p.alloc.Status(),
		DNS: DNSStatus{Domain: p.set.DNSDomain, Listen: p.dns.Addrs(), Records: p.table.Len(),
			Stats: p.dns.Stats()},
		Rejected: p.mesh.Rejected(),
	}
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
