package keyring

import (
	"bytes"
	"encoding/hex"
	"testing"
)

func TestFromPassword(t *testing.T) {
	a, b := FromPassword("s3cret"), FromPassword("s3cret")
	if len(a) != 32 || !bytes.Equal(a, b) || bytes.Equal(a, FromPassword("s3cret2")) {
		t.Error("FromPassword must give the same 32 bytes for the same password, others for another")
	}
}

func TestLegacyFromPassword(t *testing.T) {
	// The unsalted SHA-256 of "pw", as weavego versions before the cluster key derived it.
	const want = "30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4"
	if got := hex.EncodeToString(LegacyFromPassword("pw")); got != want {
		t.Errorf("LegacyFromPassword(pw) = %s, want %s", got, want)
	}
}
