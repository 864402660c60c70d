package reconcile

import (
	"net/netip"
	"strings"
	"testing"
)

func TestFamilyMismatch(t *testing.T) {
	v4, v6, mapped := netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("fd00::2"), netip.MustParseAddr("::ffff:10.0.0.3")
	for _, c := range []struct {
		addr, self netip.Addr
		mismatch   bool
	}{{v4, v4, false}, {v6, v6, false}, {mapped, v4, false}, {v4, v6, true}, {v6, mapped, true}, {netip.Addr{}, v6, false}} {
		err := FamilyMismatch("h2", c.addr, c.self)
		if (err != nil) != c.mismatch {
			t.Errorf("FamilyMismatch(%s, %s) = %v, want mismatch %v", c.addr, c.self, err, c.mismatch)
		}
		if err != nil && !strings.Contains(err.Error(), "ADVERTISE_ADDR") {
			t.Errorf("FamilyMismatch(%s, %s) = %v: names no fix", c.addr, c.self, err)
		}
	}
}
