package settings

import (
	"strings"
	"testing"
	"time"
)

func env(kv map[string]string) Getenv {
	return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
}

func TestDefaults(t *testing.T) {
	s, err := Parse(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if s.AllocRange.String() != DefaultAllocRange || s.GossipPort != 6783 || s.DNSDomain != "weavego.local" ||
		s.MTU != 0 || s.SubnetBits != 24 || s.VXLANPort != 4789 || s.AllocWait != 5*time.Second || len(s.Peers) != 0 {
		t.Fatalf("defaults: %+v", s)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr []string
		check   func(Settings) bool
	}{
		{"peers", map[string]string{"PEERS": "10.0.0.2, 10.0.0.3:7000,host4"}, nil,
			func(s Settings) bool { return len(s.Peers) == 3 && s.Peers[1] == "10.0.0.3:7000" }},
		{"bad peer port", map[string]string{"PEERS": "10.0.0.2:99999"}, []string{"setting PEERS"}, nil},
		{"bad range", map[string]string{"IPALLOC_RANGE": "10.32.0.0/33"}, []string{"IPALLOC_RANGE", "not an IPv4 CIDR"}, nil},
		{"host bits", map[string]string{"IPALLOC_RANGE": "10.32.0.1/12"}, []string{"did you mean 10.32.0.0/12"}, nil},
		{"subnet larger than range", map[string]string{"IPALLOC_RANGE": "10.32.0.0/24", "IPALLOC_SUBNET_BITS": "16"}, []string{"IPALLOC_SUBNET_BITS"}, nil},
		{"range6 default", nil, nil, func(s Settings) bool { return s.AllocRange6.String() == DefaultAllocRange6 }},
		{"range6", map[string]string{"IPALLOC_RANGE6": " fd00:77::/48 "}, nil, func(s Settings) bool { return s.AllocRange6.String() == "fd00:77::/48" }},
		{"range6 v4", map[string]string{"IPALLOC_RANGE6": "10.0.0.0/8"}, []string{"setting IPALLOC_RANGE6", "not an IPv6 subnet"}, nil},
		{"range6 too small", map[string]string{"IPALLOC_RANGE6": "fd00::/80"}, []string{"setting IPALLOC_RANGE6", "smaller than the /64"}, nil},
		{"range6 link-local", map[string]string{"IPALLOC_RANGE6": "fe80::/48"}, []string{"setting IPALLOC_RANGE6", "link-local"}, nil},
		{"level", map[string]string{"LOG_LEVEL": "debug"}, nil, func(s Settings) bool { return s.LogLevel.String() == "DEBUG" }},
		{"bad level", map[string]string{"LOG_LEVEL": "loud"}, []string{"LOG_LEVEL", "not a log level"}, nil},
		{"mtu", map[string]string{"MTU": "8950"}, nil, func(s Settings) bool { return s.MTU == 8950 }},
		{"direct default off", nil, nil, func(s Settings) bool { return !s.DirectDefault }},
		{"direct default", map[string]string{"DIRECT_DEFAULT": "true"}, nil, func(s Settings) bool { return s.DirectDefault }},
		{"bad direct default", map[string]string{"DIRECT_DEFAULT": "yes"}, []string{"DIRECT_DEFAULT", "not true or false"}, nil},
		{"small mtu", map[string]string{"MTU": "100"}, []string{"MTU", "too small"}, nil},
		{"swarm port", map[string]string{"GOSSIP_PORT": "7946"}, []string{"swarm"}, nil},
		{"advertise", map[string]string{"ADVERTISE_ADDR": "banana"}, []string{"ADVERTISE_ADDR"}, nil},
		{"advertise6", map[string]string{"ADVERTISE_ADDR": "fd00:213::11", "PEERS": "fd00:213::12,[fd00:213::13]:7000"}, nil,
			func(s Settings) bool {
				return s.AdvertiseAddr.String() == "fd00:213::11" && len(s.Peers) == 2 && s.Peers[1] == "[fd00:213::13]:7000"
			}},
		{"advertise link-local", map[string]string{"ADVERTISE_ADDR": "fe80::1"}, []string{"ADVERTISE_ADDR", "link-local"}, nil},
		{"domain", map[string]string{"DNS_DOMAIN": "Cluster.Local."}, nil, func(s Settings) bool { return s.DNSDomain == "cluster.local" }},
		{"bad domain", map[string]string{"DNS_DOMAIN": "a b"}, []string{"DNS_DOMAIN"}, nil},
		{"wait", map[string]string{"IPALLOC_WAIT": "forever"}, []string{"IPALLOC_WAIT"}, nil},
		{"dns addr default", nil, nil, func(s Settings) bool { return s.DNSAddr.String() == DefaultDNSAddr }},
		{"dns addr", map[string]string{"DNS_ADDR": " 169.254.10.53 "}, nil, func(s Settings) bool { return s.DNSAddr.String() == "169.254.10.53" }},
		{"dns addr off", map[string]string{"DNS_ADDR": "off"}, nil, func(s Settings) bool { return !s.DNSAddr.IsValid() }},
		{"dns addr empty", map[string]string{"DNS_ADDR": ""}, nil, func(s Settings) bool { return !s.DNSAddr.IsValid() }},
		{"dns addr v6", map[string]string{"DNS_ADDR": "fd00::53"}, []string{"DNS_ADDR", "IPv4"}, nil},
		{"dns addr6 off by default", nil, nil, func(s Settings) bool { return !s.DNSAddr6.IsValid() }},
		{"dns addr6", map[string]string{"DNS_ADDR6": " fd53::53 "}, nil, func(s Settings) bool { return s.DNSAddr6.String() == "fd53::53" }},
		{"dns addr6 link-local", map[string]string{"DNS_ADDR6": "fe80::53"}, []string{"DNS_ADDR6", "unique local"}, nil},
		{"dns addr6 v4", map[string]string{"DNS_ADDR6": "169.254.53.53"}, []string{"DNS_ADDR6"}, nil},
		{"dns addr loopback", map[string]string{"DNS_ADDR": "127.0.0.53"}, []string{"DNS_ADDR"}, nil},
		{"dns addr prefix", map[string]string{"DNS_ADDR": "169.254.53.53/32"}, []string{"DNS_ADDR"}, nil},
		{"dns client rate default", nil, nil, func(s Settings) bool { return s.DNSClientRate == DefaultDNSClientRate }},
		{"dns client rate", map[string]string{"DNS_CLIENT_RATE": "5000"}, nil, func(s Settings) bool { return s.DNSClientRate == 5000 }},
		{"dns client rate zero", map[string]string{"DNS_CLIENT_RATE": "0"}, []string{"DNS_CLIENT_RATE"}, nil},
		{"dns answer rate default", nil, nil, func(s Settings) bool { return s.DNSAnswerRate == 20_000 }},
		{"dns answer rate", map[string]string{"DNS_ANSWER_RATE": "500000"}, nil, func(s Settings) bool { return s.DNSAnswerRate == 500000 }},
		{"dns answer rate too low", map[string]string{"DNS_ANSWER_RATE": "10"}, []string{"DNS_ANSWER_RATE"}, nil},
		{"several errors at once", map[string]string{"MTU": "x", "VXLAN_PORT": "0"}, []string{"setting MTU", "setting VXLAN_PORT"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(env(tt.env))
			for _, w := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Fatalf("err = %v, want %q", err, w)
				}
			}
			if tt.wantErr == nil && err != nil {
				t.Fatal(err)
			}
			if tt.check != nil && !tt.check(s) {
				t.Fatalf("settings: %+v", s)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add("10.32.0.0/12", "10.0.0.1:6783", "1400", "weavego.local", "fd77:6561:7665::/48")
	f.Fuzz(func(t *testing.T, rng, peers, mtu, domain, rng6 string) {
		s, err := Parse(env(map[string]string{"IPALLOC_RANGE": rng, "PEERS": peers, "MTU": mtu, "DNS_DOMAIN": domain, "IPALLOC_RANGE6": rng6}))
		if err == nil && (!s.AllocRange.IsValid() || s.DNSDomain == "" || !s.AllocRange6.Addr().Is6() || s.AllocRange6.Bits() > 64) {
			t.Fatalf("accepted invalid settings: %+v", s)
		}
	})
}

func TestSecurity(t *testing.T) {
	key := "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
		check   func(Settings) bool
	}{
		{"none", nil, "", func(s Settings) bool { return s.Key == nil && !s.InsecureOpen && s.ControlGroup == "" }},
		{"key", map[string]string{"KEY": key}, "", func(s Settings) bool { return len(s.Key) == 32 && s.Key[31] == 31 }},
		{"short key", map[string]string{"KEY": "AAEC"}, "setting KEY: it is not a cluster key", nil},
		{"not base64", map[string]string{"KEY": "s3cret"}, "weavego token", nil},
		{"open", map[string]string{"INSECURE_OPEN": "true"}, "", func(s Settings) bool { return s.InsecureOpen }},
		{"open not bool", map[string]string{"INSECURE_OPEN": "yes please"}, "setting INSECURE_OPEN", nil},
		{"open and key", map[string]string{"INSECURE_OPEN": "true", "KEY": key}, "remove one or the other", nil},
		{"key and password", map[string]string{"PASSWORD": "pw", "KEY": key}, "setting PASSWORD", nil},
		{"rollout", map[string]string{"KEY": key, "KEY_ROLLOUT": "accept"}, "", func(s Settings) bool { return s.KeyRollout == "accept" }},
		{"bad rollout", map[string]string{"KEY_ROLLOUT": "soon"}, "setting KEY_ROLLOUT", nil},
		{"rollout when open", map[string]string{"KEY_ROLLOUT": "send", "INSECURE_OPEN": "1"}, "needs a key", nil},
		{"group", map[string]string{"CONTROL_GROUP": "docker"}, "", func(s Settings) bool { return s.ControlGroup == "docker" }},
		{"bad group", map[string]string{"CONTROL_GROUP": "a b/c"}, "setting CONTROL_GROUP", nil},
		{"status group", map[string]string{"STATUS_GROUP": "4242"}, "", func(s Settings) bool {
			return s.StatusGroup == "4242" && s.ControlGroup == ""
		}},
		{"bad status group", map[string]string{"STATUS_GROUP": "-1"}, "setting STATUS_GROUP", nil},
		{"obsolete", map[string]string{"STATUS_PORT": "6782"}, "", func(s Settings) bool {
			return len(s.Obsolete) == 1 && s.Obsolete[0] == "STATUS_PORT"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(env(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(s) {
				t.Fatalf("settings: %+v", s)
			}
		})
	}
}

func FuzzParseKey(f *testing.F) {
	f.Add("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKey(s)
		if err == nil && len(k) != KeySize {
			t.Fatalf("accepted a key of %d bytes", len(k))
		}
	})
}
