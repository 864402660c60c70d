package driver

import (
	"fmt"
	"strconv"
	"strings"
)

// OptIfname is Docker's endpoint option for the name of the container's
// interface (`docker run --network name=N,driver-opt=com.docker.network.endpoint.ifname=data0`,
// Compose's interface_name), which Docker 28 and later pass in CreateEndpoint's
// options. The driver answers it in Join's InterfaceName.DstName; engines
// before 29.8 drop that field and name the interface eth<N> whatever was asked.
const OptIfname = dockerOptPrefix + "endpoint.ifname"

// OptIfacePrefix is Docker's network option for the prefix of the names of
// the network's interfaces in containers (`-o
// com.docker.network.container_iface_prefix=data`: data0, data1...), as
// Docker's bridge driver honours it: it is Join's DstPrefix.
const OptIfacePrefix = dockerOptPrefix + "container_iface_prefix"

// ifacePrefix is the DstPrefix of the interfaces of network n. A prefix
// that checkIfacePrefix refuses (in a definition another host sent: only
// docker network create here checks it) falls back to eth.
func ifacePrefix(n *Network) string {
	if p := n.Options[OptIfacePrefix]; p != "" && checkIfacePrefix(n.Options) == nil {
		return p
	}
	return containerIfPrefix
}

// checkIfacePrefix refuses a prefix that would make names the kernel refuses
// once Docker adds a number of up to two digits.
func checkIfacePrefix(opts map[string]string) error {
	p, ok := opts[OptIfacePrefix]
	if !ok || p == "" {
		return nil
	}
	if err := checkIfname(p + "10"); err != nil {
		return fmt.Errorf("interface prefix %q (-o %s) with a number after it %w; pick a prefix of 1 to %d characters "+
			"without '/', ':' or spaces", p, OptIfacePrefix, err, maxIfname-2)
	}
	return nil
}

// maxIfname is the longest interface name the kernel takes (IFNAMSIZ - 1).
const maxIfname = 15

// requestedIfname returns the interface name opts ask for ("" for none), or
// a sentence saying why the kernel would refuse it: Docker renames the
// interface only after Join, where a bad name fails with a bare netlink error.
func requestedIfname(opts map[string]any) (string, error) {
	v, ok := opts[OptIfname]
	if !ok {
		return "", nil
	}
	name, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("option %s must be a string, not %T", OptIfname, v)
	}
	if name == "" {
		return "", nil
	}
	if err := checkIfname(name); err != nil {
		return "", fmt.Errorf("interface name %q (%s) %w; pick a name of 1 to %d characters without '/', ':' or spaces",
			name, OptIfname, err, maxIfname)
	}
	return name, nil
}

// checkIfname applies the kernel's rules for interface names (dev_valid_name).
func checkIfname(name string) error {
	switch {
	case len(name) > maxIfname:
		return fmt.Errorf("is longer than %d characters", maxIfname)
	case name == "." || name == "..":
		return fmt.Errorf("is not a name the kernel accepts")
	case strings.ContainsAny(name, "/:") || strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return fmt.Errorf("holds a character the kernel refuses in interface names")
	}
	return nil
}

// OptSysctls is Docker's endpoint option for sysctls of the container's
// interface (`--driver-opt com.docker.network.endpoint.sysctls=net.ipv4.conf.IFNAME.log_martians=1`),
// which the engine applies itself, whatever the driver.
const OptSysctls = dockerOptPrefix + "endpoint.sysctls"

// engineAtLeast tells whether Docker Engine version v is major.minor or
// later. A version it cannot read counts as recent enough.
func engineAtLeast(v string, major, minor int) bool {
	maS, rest, ok := strings.Cut(v, ".")
	if !ok {
		return true
	}
	miS, _, _ := strings.Cut(rest, ".")
	ma, err1 := strconv.Atoi(maS)
	mi, err2 := strconv.Atoi(miS)
	if err1 != nil || err2 != nil {
		return true
	}
	return ma > major || (ma == major && mi >= minor)
}

// checkEngineOptions refuses, with a sentence, the endpoint options that the
// engine is known to drop: an interface name before 29.8 (engines name the
// interface after Join's DstName from 29.8 on, moby #52866; the 29.6
// development line still dropped it), interface sysctls before 26 (which
// has no such option). Nothing is refused while the version is unknown.
func (d *Driver) checkEngineOptions(opts map[string]any, ifname string) error {
	if d.cfg.EngineVersion == nil {
		return nil
	}
	v := d.cfg.EngineVersion()
	if v == "" {
		return nil
	}
	if ifname != "" && !engineAtLeast(v, 29, 8) {
		return fmt.Errorf("this Docker engine (%s) does not give a network plugin's containers the interface name asked for "+
			"(%s=%s): the interface would be eth<N> anyway; engines from 29.8 do, so upgrade Docker or leave the option out",
			v, OptIfname, ifname)
	}
	if _, ok := opts[OptSysctls]; ok && !engineAtLeast(v, 26, 0) {
		return fmt.Errorf("this Docker engine (%s) does not apply %s (newer engines do; weavego checks it on 29.8): "+
			"upgrade Docker or leave the option out", v, OptSysctls)
	}
	return nil
}
