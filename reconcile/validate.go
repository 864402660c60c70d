package reconcile

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/weavego/weavego/driver"
	"github.com/weavego/weavego/internal/netrules"
	"github.com/weavego/weavego/internal/record"
	"github.com/weavego/weavego/mesh"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// Bounds on the records of other hosts, beyond those of package netrules.
const (
	maxNames      = 32   // names of one container on one network
	maxOptions    = 32   // driver options of a network
	maxOptionText = 1024 // bytes of one option key or value
	maxIDBytes    = 128  // a Docker endpoint or container ID
	minMTU        = 68
	maxMTU        = 65535
)

// Validators returns the checks of the kinds the agent keeps, for
// mesh.Config.Validators: mesh admits a record of these kinds from another
// host only if its check returns nil. Checks that need the membership (a
// VTEP must be its writer's address) are made where the records are used.
func Validators() map[string]func(mesh.Entry) error {
	return map[string]func(mesh.Entry) error{
		KindNetwork:    validateNetwork,
		KindEncNetwork: validateEncNetwork,
		KindEndpoint:   validateEndpoint,
		KindHostNet:    validateHostNet,
		KindName:       validateName,
	}
}

func validateNetwork(e mesh.Entry) error {
	if err := netrules.CheckNetworkName(e.Key); err != nil {
		return err
	}
	if e.Deleted {
		return nil
	}
	def, err := record.Strict[NetDef](e.Value)
	if err != nil {
		return err
	}
	return checkNetDef(e.Key, def)
}

// validateEncNetwork is validateNetwork for a definition that must be
// encrypted: a plain network under KindEncNetwork would be hidden from
// hosts of releases that build plain networks perfectly well.
func validateEncNetwork(e mesh.Entry) error {
	if err := validateNetwork(e); err != nil || e.Deleted {
		return err
	}
	def, err := record.Strict[NetDef](e.Value)
	if err == nil && !driver.Encrypted(def.Options) {
		err = fmt.Errorf("network %q is stored as encrypted but its options do not ask for encryption", e.Key)
	}
	return err
}

// checkNetDef applies the network rules to a definition stored under name.
func checkNetDef(name string, def NetDef) error {
	if def.Name != name {
		return fmt.Errorf("network %q is stored under the name %q", def.Name, name)
	}
	if err := checkNetDef4(def); err != nil {
		return err
	}
	if err := checkNetDef6(def); err != nil {
		return err
	}
	if err := netrules.CheckVNI(def.VNI); err != nil {
		return err
	}
	if def.MTU != 0 && (def.MTU < minMTU || def.MTU > maxMTU) {
		return fmt.Errorf("MTU %d is outside %d..%d", def.MTU, minMTU, maxMTU)
	}
	if len(def.Options) > maxOptions {
		return fmt.Errorf("%d options, more than %d", len(def.Options), maxOptions)
	}
	for k, v := range def.Options {
		if k == "" || len(k) > maxOptionText || len(v) > maxOptionText {
			return fmt.Errorf("option %.64q is empty or too long", k)
		}
	}
	return record.CheckHost("origin", def.Origin)
}

// checkNetDef4 applies the IPv4 network rules to a definition's IPv4 pool,
// which only an IPv6-only network (with an IPv6 subnet) goes without.
func checkNetDef4(def NetDef) error {
	if !def.Subnet.IsValid() && def.Subnet6.IsValid() && !def.Gateway.IsValid() && !def.IPRange.IsValid() {
		return nil
	}
	if err := netrules.CheckSubnet(def.Subnet); err != nil {
		return err
	}
	if def.Gateway.IsValid() {
		if err := netrules.CheckGateway(def.Subnet, def.Gateway); err != nil {
			return err
		}
	}
	if def.IPRange.IsValid() {
		return netrules.CheckRange(def.Subnet, def.IPRange)
	}
	return nil
}

func validateEndpoint(e mesh.Entry) error {
	if err := checkID("endpoint ID", e.Key); err != nil {
		return err
	}
	if e.Deleted {
		return nil
	}
	rec, err := record.Strict[EndpointRec](e.Value)
	if err != nil {
		return err
	}
	return checkEndpoint(rec)
}

func checkEndpoint(rec EndpointRec) error {
	if err := netrules.CheckVNI(rec.VNI); err != nil {
		return err
	}
	if err := checkAddrs(rec.IP, rec.IP6); err != nil {
		return err
	}
	if _, err := netrules.ParseMAC(rec.MAC); err != nil {
		return err
	}
	return checkVTEP(rec.VTEP)
}

func validateHostNet(e mesh.Entry) error {
	parts, ok := record.Split(record.SepPlain, e.Key, 2)
	if !ok {
		return errors.New("key is not <vni>/<host>")
	}
	vni, host := parts[0], parts[1]
	v, err := parseVNI32(vni)
	if err != nil {
		return err
	}
	if err := record.CheckHost("host", host); err != nil {
		return err
	}
	if host != e.Owner {
		return fmt.Errorf("host %q announces a network for host %q", e.Owner, host)
	}
	if e.Deleted {
		return nil
	}
	rec, err := record.Strict[HostNetRec](e.Value)
	if err != nil {
		return err
	}
	if rec.VNI != v {
		return fmt.Errorf("VNI %d in a record keyed by VNI %d", rec.VNI, v)
	}
	if err := checkWireGuard(rec.WGKey, rec.WGPort); err != nil {
		return err
	}
	if err := checkDirectMAC(rec.DirectMAC); err != nil {
		return err
	}
	return checkVTEP(rec.VTEP)
}

