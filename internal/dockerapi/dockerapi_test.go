package dockerapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// engine is an httptest server that speaks the few Docker Engine API calls
// dockerapi makes, with one weavego network, one bridge network, one
// container and one plugin.
type engine struct {
	api string // the API version it speaks; "" is 1.41 (Docker 20.10)
	// mu guards created and removed.
	mu      sync.Mutex
	created []map[string]any
	removed []string
}

var versioned = regexp.MustCompile(`^/v[0-9.]+`)

const net1 = `{"Name":"net1","Id":"n1","Driver":"weavego:latest","Internal":true,"Options":{"vni":"100"},
	"IPAM":{"Driver":"weavego:latest","Config":[{"Subnet":"10.32.0.0/24","Gateway":"10.32.0.1","IPRange":"10.32.0.128/25"}]},
	"Containers":{"c1":{"Name":"web","IPv4Address":"10.32.0.2/24"}}}`

func (e *engine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := versioned.ReplaceAllString(r.URL.Path, "")
	api := e.api
	if api == "" {
		api = "1.41"
	}
	w.Header().Set("API-Version", api)
	w.Header().Set("Content-Type", "application/json")
	switch {
	case path == "/_ping":
		_, _ = io.WriteString(w, "OK")
	case r.Method == http.MethodGet && path == "/networks":
		_, _ = io.WriteString(w, `[{"Name":"net1","Id":"n1","Driver":"weavego:latest"},{"Name":"bridge","Id":"b1","Driver":"bridge"}]`)
	case r.Method == http.MethodGet && (path == "/networks/n1" || path == "/networks/net1"):
		_, _ = io.WriteString(w, net1)
	case r.Method == http.MethodGet && path == "/networks/b1":
		_, _ = io.WriteString(w, `{"Name":"bridge","Id":"b1","Driver":"bridge","IPAM":{"Config":[]}}`)
	case r.Method == http.MethodPost && path == "/networks/create":
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		e.mu.Lock()
		e.created = append(e.created, body)
		e.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"Id":"n2"}`)
	case r.Method == http.MethodDelete && path == "/networks/n1":
		e.mu.Lock()
		e.removed = append(e.removed, "n1")
		e.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodGet && path == "/containers/c1/json":
		_, _ = io.WriteString(w, `{"Id":"c1","Name":"/web","State":{"Running":true},"NetworkSettings":{"Networks":
			{"net1":{"NetworkID":"n1","Aliases":["www"],"IPAddress":"10.32.0.2"}}}}`)
	case r.Method == http.MethodGet && path == "/plugins":
		_, _ = io.WriteString(w, `[{"Name":"other:latest","Enabled":true,"Config":{"Interface":{"Socket":"other.sock"}}},
			{"Name":"weavego:latest","Enabled":true,"Config":{"Interface":{"Socket":"weavego.sock"}}}]`)
	case r.Method == http.MethodGet && path == "/events":
		_, _ = io.WriteString(w, `{"Type":"network","Action":"create","Actor":{"ID":"n2"}}`+"\n")
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"message":"no such object: `+path+`"}`)
	}
}

func newEngine(t *testing.T) (*engine, *Client) {
	t.Helper()
	return newEngineAt(t, "")
}

