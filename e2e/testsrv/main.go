// Command testsrv is the HTTP server of the weavego-e2e/httpsrv test image. It answers every request on ADDR
// (default :8080; unix:PATH for a unix socket) with "Hi! I'm NAME service and my container's IP is IP", where
// NAME is $NAME (or the host name) and IP the container's address on its first non-loopback interface (or the
// local address of the connection).
package main

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
)

func main() {
	name := os.Getenv("NAME")
	if name == "" {
		name, _ = os.Hostname()
	}
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = ":8080"
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hi! I'm %s service and my container's IP is %s\n", name, containerIP(r))
	})
	network := "tcp"
	if strings.HasPrefix(addr, "unix:") {
		network, addr = "unix", strings.TrimPrefix(addr, "unix:")
	}
	l, err := net.Listen(network, addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("testsrv %s listening on %s", name, addr)
	log.Fatal(http.Serve(l, nil))
}

// containerIP returns the first IPv4 address of the first non-loopback interface that is up, in name order (so
// eth0 comes before eth1 whatever their indexes), or else the local address of the request's connection.
func containerIP(r *http.Request) string {
	ifaces, _ := net.Interfaces()
	sort.Slice(ifaces, func(i, j int) bool { return ifaces[i].Name < ifaces[j].Name })
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagLoopback != 0 || ifc.Flags&net.FlagUp == 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
				return ipn.IP.String()
			}
		}
	}
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if host, _, err := net.SplitHostPort(la.String()); err == nil {
			return host
		}
	}
	return "unknown"
}
