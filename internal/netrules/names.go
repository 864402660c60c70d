package netrules

import (
	"net"
	"strings"
)

// Bounds on names and identifiers that travel between hosts.
const (
	// MaxVNI is the largest VXLAN network identifier (24 bits).
	MaxVNI = 1<<24 - 1
	// MaxDNSName is the longest DNS name, in bytes, without the final dot.
	MaxDNSName = 253
	// MaxDNSLabel is the longest DNS label.
	MaxDNSLabel = 63
	// MaxNetworkName bounds a Docker network name.
	MaxNetworkName = 128
)

// CheckVNI reports whether v is a usable VXLAN network identifier.
func CheckVNI(v uint32) error {
	if v < 1 || v > MaxVNI {
		return refuse("VNI %d is outside 1..%d", v, MaxVNI)
	}
	return nil
}

// ParseMAC parses a container's MAC address and requires a 6-byte unicast
// address other than all zeros.
func ParseMAC(s string) (net.HardwareAddr, error) {
	mac, err := net.ParseMAC(s)
	if err != nil || len(mac) != 6 {
		return nil, refuse("MAC %q is not a 6-byte Ethernet address", s)
	}
	if mac[0]&1 != 0 {
		return nil, refuse("MAC %s is a multicast address: a container needs a unicast MAC", mac)
	}
	if string(mac) == "\x00\x00\x00\x00\x00\x00" {
		return nil, refuse("MAC %s is all zeros", mac)
	}
	return mac, nil
}

// CheckDNSName reports whether name is a DNS name of bounded shape: at most
// MaxDNSName bytes of dot-separated labels, each 1..MaxDNSLabel of
// [A-Za-z0-9_-]. A trailing dot is not allowed.
func CheckDNSName(name string) error {
	if name == "" || len(name) > MaxDNSName {
		return refuse("name %.64q is empty or longer than %d bytes", name, MaxDNSName)
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > MaxDNSLabel || !labelChars(label) {
			return refuse("name %.64q has label %.64q that is not 1 to %d letters, digits, '-' or '_'",
				name, label, MaxDNSLabel)
		}
	}
	return nil
}

func labelChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
		if !ok {
			return false
		}
	}
	return true
}

// CheckNetworkName reports whether s may be a Docker network name: 1 to
// MaxNetworkName bytes, starting with a letter or digit, then letters,
// digits, '_', '.' or '-' (Docker's own rule).
func CheckNetworkName(s string) error {
	if s == "" || len(s) > MaxNetworkName {
		return refuse("network name %.64q is empty or longer than %d bytes", s, MaxNetworkName)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '.' && c != '-') {
			return refuse("network name %.64q is not a Docker network name", s)
		}
	}
	return nil
}
