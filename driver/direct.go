package driver

import (
	"fmt"
	"strconv"
)

// OptDirect: `-o direct` (or `-o direct=true`) makes a network whose IPv4
// unicast between containers on hosts of one underlay segment crosses it
// without VXLAN (datapath's direct path); `-o direct=false` makes a plain
// one where DIRECT_DEFAULT is set.
const OptDirect = "direct"

// Direct tells whether options opts ask for a direct network: `-o direct`
// with no value or a true one, and not encrypted (direct would be in
// clear; CreateNetwork refuses both, and a network that has both anyway is
// built encrypted). A value that is not a boolean counts as not direct:
// VXLAN always works.
func Direct(opts map[string]string) bool {
	return optTrue(opts, OptDirect) && !Encrypted(opts)
}

// optTrue tells whether -o name was given with no value or a true one.
func optTrue(opts map[string]string, name string) bool {
	v, ok := opts[name]
	if !ok {
		return false
	}
	b, err := strconv.ParseBool(v)
	return v == "" || (err == nil && b)
}

// checkBoolOption refuses a value of -o name that is neither empty nor a
// boolean.
func checkBoolOption(opts map[string]string, name string) error {
	v, ok := opts[name]
	if !ok || v == "" {
		return nil
	}
	if _, err := strconv.ParseBool(v); err != nil {
		return fmt.Errorf("option %s=%q is not true or false: use -o %s or -o %s=false", name, v, name, name)
	}
	return nil
}

// applyDirect decides whether new network n is direct: by its option,
// else, for a network created on this host that is not encrypted (not a
// replica, which follows its cluster definition), by Config.DirectDefault,
// which it then records as the option. It refuses -o direct with -o
// encrypted. mu is held.
func (d *Driver) applyDirect(n *Network) error {
	if _, asked := n.Options[OptDirect]; !asked && d.cfg.DirectDefault && n.Options[OptReplica] == "" && !Encrypted(n.Options) {
		n.Options[OptDirect] = "true"
	}
	if optTrue(n.Options, OptDirect) && Encrypted(n.Options) && n.Options[OptReplica] == "" {
		return fmt.Errorf("a network cannot be both direct and encrypted: -o direct carries containers' traffic " +
			"between hosts in clear on the underlay; drop -o direct (or -o encrypted)")
	}
	return nil
}
