package main

import (
	"bytes"
	"testing"
)

func k(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestPasswordKey(t *testing.T) {
	a, b := passwordKey("s3cret"), passwordKey("s3cret")
	if len(a) != 32 || !bytes.Equal(a, b) || bytes.Equal(a, passwordKey("s3cret2")) {
		t.Error("passwordKey must give the same 32 bytes for the same password, others for another")
	}
}
