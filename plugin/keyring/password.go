package keyring

import (
	"crypto/sha256"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters of the PASSWORD key. Every host must derive the same
// key from the same password, so the salt is fixed and documented rather
// than random; changing any of these values changes the key, hence the v1
// in the salt.
const (
	kdfSalt    = "weavego gossip key v1"
	kdfTime    = 3
	kdfMemory  = 64 * 1024 // KiB
	kdfThreads = 2
	keyLen     = 32
)

// FromPassword derives the 32-byte gossip key from a user's PASSWORD with
// Argon2id, so that guessing a word costs far more than one hash per try.
func FromPassword(password string) []byte {
	return argon2.IDKey([]byte(password), []byte(kdfSalt), kdfTime, kdfMemory, kdfThreads, keyLen)
}

// LegacyFromPassword is the key weavego versions before the cluster key
// derived from PASSWORD (unsalted SHA-256). It is used only to keep talking
// to such hosts during an upgrade.
func LegacyFromPassword(password string) []byte {
	k := sha256.Sum256([]byte(password))
	return k[:]
}
