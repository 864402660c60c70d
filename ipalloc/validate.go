package ipalloc

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/weavego/weavego/internal/netrules"
	"github.com/weavego/weavego/internal/record"
	"github.com/weavego/weavego/mesh"
)

// Bounds on the allocator's records from other hosts.
const (
	maxNonce     = 64
	maxUsedAddrs = 1 << 16
	maxTakers    = 4096
)

// Validators returns the checks of the allocator's kinds, for
// mesh.Config.Validators: mesh admits a record of these kinds from another
// host only if its check returns nil. A tombstone's key is checked too.
func Validators() map[string]func(mesh.Entry) error {
	return map[string]func(mesh.Entry) error{
		KindHost:    validateHost,
		KindPool:    validatePool,
		KindAck:     pairValidator(checkAck),
		KindBlock:   validateBlock,
		KindWant:    pairValidator(checkWant),
		KindUsed:    pairValidator(checkUsed),
		KindRemoved: validateRemoved,
		KindLend:    validateLend,
	}
}

func validateHost(e mesh.Entry) error {
	if err := record.CheckHost("host", e.Key); err != nil {
		return err
	}
	if e.Deleted {
		return nil // RemovePeer deletes another host's entry
	}
	if e.Owner != e.Key {
		return fmt.Errorf("host %q writes the entry of host %q", e.Owner, e.Key)
	}
	h, err := record.Strict[hostInfo](e.Value)
	if err != nil {
		return err
	}
	if _, err := parsePoolPrefix("range", h.Range); err != nil {
		return err
	}
	if h.Range6 != "" {
		if r, err := parsePoolPrefix("range", h.Range6); err != nil || !r.Addr().Is6() {
			return fmt.Errorf("IPv6 range %.64q is not a masked IPv6 CIDR", h.Range6)
		}
	}
	return nil
}

func validatePool(e mesh.Entry) error {
	subnet, err := parsePoolPrefix("pool", e.Key)
	if err != nil || e.Deleted {
		return err
	}
	info, err := record.Strict[poolInfo](e.Value)
	if err != nil {
		return err
	}
	if info.Subnet != e.Key {
		return fmt.Errorf("pool %.64q is stored under %q", info.Subnet, e.Key)
	}
	rng, err := parsePoolPrefix("range", info.Range)
	if err != nil {
		return err
	}
	if rng.Bits() < subnet.Bits() || !subnet.Contains(rng.Addr()) {
		return fmt.Errorf("range %s is not inside pool %s", rng, subnet)
	}
	gw, err := netip.ParseAddr(info.Gateway)
	if err != nil || !subnet.Contains(gw) {
		return fmt.Errorf("gateway %.64q is not an address of pool %s", info.Gateway, subnet)
	}
	if info.Cluster != "" {
		if _, err := parsePoolPrefix("cluster range", info.Cluster); err != nil {
			return err
		}
	}
	return errors.Join(record.CheckHost("host", info.Seeder), checkNonce(info.Nonce))
}

// pairValidator checks a pool|host key, then the value with check.
func pairValidator(check func(subnet netip.Prefix, value []byte) error) func(mesh.Entry) error {
	return func(e mesh.Entry) error {
		pool, host := splitPair(e.Key)
		subnet, err := parsePoolPrefix("pool", pool)
		if err != nil {
			return err
		}
		if err := record.CheckHost("host", host); err != nil || e.Deleted {
			return err
		}
		return check(subnet, e.Value)
	}
}

func checkAck(_ netip.Prefix, v []byte) error {
	a, err := record.Strict[ackInfo](v)
	if err != nil {
		return err
	}
	return errors.Join(record.CheckHost("host", a.Seeder), checkNonce(a.Nonce))
}

func checkWant(subnet netip.Prefix, v []byte) error {
	w, err := record.Strict[wantInfo](v)
	if err != nil {
		return err
	}
	if w.Block < -1 || w.Block >= poolBlocks(subnet) {
		return fmt.Errorf("want for block %d of pool %s, which has %d blocks", w.Block, subnet, poolBlocks(subnet))
	}
	if w.IP != "" {
		if ip, err := netip.ParseAddr(w.IP); err != nil || !subnet.Contains(ip) {
			return fmt.Errorf("wanted address %.64q is not in pool %s", w.IP, subnet)
		}
	}
	return errors.Join(checkNonce(w.Nonce), checkNonce(w.Req))
}

