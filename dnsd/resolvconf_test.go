package dnsd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestServersFrom(t *testing.T) {
	tests := []struct {
		name       string
		text       string
		want, loop string
	}{
		{"empty", "", "", ""},
		{"one", "nameserver 10.0.0.1\n", "10.0.0.1:53", ""},
		{"order kept", "nameserver 10.0.0.2\nnameserver 10.0.0.1\n", "10.0.0.2:53, 10.0.0.1:53", ""},
		{"docker embedded dropped", "nameserver 127.0.0.11\nnameserver 10.0.0.1\n", "10.0.0.1:53", ""},
		{"systemd stub is loopback", "nameserver 127.0.0.53\n", "", "127.0.0.53:53"},
		{"v6 loopback apart", "nameserver ::1\nnameserver 2001:db8::1\n", "[2001:db8::1]:53", "[::1]:53"},
		{"v4-mapped loopback apart", "nameserver ::ffff:127.0.0.1\n", "", "[::ffff:127.0.0.1]:53"},
		{"unspecified dropped", "nameserver 0.0.0.0\n", "", ""},
		{"zoned link-local kept", "nameserver fe80::1%eth0\n", "[fe80::1%eth0]:53", ""},
		{"hostnames dropped", "nameserver dns.example\n", "", ""},
		{"comments and options", "# x\n; y\noptions ndots:2\nsearch a b\nnameserver 10.0.0.1\n", "10.0.0.1:53", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, loop := serversFrom(strings.NewReader(tt.text))
			if got := joined(list); got != tt.want {
				t.Errorf("routable: got [%s], want [%s]", got, tt.want)
			}
			if got := joined(loop); got != tt.loop {
				t.Errorf("loopback: got [%s], want [%s]", got, tt.loop)
			}
		})
	}
}

// TestResolvConfLoopbackFallback: a host whose only resolver is the
// systemd-resolved stub gets the stub (reachable from the host namespace the
// plugin runs in); a routable server anywhere in the list of files wins.
func TestResolvConfLoopbackFallback(t *testing.T) {
	dir := t.TempDir()
	stub := filepath.Join(dir, "stub.conf")
	real := filepath.Join(dir, "real.conf")
	if err := os.WriteFile(stub, []byte("nameserver 127.0.0.53\noptions edns0 trust-ad\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := joined(newResolvConf([]string{stub, filepath.Join(dir, "missing.conf")}).servers()); got != "127.0.0.53:53" {
		t.Errorf("stub only: got [%s], want [127.0.0.53:53]", got)
	}
	if err := os.WriteFile(real, []byte("nameserver 10.0.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := joined(newResolvConf([]string{stub, real}).servers()); got != "10.0.0.1:53" {
		t.Errorf("stub and real: got [%s], want [10.0.0.1:53]", got)
	}
}

func TestResolvConfFallbackAndReload(t *testing.T) {
	dir := t.TempDir()
	stub := filepath.Join(dir, "stub.conf")
	real := filepath.Join(dir, "real.conf")
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(stub, "nameserver 127.0.0.53\n")
	write(real, "nameserver 10.0.0.1\n")
	rc := newResolvConf([]string{stub, filepath.Join(dir, "missing.conf"), real})
	if got := joined(rc.servers()); got != "10.0.0.1:53" {
		t.Fatalf("fallback: got [%s]", got)
	}
	write(stub, "nameserver 10.9.9.9\n")
	if got := joined(rc.servers()); got != "10.0.0.1:53" {
		t.Errorf("re-read before recheck interval: [%s]", got)
	}
	rc.mu.Lock()
	rc.checked = time.Now().Add(-2 * resolvRecheck)
	rc.mu.Unlock()
	if got := joined(rc.servers()); got != "10.9.9.9:53" {
		t.Errorf("after change: got [%s]", got)
	}
}

func TestParseUpstream(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{"10.0.0.1", "10.0.0.1:53", false},
		{" 10.0.0.1:5353 ", "10.0.0.1:5353", false},
		{"2001:db8::1", "[2001:db8::1]:53", false},
		{"[2001:db8::1]", "[2001:db8::1]:53", false},
		{"[2001:db8::1]:54", "[2001:db8::1]:54", false},
		{"10.0.0.1:0", "", true},
		{"dns.example", "", true},
		{"10.0.0.1:99999", "", true},
		{"", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseUpstream(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("got %q, %v; want %q, err %v", got, err, tt.want, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), tt.in) {
				t.Errorf("error %q does not name %q", err, tt.in)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := Config{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.Domain != "weavego.local." || c.ttlSeconds() != 5 || c.Port != 53 ||
		c.ForwardTimeout != 2*time.Second || c.ResolvConf != "/etc/resolv.conf" {
		t.Errorf("defaults %+v", c)
	}
	bad := []Config{
		{Domain: "bad..name"},
		{Port: 70000},
		{Port: -2},
		{Upstreams: []string{"nope"}},
	}
	for _, b := range bad {
		if _, err := b.withDefaults(); err == nil {
			t.Errorf("%+v accepted", b)
		}
	}
	if c, _ := (Config{TTL: time.Millisecond, Domain: "Cluster.Example."}).withDefaults(); c.ttlSeconds() != 1 || c.Domain != "cluster.example." {
		t.Errorf("ttl %d domain %q", c.ttlSeconds(), c.Domain)
	}
}
