package main

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/docker/go-plugins-helpers/ipam"
	"github.com/docker/go-plugins-helpers/network"
)

// teardownLog records the teardown calls replay makes.
type teardownLog struct{ calls []string }

func (l *teardownLog) Leave(r *network.LeaveRequest) error {
	l.calls = append(l.calls, "leave "+r.EndpointID)
	return nil
}
func (l *teardownLog) DeleteEndpoint(r *network.DeleteEndpointRequest) error {
	l.calls = append(l.calls, "delete endpoint "+r.EndpointID)
	return nil
}
func (l *teardownLog) DeleteNetwork(r *network.DeleteNetworkRequest) error {
	l.calls = append(l.calls, "delete network "+r.NetworkID)
	return errors.New("weavego has no network") // gone already: logged, the rest still applied
}
func (l *teardownLog) RevokeExternalConnectivity(r *network.RevokeExternalConnectivityRequest) error {
	l.calls = append(l.calls, "revoke "+r.EndpointID)
	return nil
}
func (l *teardownLog) ReleaseAddress(r *ipam.ReleaseAddressRequest) error {
	l.calls = append(l.calls, "release "+r.Address)
	return nil
}
func (l *teardownLog) ReleasePool(r *ipam.ReleasePoolRequest) error {
	l.calls = append(l.calls, "release pool "+r.PoolID)
	return nil
}

// The teardown requests a refusing plugin let pass are applied, in
// Docker's order, at the next real start, and then forgotten.
func TestPendingTeardownReplayed(t *testing.T) {
	s := newPendingStore(t.TempDir())
	for _, r := range []struct {
		method string
		req    any
	}{
		{"NetworkDriver.Leave", &network.LeaveRequest{NetworkID: "n1", EndpointID: "e1"}},
		{"NetworkDriver.DeleteEndpoint", &network.DeleteEndpointRequest{NetworkID: "n1", EndpointID: "e1"}},
		{"IpamDriver.ReleaseAddress", &ipam.ReleaseAddressRequest{PoolID: "p1", Address: "10.32.0.2"}},
		{"NetworkDriver.DeleteNetwork", &network.DeleteNetworkRequest{NetworkID: "n1"}},
		{"IpamDriver.ReleasePool", &ipam.ReleasePoolRequest{PoolID: "p1"}},
	} {
		if err := s.add(r.method, r.req); err != nil {
			t.Fatal(err)
		}
	}
	f, _ := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND, 0)
	_, _ = f.WriteString("not json\n")
	f.Close()
	if fi, err := os.Stat(s.path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v %v; want mode 0600", s.path, fi, err)
	}
	l := &teardownLog{}
	var log bytes.Buffer
	s.replay(l, l, logTo(&log))
	want := []string{"leave e1", "delete endpoint e1", "release 10.32.0.2", "delete network n1", "release pool p1"}
	if !slices.Equal(l.calls, want) {
		t.Errorf("replayed %v; want %v", l.calls, want)
	}
	if _, err := os.Stat(s.path); !os.IsNotExist(err) {
		t.Errorf("the applied requests are still recorded: %v", err)
	}
	l.calls = nil
	s.replay(l, l, logTo(&log))
	if len(l.calls) != 0 {
		t.Errorf("a second start replayed %v again", l.calls)
	}
}
