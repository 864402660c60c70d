package main

import (
	"bytes"
	"errors"
	"slices"
)

// memRing is a keyring in memory with memberlist's rules: the first key is
// the primary, an installed key is not made primary, the primary cannot be
// removed. The refusing plugin (see refuse) changes its saved ring with it.
type memRing struct{ keys [][]byte }

var _ keyring = (*memRing)(nil)

func (r *memRing) Keys() [][]byte { return r.keys }

func (r *memRing) InstallKey(k []byte) error {
	if !containsKey(r.keys, k) {
		r.keys = append(r.keys, k)
	}
	return nil
}

func (r *memRing) UseKey(k []byte) error {
	if !containsKey(r.keys, k) {
		return errors.New("that key is not installed: `weavego key install` it first")
	}
	r.keys = append([][]byte{k}, slices.DeleteFunc(slices.Clone(r.keys), func(x []byte) bool { return bytes.Equal(x, k) })...)
	return nil
}

func (r *memRing) RemoveKey(k []byte) error {
	if len(r.keys) > 0 && bytes.Equal(r.keys[0], k) {
		return errors.New("that key is the primary key: `weavego key use` another one first")
	}
	r.keys = slices.DeleteFunc(slices.Clone(r.keys), func(x []byte) bool { return bytes.Equal(x, k) })
	return nil
}
