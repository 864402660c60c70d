package control_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/weavego/weavego/plugin/control/controltest"
	"github.com/weavego/weavego/plugin/keyring"
)

// apiCase is one request and what its answer must be: the status code and
// a part of the body.
type apiCase struct {
	method, path, body string
	code               int
	want               string
}

// checkAPI sends each case in turn to socket.
func checkAPI(t *testing.T, socket string, cases []apiCase) {
	t.Helper()
	cl := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}}}
	defer cl.CloseIdleConnections()
	for _, c := range cases {
		req, err := http.NewRequest(c.method, "http://weavego"+c.path, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || !strings.Contains(string(b), c.want) {
			t.Errorf("%s %s: %s %s; want %d and %q", c.method, c.path, resp.Status, b, c.code, c.want)
		}
	}
}

func TestPeers(t *testing.T) {
	s := controltest.Start(t, controltest.Options{})
	checkAPI(t, s.Socket, []apiCase{
		{"POST", "/rmpeer", "", 400, `{
  "Err": "name the host to remove: weavego rmpeer HOST"
}
`},
		{"POST", "/rmpeer?host=" + strings.Repeat("a", 254), "", 400, "a host name is at most 253 bytes"},
		{"POST", "/rmpeer?host=stranger", "", 404, `\"stranger\" is not a member of this cluster`},
		{"POST", "/rmpeer?host=h2", "", 200, "address space of h2 taken over"},
		{"POST", "/rmpeer?host=gone", "", 200, `{
  "Result": "address space of gone taken over"
}
`},
		{"POST", "/connect", "", 400, "name the host: weavego connect HOST[:PORT]"},
		{"POST", "/connect?host=" + strings.Repeat("a", 260), "", 400, "a host name is at most 253 bytes"},
		{"POST", "/connect?host=h3", "", 200,
			"connected to h3:6783 (2 members); kept across restarts, `weavego forget h3` drops it"},
		{"POST", "/connect?host=h3:6790", "", 200, "connected to h3:6790"},
		{"POST", "/connect?host=a%20b", "", 409, `\"a b\" is not host[:port]`},
		{"POST", "/connect?host=10.9.9.9", "", 409, "added 10.9.9.9:6783 to the peers, but joining it failed for now " +
			"(retried in the background): join 10.9.9.9:6783: i/o timeout; check that TCP and UDP 6783 reach it"},
		{"POST", "/forget?host=h3", "", 200, "forgot h3:6783: no longer joined"},
		{"POST", "/forget?host=h3", "", 404, "h3:6783 is not among the peers this host joins"},
		{"POST", "/connect?host=10.0.0.5", "", 200, "connected to 10.0.0.5:6783"},
		{"POST", "/forget?host=10.0.0.5", "", 200, "forgot 10.0.0.5:6783 until the plugin restarts: it is in the PEERS setting"},
		{"POST", "/forget", "", 400, "name the host: weavego forget HOST[:PORT]"},
	})
	if got := s.Removed(); !slices.Equal(got, []string{"h2", "gone"}) {
		t.Errorf("address space taken over from %v, want h2 and gone", got)
	}
	want := []string{"h3:6790", controltest.Unreachable}
	if got := s.Kept(); !slices.Equal(got, want) {
		t.Errorf("saved peers %v, want %v", got, want)
	}
	if got := s.Targets(); !slices.Equal(got, want) {
		t.Errorf("join targets %v, want %v", got, want)
	}
}

func TestKeys(t *testing.T) {
	s := controltest.Start(t, controltest.Options{})
	k1, k2 := keyring.Encode(controltest.Key(1)), keyring.Encode(controltest.Key(2))
	checkAPI(t, s.Socket, []apiCase{
		{"GET", "/keys", "", 200, `"Keys": [
    "` + k1 + `"
  ]`},
		{"POST", "/keys/install", "{", 400, `the request is not {\"Key\": \"...\"} of at most 64 KiB`},
		{"POST", "/keys/install", `{"Key": "` + strings.Repeat("A", 100<<10) + `"}`, 400, "64 KiB"},
		{"POST", "/keys/install", `{"Key": "s3cret"}`, 400, "the key: "},
		{"POST", "/keys/use", `{"Key": "` + k2 + `"}`, 409, "not installed"},
		{"POST", "/keys/install", `{"Key": "` + k2 + `"}`, 200, "key installed on this host; do the same on every other host"},
		{"POST", "/keys/use", `{"Key": "` + k2 + `"}`, 200, "key made primary"},
		{"POST", "/keys/remove", `{"Key": "` + k2 + `"}`, 409, "primary"},
		{"POST", "/keys/remove", `{"Key": "` + k1 + `"}`, 200, "key removed"},
		{"GET", "/keys", "", 200, k2},
	})
	if saved := s.Saved(); len(saved) != 1 || keyring.Encode(saved[0]) != k2 {
		t.Errorf("saved ring %v, want only key 2", saved)
	}
}

