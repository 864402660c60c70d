package datapath

import "strings"

// Name prefixes of the links this package owns. Nothing else is touched.
const (
	// BridgePrefix starts the name of every weavego bridge; the firewall
	// matches on it.
	BridgePrefix = "wgb-"
	// VXLANPrefix starts the name of every weavego VXLAN device.
	VXLANPrefix = "wgx-"
	// HostVethPrefix starts the name of the host end of an endpoint's veth.
	HostVethPrefix = "wgv-"
	// ContVethPrefix starts the name of the container end of an endpoint's veth.
	ContVethPrefix = "wgc-"
)

// maxIDChars is how much of an ID fits after a 4-character prefix in IFNAMSIZ-1.
const maxIDChars = 11

func shortID(id string) string {
	if len(id) > maxIDChars {
		return id[:maxIDChars]
	}
	return id
}

// BridgeName is the name of the bridge of the network with Docker ID id.
func BridgeName(id string) string { return BridgePrefix + shortID(id) }

// VXLANName is the name of the VXLAN device of the network with Docker ID id.
func VXLANName(id string) string { return VXLANPrefix + shortID(id) }

// VethNames are the names of the host and container ends of the veth pair of
// the endpoint with Docker ID id.
func VethNames(id string) (hostIf, containerIf string) {
	return HostVethPrefix + shortID(id), ContVethPrefix + shortID(id)
}

// networkIDFromBridge recovers a network ID from a bridge's name and alias:
// the alias holds the full ID when this package created the bridge.
func networkIDFromBridge(name, alias string) string {
	if alias != "" && BridgeName(alias) == name {
		return alias
	}
	return strings.TrimPrefix(name, BridgePrefix)
}