func checkUsed(subnet netip.Prefix, v []byte) error {
	u, err := record.Strict[usedInfo](v)
	if err != nil {
		return err
	}
	if len(u.Addrs) > maxUsedAddrs || u.Held < 0 || u.Held > poolBlocks(subnet) {
		return fmt.Errorf("usage of pool %s lists %d addresses and %d blocks", subnet, len(u.Addrs), u.Held)
	}
	if n := newSpace(subnet, subnet).size; u.Free > n {
		return fmt.Errorf("usage of pool %s claims %d free addresses of at most %d", subnet, u.Free, n)
	}
	for _, s := range u.Addrs {
		if ip, err := netip.ParseAddr(s); err != nil || !subnet.Contains(ip) {
			return fmt.Errorf("used address %.64q is not in pool %s", s, subnet)
		}
	}
	return checkNonce(u.Nonce)
}

func validateBlock(e mesh.Entry) error {
	parts, ok := record.Split(record.SepPrefix, e.Key, 3)
	if !ok {
		return errors.New("key is not pool|nonce|block")
	}
	subnet, err := parsePoolPrefix("pool", parts[0])
	if err != nil {
		return err
	}
	if err := checkNonce(parts[1]); err != nil {
		return err
	}
	b, err := strconv.Atoi(parts[2])
	if err != nil || strconv.Itoa(b) != parts[2] || b < 0 || b >= poolBlocks(subnet) {
		return fmt.Errorf("block %.16q is not a block of pool %s (0 to %d)", parts[2], subnet, poolBlocks(subnet)-1)
	}
	if e.Deleted {
		return nil
	}
	info, err := record.Strict[blockInfo](e.Value)
	if err != nil {
		return err
	}
	return record.CheckHost("host", info.Holder)
}

func validateRemoved(e mesh.Entry) error {
	if err := record.CheckHost("host", e.Key); err != nil || e.Deleted {
		return err
	}
	r, err := record.Strict[removedInfo](e.Value)
	if err != nil {
		return err
	}
	if len(r.Takers) > maxTakers {
		return fmt.Errorf("removal names %d takers", len(r.Takers))
	}
	errs := []error{record.CheckHost("host", r.By)}
	for pool, h := range r.Takers {
		_, err := parsePoolPrefix("pool", pool)
		errs = append(errs, err, record.CheckHost("host", h))
	}
	return errors.Join(errs...)
}

func validateLend(e mesh.Entry) error {
	pool, addr := splitPair(e.Key)
	subnet, err := parsePoolPrefix("pool", pool)
	if err != nil {
		return err
	}
	if ip, err := netip.ParseAddr(addr); err != nil || !subnet.Contains(ip) {
		return fmt.Errorf("lent address %.64q is not in pool %s", addr, subnet)
	}
	if e.Deleted {
		return nil
	}
	l, err := record.Strict[lendInfo](e.Value)
	if err != nil {
		return err
	}
	return errors.Join(checkNonce(l.Nonce), record.CheckHost("host", l.To))
}

// parsePoolPrefix parses a pool's subnet or range as the allocator writes
// it: a masked prefix in canonical form. An IPv4 one must obey the rules
// of every weavego network, and so must an IPv6 one; the cluster ranges may
// be of any size.
func parsePoolPrefix(what, s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil || p.Masked() != p || p.String() != s || p.Addr().Is4In6() {
		return netip.Prefix{}, fmt.Errorf("%s %.64q is not a masked CIDR", what, s)
	}
	if what != "cluster range" && what != "range" {
		if p.Addr().Is4() {
			return p, netrules.CheckSubnet(p)
		}
		return p, netrules.CheckSubnet6(p)
	}
	if p.Addr().Is6() && p.Addr().BitLen()-p.Bits() < 2 {
		return netip.Prefix{}, fmt.Errorf("%s %s is too small", what, p)
	}
	return p, nil
}

// poolBlocks is an upper bound of the number of blocks of any pool of
// subnet: the blocks of its largest possible range, the subnet itself.
func poolBlocks(subnet netip.Prefix) int { return newSpace(subnet, subnet).blocks() }

func checkNonce(s string) error {
	if s == "" || len(s) > maxNonce || strings.ContainsAny(s, "|\x00") {
		return fmt.Errorf("nonce %.64q is empty, too long or contains '|'", s)
	}
	return nil
}