// TestRoles: the status socket serves the status and the metrics, and
// refuses every command that changes the cluster or reveals the key with a
// sentence, changing nothing.
func TestRoles(t *testing.T) {
	s := controltest.Start(t, controltest.Options{})
	const refusal = " needs root or the CONTROL_GROUP group: this is the status socket, which the " +
		"STATUS_GROUP group may use only to read the status"
	k := `{"Key": "` + keyring.Encode(controltest.Key(2)) + `"}`
	checkAPI(t, s.StatusSocket, []apiCase{
		{"GET", "/status", "", 200, `"Self": "h1"`},
		{"GET", "/metrics", "", 200, "weavego_test_metric 1"},
		{"GET", "/keys", "", 403, "reading the cluster key (weavego token, weavego key list)" + refusal},
		{"POST", "/keys/install", k, 403, "weavego key install" + refusal},
		{"POST", "/keys/use", k, 403, "weavego key use" + refusal},
		{"POST", "/keys/remove", k, 403, "weavego key remove" + refusal},
		{"POST", "/rmpeer?host=gone", "", 403, "weavego rmpeer" + refusal},
		{"POST", "/connect?host=h3", "", 403, "weavego connect" + refusal},
		{"POST", "/forget?host=h3", "", 403, "weavego forget" + refusal},
		{"POST", "/wireguard/rotate", "", 403, "weavego key rotate-wireguard" + refusal},
	})
	checkAPI(t, s.Socket, []apiCase{
		{"GET", "/status", "", 200, `"GossipAddr": "10.0.0.1:6783"`},
		{"GET", "/metrics", "", 200, "weavego_test_metric 1"},
	})
	if len(s.Removed()) != 0 || s.Saved() != nil || len(s.Keys()) != 1 || len(s.Targets()) != 0 || s.WireGuardKeys() != 0 {
		t.Errorf("the status socket changed the cluster: removed %v, saved %v, keys %d, targets %v",
			s.Removed(), s.Saved(), len(s.Keys()), s.Targets())
	}
}

// TestWithout: an open cluster has no keys to read or change; the refusing
// plugin knows no host and changes no peers.
func TestWithout(t *testing.T) {
	open := controltest.Start(t, controltest.Options{Open: true})
	k := `{"Key": "` + keyring.Encode(controltest.Key(2)) + `"}`
	checkAPI(t, open.Socket, []apiCase{
		{"GET", "/keys", "", 409, "this cluster is open (INSECURE_OPEN=true): it has no key"},
		{"POST", "/keys/install", k, 409, "this cluster is open (INSECURE_OPEN=true): set KEY and restart the plugin to use keys"},
	})
	refusing := controltest.Start(t, controltest.Options{Refusing: true})
	checkAPI(t, refusing.Socket, []apiCase{
		{"POST", "/rmpeer?host=gone", "", 404, `\"gone\" is not a member of this cluster`},
		{"POST", "/connect?host=h3", "", 501, "this plugin does not change peers at run time"},
		{"POST", "/forget?host=h3", "", 501, "this plugin does not change peers at run time"},
		{"POST", "/forget", "", 400, "name the host"},
		{"POST", "/keys/install", k, 200, "key installed"},
		{"POST", "/wireguard/rotate", "", 409, "this host has no WireGuard device"},
	})
}

// TestRotateWireGuard: the control socket replaces the WireGuard key pair
// and answers the old and new public keys.
func TestRotateWireGuard(t *testing.T) {
	s := controltest.Start(t, controltest.Options{})
	checkAPI(t, s.Socket, []apiCase{
		{"POST", "/wireguard/rotate", "", 200, `"Old": "` + controltest.WGKey(0) + `",
  "New": "` + controltest.WGKey(1) + `"`},
		{"POST", "/wireguard/rotate", "", 200, `"New": "` + controltest.WGKey(2) + `"`},
	})
	if n := s.WireGuardKeys(); n != 2 {
		t.Errorf("key pair replaced %d times, want 2", n)
	}
}
