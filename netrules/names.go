package netrules

import (
	"fmt"
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
		return fmt.Errorf("VNI %d is outside 1..%d: %w", v, MaxVNI, ErrRefused)
	}
	return nil
}

// ParseMAC parses a container's MAC address and requires a 6-byte unicast
// address other than all zeros.
func ParseMAC(s string) (net.HardwareAddr, error) {
	mac, err := net.ParseMAC(s)
	if err != nil || len(mac) != 6 {
		return nil, fmt.Errorf("MAC %q is not a 6-byte Ethernet address: %w", s, ErrRefused)
	}
	if mac[0]&1 != 0 {
		return nil, fmt.Errorf("MAC %s is a multicast address: a container needs a unicast MAC: %w", mac, ErrRefused)
	}
	if string(mac) == "\x00\x00\x00\x00\x00\x00" {
		return nil, fmt.Errorf("MAC %s is all zeros: %w", mac, ErrRefused)
	}
	return mac, nil
}

// CheckDNSName reports whether name is a DNS name of bounded shape: at most
// MaxDNSName bytes of dot-separated labels, each 1..MaxDNSLabel of
// [A-Za-z0-9_-]. A trailing dot is not allowed.
func CheckDNSName(name string) error {
	if name == "" || len(name) > MaxDNSName {
		return fmt.Errorf("name %.64q is empty or longer than %d bytes: %w", name, MaxDNSName, ErrRefused)
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > MaxDNSLabel || !labelChars(label) {
			return fmt.Errorf("name %.64q has label %.64q that is not 1 to %d letters, digits, '-' or '_': %w",
				name, label, MaxDNSLabel, ErrRefused)
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
		return fmt.Errorf("network name %.64q is empty or longer than %d bytes: %w", s, MaxNetworkName, ErrRefused)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '.' && c != '-') {
			return fmt.Errorf("network name %.64q is not a Docker network name: %w", s, ErrRefused)
		}
	}
	return nil
}
