//go:build linux

package e2e

import (
	"strings"
	"testing"
)

// unknownOptionsRefused: `docker network create -o` with an option weavego does not know (Docker's bridge
// driver's options among them), or with a value of -o encrypted that is neither true nor false, is refused with a sentence naming the option, the known ones and
// what to do; no network is left behind, and known options (-o encrypted among them) still work.
func (s *singleHost) unknownOptionsRefused(t *testing.T) {
	known := "(known: vni, com.docker.network.driver.mtu, encrypted, direct, com.docker.network.container_iface_prefix)"
	for _, tc := range []struct {
		opt, want string
	}{
		{"bogus=1", `weavego does not know the option "bogus" of docker network create ` + known + `; remove -o bogus`},
		{"com.docker.network.bridge.name=br9", `weavego does not know the option "com.docker.network.bridge.name" of ` +
			`docker network create ` + known + `; remove -o com.docker.network.bridge.name`},
		{"encrypted=maybe", `option encrypted="maybe" is not true or false: use -o encrypted or -o encrypted=false`},
		{"direct=maybe", `option direct="maybe" is not true or false: use -o direct or -o direct=false`},
	} {
		out, err := s.h.Docker(append(append([]string{"network", "create"}, netArgs...), "-o", tc.opt, "opts")...)
		if err == nil {
			s.h.MustDocker(t, "network", "rm", "opts")
			t.Fatalf("docker network create -o %s was accepted: %q", tc.opt, out)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("docker network create -o %s: %v\nwant the sentence %s", tc.opt, err, tc.want)
		}
		readable(t, err.Error())
		t.Logf("docker network create -o %s: %v", tc.opt, err)
	}
	if ls := s.h.MustDocker(t, "network", "ls", "--filter", "name=^opts$", "--format", "{{.Name}}"); ls != "" {
		t.Fatalf("a refused network is listed: %q", ls)
	}
	s.h.CreateNetwork(t, "opts", append(netArgs, "-o", "com.docker.network.driver.mtu=1400")...)
	s.h.CreateNetwork(t, "optsenc", append(netArgs, "-o", "encrypted")...)
}
