package pluginapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/docker/go-plugins-helpers/ipam"
	"github.com/docker/go-plugins-helpers/network"
)

// stubNet answers every call; CreateNetwork fails or panics on request.
type stubNet struct{ created []string }

func (s *stubNet) GetCapabilities() (*network.CapabilitiesResponse, error) {
	return &network.CapabilitiesResponse{Scope: network.LocalScope}, nil
}
func (s *stubNet) CreateNetwork(r *network.CreateNetworkRequest) error {
	switch r.NetworkID {
	case "panic":
		panic("boom")
	case "fail":
		return errors.New("subnet 10.1.0.0/16 overlaps network net2")
	}
	s.created = append(s.created, r.NetworkID)
	return nil
}
func (s *stubNet) AllocateNetwork(*network.AllocateNetworkRequest) (*network.AllocateNetworkResponse, error) {
	return &network.AllocateNetworkResponse{}, nil
}
func (s *stubNet) DeleteNetwork(*network.DeleteNetworkRequest) error { return nil }
func (s *stubNet) FreeNetwork(*network.FreeNetworkRequest) error     { return nil }
func (s *stubNet) CreateEndpoint(*network.CreateEndpointRequest) (*network.CreateEndpointResponse, error) {
	return &network.CreateEndpointResponse{}, nil
}
func (s *stubNet) DeleteEndpoint(*network.DeleteEndpointRequest) error { return nil }
func (s *stubNet) EndpointInfo(*network.InfoRequest) (*network.InfoResponse, error) {
	return &network.InfoResponse{}, nil
}
func (s *stubNet) Join(*network.JoinRequest) (*JoinResponse, error) {
	return &JoinResponse{InterfaceName: InterfaceName{SrcName: "vwg1", DstName: "data0", DstPrefix: "eth"}}, nil
}
func (s *stubNet) Leave(*network.LeaveRequest) error                   { return nil }
func (s *stubNet) DiscoverNew(*network.DiscoveryNotification) error    { return nil }
func (s *stubNet) DiscoverDelete(*network.DiscoveryNotification) error { return nil }
func (s *stubNet) ProgramExternalConnectivity(*network.ProgramExternalConnectivityRequest) error {
	return nil
}
func (s *stubNet) RevokeExternalConnectivity(*network.RevokeExternalConnectivityRequest) error {
	return nil
}

type stubIPAM struct{}

func (stubIPAM) GetCapabilities() (*ipam.CapabilitiesResponse, error) {
	return &ipam.CapabilitiesResponse{}, nil
}
func (stubIPAM) GetDefaultAddressSpaces() (*ipam.AddressSpacesResponse, error) {
	return &ipam.AddressSpacesResponse{LocalDefaultAddressSpace: "weavego-local"}, nil
}
func (stubIPAM) RequestPool(r *ipam.RequestPoolRequest) (*ipam.RequestPoolResponse, error) {
	return &ipam.RequestPoolResponse{PoolID: r.Pool, Pool: r.Pool}, nil
}
func (stubIPAM) ReleasePool(*ipam.ReleasePoolRequest) error { return nil }
func (stubIPAM) RequestAddress(*ipam.RequestAddressRequest) (*ipam.RequestAddressResponse, error) {
	return &ipam.RequestAddressResponse{Address: "10.0.0.2/24"}, nil
}
func (stubIPAM) ReleaseAddress(*ipam.ReleaseAddressRequest) error { return nil }

func newTestHandler() (http.Handler, *stubNet) {
	n := &stubNet{}
	reg := newRegistration(time.Hour, 0)
	reg.open()
	return newHandler(Config{}, n, stubIPAM{}, reg), n
}

func post(h http.Handler, path, body string) (int, map[string]any) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, strings.NewReader(body)))
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec.Code, out
}

func TestHandler(t *testing.T) {
	tests := []struct {
		name, path, body string
		code             int
		errHas           string
		key              string
	}{
		{"activate", "/Plugin.Activate", "", 200, "", "Implements"},
		{"capabilities", "/NetworkDriver.GetCapabilities", "null", 200, "", "Scope"},
		{"create", "/NetworkDriver.CreateNetwork", `{"NetworkID":"n1"}`, 200, "", ""},
		{"driver error", "/NetworkDriver.CreateNetwork", `{"NetworkID":"fail"}`, 500, "overlaps network net2", ""},
		{"panic", "/NetworkDriver.CreateNetwork", `{"NetworkID":"panic"}`, 500, "internal error", ""},
		{"malformed", "/NetworkDriver.CreateNetwork", `{"NetworkID":`, 400, "malformed NetworkDriver.CreateNetwork request", ""},
		{"wrong type", "/NetworkDriver.CreateNetwork", `{"NetworkID":5}`, 400, "should be string", ""},
		{"trailing", "/NetworkDriver.CreateNetwork", `{"NetworkID":"x"} {}`, 400, "trailing data", ""},
		{"not an object", "/IpamDriver.RequestPool", `[1,2]`, 400, "malformed", ""},
		{"ipam", "/IpamDriver.RequestPool", `{"Pool":"10.1.0.0/16"}`, 200, "", "PoolID"},
		{"unknown method", "/NetworkDriver.Frobnicate", `{}`, 404, "does not implement", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := newTestHandler()
			code, out := post(h, tt.path, tt.body)
			if code != tt.code {
				t.Fatalf("code = %d, want %d (%v)", code, tt.code, out)
			}
			if tt.errHas != "" {
				msg, _ := out["Err"].(string)
				if !strings.Contains(msg, tt.errHas) {
					t.Fatalf("Err = %q, want it to contain %q", msg, tt.errHas)
				}
			}
			if tt.key != "" {
				if _, ok := out[tt.key]; !ok {
					t.Fatalf("reply %v lacks %s", out, tt.key)
				}
			}
		})
	}
}

