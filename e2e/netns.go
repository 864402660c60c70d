//go:build linux

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// NetworkNamespaces returns the namespaces of h's weavego networks, network ID -> pin path: the bind mounts the
// plugin makes under its propagated mount, which Docker keeps in the plugin's directory of h's data root.
func (h *Host) NetworkNamespaces() (map[string]string, error) {
	paths, err := filepath.Glob(filepath.Join(h.DataRoot, "plugins", "*", "propagated-mount", "netns", "*"))
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, p := range paths {
		var st unix.Statfs_t
		if err := unix.Statfs(p, &st); err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return nil, fmt.Errorf("%s: %w", h.Name, err)
		}
		if st.Type == unix.NSFS_MAGIC {
			out[filepath.Base(p)] = p
		}
	}
	return out, nil
}

// DevNS returns the namespace that holds weavego device dev of a network ("wgb-" or "wgx-" + the network ID[:11]):
// the network's own namespace when there is one, else h's.
func (h *Host) DevNS(dev string) string {
	if len(dev) > 4 && (strings.HasPrefix(dev, "wgb-") || strings.HasPrefix(dev, "wgx-")) {
		if nss, err := h.NetworkNamespaces(); err == nil {
			for id, p := range nss {
				if strings.HasPrefix(id, dev[4:]) {
					return p
				}
			}
		}
	}
	return h.NSPath()
}

// ExecDev runs a command in the namespace that holds device dev (see DevNS).
func (h *Host) ExecDev(dev string, args ...string) (string, error) {
	out, err := Run(2*time.Minute, append([]string{"nsenter", "--net=" + h.DevNS(dev), "--"}, args...)...)
	if err != nil {
		return out, fmt.Errorf("%s: %w", h.Name, err)
	}
	return out, nil
}

// NetworkLinks lists the links in the namespaces of h's weavego networks.
func (h *Host) NetworkLinks() ([]string, error) {
	nss, err := h.NetworkNamespaces()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range nss {
		out, err := Run(time.Minute, "nsenter", "--net="+p, "--", "ip", "-o", "link", "show")
		if err != nil {
			return nil, fmt.Errorf("%s: links in %s: %w", h.Name, p, err)
		}
		names = append(names, linkNames(out)...)
	}
	return names, nil
}