// checkDirectMAC requires, where a direct MAC is given, a 6-byte unicast
// MAC that is not all zero.
func checkDirectMAC(s string) error {
	if s == "" {
		return nil
	}
	mac, err := net.ParseMAC(s)
	if err != nil || len(mac) != 6 || mac[0]&1 != 0 || bytes.Equal(mac, make(net.HardwareAddr, 6)) {
		return fmt.Errorf("direct MAC %.32q is not a 6-byte unicast MAC", s)
	}
	return nil
}

// checkWireGuard requires, where a key is given, a WireGuard public key
// (base64 of 32 bytes, not all zero) and a UDP port in 1..65535; with no
// key, no port.
func checkWireGuard(key string, port int) error {
	if key == "" {
		if port != 0 {
			return fmt.Errorf("WireGuard port %d without a key", port)
		}
		return nil
	}
	k, err := wgtypes.ParseKey(key)
	if err != nil || k == (wgtypes.Key{}) {
		return fmt.Errorf("WireGuard key %.64q is not a public key (base64 of 32 bytes)", key)
	}
	if port < 1 || port > 65535 {
		return fmt.Errorf("WireGuard port %d is outside 1..65535", port)
	}
	return nil
}

func validateName(e mesh.Entry) error {
	parts, ok := record.Split(record.SepPlain, e.Key, 2)
	if !ok {
		return errors.New("key is not <container>/<vni>")
	}
	cid, vni := parts[0], parts[1]
	if err := checkID("container ID", cid); err != nil {
		return err
	}
	v, err := parseVNI32(vni)
	if err != nil {
		return err
	}
	if e.Deleted {
		return nil
	}
	rec, err := record.Strict[NameRec](e.Value)
	if err != nil {
		return err
	}
	if rec.VNI != v {
		return fmt.Errorf("VNI %d in a record keyed by VNI %d", rec.VNI, v)
	}
	return checkNameRec(rec)
}

func checkNameRec(rec NameRec) error {
	if len(rec.Names) == 0 || len(rec.Names) > maxNames {
		return fmt.Errorf("%d names, want 1 to %d", len(rec.Names), maxNames)
	}
	for _, n := range rec.Names {
		if err := netrules.CheckDNSName(n); err != nil {
			return err
		}
	}
	if err := checkAddrs(rec.IP, rec.IP6); err != nil {
		return err
	}
	return netrules.CheckNetworkName(rec.Network)
}

// checkNetDef6 applies the IPv6 network rules to the optional IPv6 pool
// of a definition.
func checkNetDef6(def NetDef) error {
	if !def.Subnet6.IsValid() {
		if def.Gateway6.IsValid() || def.IPRange6.IsValid() {
			return errors.New("IPv6 gateway or ip-range without an IPv6 subnet")
		}
		return nil
	}
	if err := netrules.CheckSubnet6(def.Subnet6); err != nil {
		return err
	}
	if def.Gateway6.IsValid() {
		if err := netrules.CheckGateway6(def.Subnet6, def.Gateway6); err != nil {
			return err
		}
	}
	if def.IPRange6.IsValid() {
		return netrules.CheckRange6(def.Subnet6, def.IPRange6)
	}
	return nil
}

// checkAddrs checks a container's addresses: a unicast IPv4 one, and a
// unicast IPv6 one if any; on an IPv6-only network the IPv6 one alone.
func checkAddrs(ip, ip6 netip.Addr) error {
	if ip.IsValid() || !ip6.IsValid() {
		if err := netrules.CheckUnicast(ip); err != nil {
			return err
		}
	}
	if ip6.IsValid() {
		return netrules.CheckUnicast6(ip6)
	}
	return nil
}

// checkVTEP requires a unicast underlay address (IPv4 or IPv6).
func checkVTEP(a netip.Addr) error {
	if a.Is4() || a.Is4In6() {
		return netrules.CheckUnicast(a)
	}
	if !a.IsValid() || a.IsUnspecified() || a.IsLoopback() || a.IsMulticast() || a.IsLinkLocalUnicast() {
		return fmt.Errorf("VTEP %s is not a unicast underlay address", a)
	}
	return nil
}

func parseVNI32(s string) (uint32, error) {
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil || strconv.FormatUint(v, 10) != s {
		return 0, fmt.Errorf("VNI %.16q is not a decimal number", s)
	}
	return uint32(v), netrules.CheckVNI(uint32(v))
}

// checkID bounds a Docker ID: 1 to maxIDBytes letters, digits, '_', '.' or '-'.
func checkID(what, s string) error {
	if s == "" || len(s) > maxIDBytes || strings.Trim(s, idChars) != "" {
		return fmt.Errorf("%s %.64q is not a Docker ID", what, s)
	}
	return nil
}

const idChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"
