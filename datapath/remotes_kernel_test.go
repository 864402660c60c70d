package datapath

import (
	"net"
	"net/netip"
	"sort"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// kernelRemoteState dumps the VXLAN device's own FDB entries and permanent
// neighbour entries as sorted "mac>ip" strings.
func kernelRemoteState(t *testing.T, tn *testNS, index int) (fdb, neigh []string) {
	t.Helper()
	fdbs, err := tn.h.NeighList(index, unix.AF_BRIDGE)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range fdbs {
		if isOurFDB(n, index) {
			if n.State != netlink.NUD_PERMANENT {
				t.Errorf("FDB entry %s>%s not permanent (state %#x)", n.HardwareAddr, n.IP, n.State)
			}
			fdb = append(fdb, n.HardwareAddr.String()+">"+n.IP.String())
		}
	}
	neighs, err := tn.h.NeighList(index, unix.AF_INET)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range neighs {
		if n.LinkIndex == index && n.State == netlink.NUD_PERMANENT {
			neigh = append(neigh, n.HardwareAddr.String()+">"+n.IP.String())
		}
	}
	sort.Strings(fdb)
	sort.Strings(neigh)
	return fdb, neigh
}

func assertRemoteState(t *testing.T, tn *testNS, index int, remotes []Remote, flood []netip.Addr) {
	t.Helper()
	var wantFDB, wantNeigh []string
	for _, r := range remotes {
		wantFDB = append(wantFDB, r.MAC.String()+">"+r.VTEP.String())
		if r.IP.IsValid() {
			wantNeigh = append(wantNeigh, r.MAC.String()+">"+r.IP.String())
		}
	}
	for _, v := range flood {
		wantFDB = append(wantFDB, "00:00:00:00:00:00>"+v.String())
	}
	sort.Strings(wantFDB)
	sort.Strings(wantNeigh)
	fdb, neigh := kernelRemoteState(t, tn, index)
	if !equalStrings(fdb, wantFDB) {
		t.Errorf("FDB = %v, want %v", fdb, wantFDB)
	}
	if !equalStrings(neigh, wantNeigh) {
		t.Errorf("neighbours = %v, want %v", neigh, wantNeigh)
	}
}

func TestSetRemotes(t *testing.T) {
	tn := newTestNS(t)
	tn.addUnderlay(t, 1500, "192.0.2.10/24")
	n := testNetwork("rem", 9, "192.0.2.10")
	if _, err := tn.m.EnsureNetwork(n); err != nil {
		t.Fatal(err)
	}
	tn = tn.net(t, n.ID) // the devices are in the network's namespace
	vx := tn.link(t, VXLANName(n.ID))
	br := tn.link(t, BridgeName(n.ID))
	// Entries of other devices that SetRemotes must leave alone.
	foreignNeigh := neighEntry(br.Attrs().Index, net.ParseIP("10.20.0.200"), mustMAC("02:ff:00:00:00:01"))
	if err := tn.h.NeighSet(foreignNeigh); err != nil {
		t.Fatal(err)
	}
	foreignFDB := &netlink.Neigh{LinkIndex: vx.Attrs().Index, Family: unix.AF_BRIDGE, Flags: netlink.NTF_MASTER,
		State: netlink.NUD_PERMANENT, HardwareAddr: mustMAC("02:ff:00:00:00:02")}
	if err := tn.h.NeighAppend(foreignFDB); err != nil {
		t.Fatal(err)
	}

	vtepA, vtepB, vtepC := netip.MustParseAddr("192.0.2.21"), netip.MustParseAddr("192.0.2.22"), netip.MustParseAddr("192.0.2.23")
	r1 := Remote{IP: netip.MustParseAddr("10.20.0.11"), MAC: mustMAC("02:00:0a:14:00:0b"), VTEP: vtepA}
	r2 := Remote{IP: netip.MustParseAddr("10.20.0.12"), MAC: mustMAC("02:00:0a:14:00:0c"), VTEP: vtepB}
	r2moved := Remote{IP: r2.IP, MAC: r2.MAC, VTEP: vtepC}
	r3 := Remote{IP: netip.MustParseAddr("10.20.0.13"), MAC: mustMAC("02:00:0a:14:00:0d"), VTEP: vtepC}
	steps := []struct {
		name    string
		remotes []Remote
		flood   []netip.Addr
	}{
		{"first set", []Remote{r1, r2}, []netip.Addr{vtepA, vtepB}},
		{"same again", []Remote{r1, r2}, []netip.Addr{vtepA, vtepB}},
		{"move, add, drop", []Remote{r2moved, r3}, []netip.Addr{vtepB, vtepC}},
		{"empty", nil, nil},
		{"refill", []Remote{r1}, []netip.Addr{vtepA}},
	}
	for _, s := range steps {
		if err := tn.m.SetRemotes(n.ID, s.remotes, s.flood); err != nil {
			t.Fatalf("%s: SetRemotes: %v", s.name, err)
		}
		assertRemoteState(t, tn, vx.Attrs().Index, s.remotes, s.flood)
		if t.Failed() {
			t.Fatalf("step %q failed", s.name)
		}
	}
	// Foreign entries survived (bridge entries dump with the master's index
	// and without NTF_SELF).
	neighs, _ := tn.h.NeighList(br.Attrs().Index, unix.AF_INET)
	if len(neighs) != 1 || !neighs[0].IP.Equal(foreignNeigh.IP) {
		t.Errorf("bridge neighbours = %v, want the foreign entry", neighs)
	}
	fdbs, _ := tn.h.NeighList(vx.Attrs().Index, unix.AF_BRIDGE)
	found := false
	for _, f := range fdbs {
		found = found || (f.MasterIndex == br.Attrs().Index && f.HardwareAddr.String() == foreignFDB.HardwareAddr.String())
	}
	if !found {
		t.Errorf("bridge FDB entry %s on the VXLAN port was removed", foreignFDB.HardwareAddr)
	}
}

func TestSetRemotesNoVXLAN(t *testing.T) {
	tn := newTestNS(t)
	n := testNetwork("single", 0, "")
	if _, err := tn.m.EnsureNetwork(n); err != nil {
		t.Fatal(err)
	}
	if err := tn.m.SetRemotes(n.ID, nil, nil); err != nil {
		t.Errorf("empty SetRemotes on single-host network: %v", err)
	}
	// A remote without VTEP is dropped (and logged), leaving an empty set.
	if err := tn.m.SetRemotes(n.ID, []Remote{{MAC: mustMAC("02:00:00:00:00:01")}}, nil); err != nil {
		t.Errorf("SetRemotes with only an unusable remote: %v", err)
	}
}
