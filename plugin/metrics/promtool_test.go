package metrics

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/weavego/weavego/ipalloc"
)

// TestPromtool runs `promtool check metrics` on a scrape, every wrapper
// used once, when promtool is installed (scripts/get-promtool).
func TestPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (scripts/get-promtool installs it)")
	}
	m := newTestMetrics()
	m.ObserveReply(dns.RcodeSuccess, false, time.Millisecond)
	_ = m.Kernel(fakeKernel{err: errors.New("boom")}).SetRemotes("n1", nil, nil)
	_, _ = m.Allocator(fakeAlloc{}).RequestAddress(context.Background(), ipalloc.AddressRequest{PoolID: "p1"})
	m.Instrument(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/IpamDriver.RequestPool", nil))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Handler(discardLogger()).ServeHTTP(w, r)
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	text := readAll(t, resp)
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out.String())
	}
}