// newEngineAt is newEngine speaking API version api.
func newEngineAt(t *testing.T, api string) (*engine, *Client) {
	t.Helper()
	e := &engine{api: api}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	c, err := New(Config{Host: "tcp://" + strings.TrimPrefix(srv.URL, "http://")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return e, c
}

func TestNetworks(t *testing.T) {
	_, c := newEngine(t)
	ctx := context.Background()
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	all, err := c.Networks(ctx)
	if err != nil || len(all) != 2 {
		t.Fatalf("all networks: %d, %v", len(all), err)
	}
	ours, err := c.Networks(ctx, "weavego:latest")
	if err != nil || len(ours) != 1 {
		t.Fatalf("weavego networks: %+v, %v", ours, err)
	}
	n := ours[0]
	want := Network{ID: "n1", Name: "net1", Driver: "weavego:latest", IPAMDriver: "weavego:latest", Internal: true,
		Subnet: netip.MustParsePrefix("10.32.0.0/24"), Gateway: netip.MustParseAddr("10.32.0.1"),
		IPRange: netip.MustParsePrefix("10.32.0.128/25")}
	if n.ID != want.ID || n.Name != want.Name || n.Driver != want.Driver || n.IPAMDriver != want.IPAMDriver ||
		n.Internal != want.Internal || n.Subnet != want.Subnet || n.Gateway != want.Gateway || n.IPRange != want.IPRange ||
		n.Options["vni"] != "100" {
		t.Errorf("network %+v, want %+v", n, want)
	}
	if a := n.Containers["c1"]; a.Name != "web" || a.IP != netip.MustParseAddr("10.32.0.2") {
		t.Errorf("attachment %+v", a)
	}
	if byName, err := c.Network(ctx, "net1"); err != nil || byName.ID != "n1" {
		t.Errorf("Network(net1) = %+v, %v", byName, err)
	}
	if _, err := c.Network(ctx, "gone"); err == nil || !strings.Contains(err.Error(), "inspect network gone") {
		t.Errorf("missing network: %v", err)
	}
}

func TestCreateAndRemoveNetwork(t *testing.T) {
	e, c := newEngine(t)
	ctx := context.Background()
	id, err := c.CreateNetwork(ctx, Network{Name: "net2", Driver: "weavego:latest", IPAMDriver: "weavego:latest",
		Subnet: netip.MustParsePrefix("10.33.0.0/24"), Options: map[string]string{"vni": "7"}})
	if err != nil || id != "n2" {
		t.Fatalf("create: %q, %v", id, err)
	}
	e.mu.Lock()
	body := e.created[0]
	e.mu.Unlock()
	cfg := body["IPAM"].(map[string]any)["Config"].([]any)[0].(map[string]any)
	if body["Name"] != "net2" || body["Driver"] != "weavego:latest" || cfg["Subnet"] != "10.33.0.0/24" ||
		cfg["Gateway"] != nil || body["Options"].(map[string]any)["vni"] != "7" {
		t.Errorf("create request %v", body)
	}
	if err := c.RemoveNetwork(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveNetwork(ctx, "gone"); err == nil || !strings.Contains(err.Error(), "remove network gone") {
		t.Errorf("removing a missing network: %v", err)
	}
}

func TestContainerPluginAndEvents(t *testing.T) {
	_, c := newEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ctr, err := c.Container(ctx, "c1")
	if err != nil || ctr.Name != "web" || !ctr.Running || ctr.Networks["n1"].Aliases[0] != "www" ||
		ctr.Networks["n1"].IP != netip.MustParseAddr("10.32.0.2") {
		t.Errorf("container %+v, %v", ctr, err)
	}
	if name, err := c.PluginName(ctx, "weavego.sock"); err != nil || name != "weavego:latest" {
		t.Errorf("plugin name %q, %v", name, err)
	}
	if _, err := c.PluginName(ctx, "none.sock"); err == nil {
		t.Error("found a plugin for a socket none serves")
	}
	msgs, _ := c.Events(ctx)
	select {
	case m := <-msgs:
		if m.Type != "network" || m.Action != "create" || m.Actor.ID != "n2" {
			t.Errorf("event %+v", m)
		}
	case <-ctx.Done():
		t.Fatal("no event")
	}
}

// TestConcurrentFirstRequests starts the event stream and other requests at once on a fresh client, as the
// reconcile loops do at start; with -race (make unit) it fails if the version negotiation races with them.
func TestConcurrentFirstRequests(t *testing.T) {
	_, c := newEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	wg.Add(3)
	go func() {
		defer wg.Done()
		msgs, stream := c.Events(ctx)
		select {
		case <-msgs:
		case err := <-stream:
			errs <- err
		case <-ctx.Done():
			errs <- ctx.Err()
		}
	}()
	go func() {
		defer wg.Done()
		_, err := c.PluginName(ctx, "weavego.sock")
		errs <- err
	}()
	go func() {
		defer wg.Done()
		_, err := c.Networks(ctx)
		errs <- err
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// TestCreateIPv6OnlyNetwork: a network without an IPv4 subnet is created
// with EnableIPv4 false and its IPv6 pool alone; an engine older than
// Docker 28 is not asked, and the error says why.
func TestCreateIPv6OnlyNetwork(t *testing.T) {
	n := Network{Name: "net6", Driver: "weavego:latest", IPAMDriver: "weavego:latest",
		Subnet6: netip.MustParsePrefix("fd00:6::/64"), Gateway6: netip.MustParseAddr("fd00:6::1")}
	e, c := newEngineAt(t, "1.52")
	if _, err := c.CreateNetwork(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	body := e.created[0]
	e.mu.Unlock()
	cfgs := body["IPAM"].(map[string]any)["Config"].([]any)
	if body["EnableIPv4"] != false || body["EnableIPv6"] != true || len(cfgs) != 1 ||
		cfgs[0].(map[string]any)["Subnet"] != "fd00:6::/64" {
		t.Errorf("create request %v", body)
	}
	old, c := newEngineAt(t, "1.41")
	if _, err := c.CreateNetwork(context.Background(), n); !errors.Is(err, ErrNoIPv6Only) ||
		!strings.Contains(err.Error(), "upgrade Docker to 28 or later") {
		t.Errorf("on API 1.41: %v, want ErrNoIPv6Only", err)
	}
	if len(old.created) != 0 {
		t.Errorf("an engine without --ipv4=false was asked: %v", old.created)
	}
}