func TestMalformedDoesNotReachDriver(t *testing.T) {
	h, n := newTestHandler()
	post(h, "/NetworkDriver.CreateNetwork", `{"NetworkID":"x"`)
	if len(n.created) != 0 {
		t.Fatal("driver called with a malformed request")
	}
	if code, _ := post(h, "/NetworkDriver.CreateNetwork", `{"NetworkID":"ok"}`); code != 200 {
		t.Fatal("handler broken after a malformed request")
	}
}

func FuzzHandler(f *testing.F) {
	for _, s := range []string{`{"NetworkID":"n"}`, `null`, ``, `{"Pool":"10.0.0.0/8","Options":{"a":"b"}}`, `{"Interface":{"Address":"x"}}`, `[`, "\x00"} {
		f.Add("/NetworkDriver.CreateNetwork", s)
		f.Add("/IpamDriver.RequestAddress", s)
		f.Add("/NetworkDriver.Join", s)
	}
	f.Fuzz(func(t *testing.T, path, body string) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		h, _ := newTestHandler()
		rec := httptest.NewRecorder()
		req, err := http.NewRequest(http.MethodPost, "http://plugin"+path, strings.NewReader(body))
		if err != nil {
			return
		}
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			var out map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out["Err"] == "" {
				t.Fatalf("error reply is not JSON: %d %q", rec.Code, rec.Body.String())
			}
		}
	})
}

// After a restart, endpoints wait for Docker to register the driver again, or for the limit.
func TestEndpointsWaitForRegistration(t *testing.T) {
	t.Run("GetCapabilities opens", func(t *testing.T) {
		h := newHandler(Config{}, &stubNet{}, stubIPAM{}, newRegistration(time.Hour, 0))
		done := make(chan int, 1)
		go func() {
			code, _ := post(h, "/NetworkDriver.CreateEndpoint", `{"NetworkID":"n","EndpointID":"e"}`)
			done <- code
		}()
		select {
		case <-done:
			t.Fatal("CreateEndpoint answered before Docker registered the driver")
		case <-time.After(50 * time.Millisecond):
		}
		if code, _ := post(h, "/IpamDriver.RequestAddress", `{"PoolID":"p"}`); code != 200 {
			t.Fatalf("IPAM held back: %d", code)
		}
		post(h, "/NetworkDriver.GetCapabilities", "")
		if code := <-done; code != 200 {
			t.Fatalf("CreateEndpoint after registration: %d", code)
		}
	})
	t.Run("limit opens", func(t *testing.T) {
		h := newHandler(Config{}, &stubNet{}, stubIPAM{}, newRegistration(10*time.Millisecond, 0))
		if code, _ := post(h, "/NetworkDriver.Join", `{"NetworkID":"n","EndpointID":"e"}`); code != 200 {
			t.Fatalf("Join after the limit: %d", code)
		}
	})
}

// At debug level every request body is logged, bounded, before it is decoded.
func TestDebugLogsRequests(t *testing.T) {
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := newRegistration(time.Hour, 0)
	reg.open()
	h := newHandler(Config{Logger: log}, &stubNet{}, stubIPAM{}, reg)
	post(h, "/IpamDriver.RequestAddress", `{"PoolID":"p","Options":{"com.docker.network.endpoint.name":"web"}}`)
	post(h, "/IpamDriver.RequestAddress", `{"PoolID":"`+strings.Repeat("x", 3*maxLoggedBody)+`"}`)
	out := buf.String()
	if !strings.Contains(out, `method=IpamDriver.RequestAddress`) || !strings.Contains(out, `com.docker.network.endpoint.name`) {
		t.Fatalf("request not logged: %s", out)
	}
	if n := strings.Count(out, "x"); n > maxLoggedBody+100 {
		t.Fatalf("logged %d bytes of a long body, want at most about %d", n, maxLoggedBody)
	}
}

// TestJoinNamesInterface checks Join's reply on the wire: InterfaceName carries DstName beside SrcName and
// DstPrefix, once, as the engine's remote driver reads it.
func TestJoinNamesInterface(t *testing.T) {
	h, _ := newTestHandler()
	post(h, "/NetworkDriver.GetCapabilities", "")
	code, out := post(h, "/NetworkDriver.Join", `{"NetworkID":"n","EndpointID":"e","SandboxKey":"/x"}`)
	if code != http.StatusOK {
		t.Fatalf("Join: %d %v", code, out)
	}
	want := map[string]any{"SrcName": "vwg1", "DstName": "data0", "DstPrefix": "eth"}
	got, _ := out["InterfaceName"].(map[string]any)
	if len(got) != len(want) {
		t.Fatalf("InterfaceName %v, want %v", out["InterfaceName"], want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("InterfaceName.%s = %v, want %v", k, got[k], v)
		}
	}
}
