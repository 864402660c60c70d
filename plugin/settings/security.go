package settings

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"strconv"
)

// KeySize is the length in bytes of a cluster key.
const KeySize = 32

// Key rollout stages (KEY_ROLLOUT), moving an open cluster to a key.
const (
	RolloutAccept = "accept" // has the key, sends plain gossip, accepts both
	RolloutSend   = "send"   // sends encrypted gossip, accepts both
)

// obsoleteSettings are settings of earlier versions that an old install may
// still pass; they are ignored with a log line rather than refused.
var obsoleteSettings = [...]string{"STATUS_PORT", "STATUS_ADDR"}

// groupRe matches a group name or a numeric gid.
var groupRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$`)

// ParseKey decodes a cluster key: standard padded base64 of KeySize bytes,
// as `weavego token` and `weavego key generate` print it.
func ParseKey(s string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(k) != KeySize {
		return nil, fmt.Errorf("it is not a cluster key: give the output of `weavego token` on a member " +
			"(or of `weavego key generate`): base64 of 32 bytes, 44 characters ending in =")
	}
	return k, nil
}

// security parses KEY, INSECURE_OPEN, KEY_ROLLOUT, CONTROL_GROUP and
// STATUS_GROUP, and notes obsolete settings.
func (p *parser) security(s *Settings) {
	if v := p.str("KEY", ""); v != "" {
		k, err := ParseKey(v)
		if err != nil {
			p.fail("KEY", "%v", err)
		}
		s.Key = k
	}
	if v := p.str("INSECURE_OPEN", ""); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			p.fail("INSECURE_OPEN", "%q is not true or false", v)
		}
		s.InsecureOpen = b
	}
	switch s.KeyRollout = p.str("KEY_ROLLOUT", ""); s.KeyRollout {
	case "", RolloutAccept, RolloutSend:
	default:
		p.fail("KEY_ROLLOUT", "%q is not accept, send or empty (see docs/keys.md)", s.KeyRollout)
	}
	switch {
	case s.InsecureOpen && (s.Key != nil || s.Password != ""):
		p.fail("INSECURE_OPEN", "true opens the cluster, but KEY or PASSWORD is set too: remove one or the other")
	case s.InsecureOpen && s.KeyRollout != "":
		p.fail("KEY_ROLLOUT", "a rollout needs a key, but INSECURE_OPEN=true: remove INSECURE_OPEN")
	case s.Key != nil && s.Password != "":
		p.fail("PASSWORD", "KEY is set too: give only KEY (PASSWORD is the older way to derive one)")
	}
	s.ControlGroup, s.StatusGroup = p.group("CONTROL_GROUP"), p.group("STATUS_GROUP")
	for _, name := range obsoleteSettings {
		if v, ok := p.getenv(name); ok && v != "" {
			s.Obsolete = append(s.Obsolete, name)
		}
	}
}

// group parses a setting that names a group: a gid or a group name.
func (p *parser) group(name string) string {
	g := p.str(name, "")
	if g != "" && !groupRe.MatchString(g) {
		p.fail(name, "%q is not a group id such as 999 or a group name", g)
	}
	return g
}
