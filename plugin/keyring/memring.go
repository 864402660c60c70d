package keyring

import (
	"bytes"
	"errors"
	"slices"
)

// MemRing is a keyring in memory with memberlist's rules: the first key is
// the primary, an installed key is not made primary, the primary cannot be
// removed. The refusing plugin (see refuse) changes its saved ring with it.
type MemRing struct{ keys [][]byte }

// Ring is a keyring as memberlist's and MemRing implement it.
type Ring interface {
	Keys() [][]byte
	InstallKey(key []byte) error
	UseKey(key []byte) error
	RemoveKey(key []byte) error
}

var _ Ring = (*MemRing)(nil)

// NewMemRing returns a ring of keys, the first the primary.
func NewMemRing(keys [][]byte) *MemRing { return &MemRing{keys: keys} }

func (r *MemRing) Keys() [][]byte { return r.keys }

func (r *MemRing) InstallKey(k []byte) error {
	if !Contains(r.keys, k) {
		r.keys = append(r.keys, k)
	}
	return nil
}

func (r *MemRing) UseKey(k []byte) error {
	if !Contains(r.keys, k) {
		return errors.New("that key is not installed: `weavego key install` it first")
	}
	r.keys = append([][]byte{k}, slices.DeleteFunc(slices.Clone(r.keys), func(x []byte) bool { return bytes.Equal(x, k) })...)
	return nil
}

func (r *MemRing) RemoveKey(k []byte) error {
	if len(r.keys) > 0 && bytes.Equal(r.keys[0], k) {
		return errors.New("that key is the primary key: `weavego key use` another one first")
	}
	r.keys = slices.DeleteFunc(slices.Clone(r.keys), func(x []byte) bool { return bytes.Equal(x, k) })
	return nil
}
