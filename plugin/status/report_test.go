package status

import (
	"testing"

	"github.com/weavego/weavego/plugin/keyring"
)

func TestSentences(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{Security{Mode: keyring.ModeKey, Keys: 2, GossipAddr: "10.0.0.1:6783"}.Sentence(),
			"cluster key: key, 2 installed; gossip on 10.0.0.1:6783"},
		{Security{Mode: keyring.ModeKey, Keys: 1, Rollout: "accept"}.Sentence(),
			"cluster key: key, 1 installed, KEY_ROLLOUT=accept (plain gossip still accepted)"},
		{Security{Mode: keyring.ModeOpen, GossipAddr: "10.0.0.1:6783"}.Sentence(),
			"cluster is OPEN (INSECURE_OPEN=true): anyone who can reach 10.0.0.1:6783 can join and write state"},
		{Security{StreamsRefused: 3, DatagramsDropped: 4, Replays: 5}.RefusedSentence(),
			"gossip refused before the key: 3 streams, 4 datagrams of non-members; old records ignored (replays): 5"},
		{Firewall{FromContainer: 1, VXLANNonMember: 2}.Sentence(),
			"firewall dropped: 1 packets from containers to this host, 2 VXLAN datagrams no member sent"},
		{Firewall{Err: "no table"}.Sentence(), "firewall counters: no table"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
