package mesh

import "testing"

// A member writes an entry at the highest admitted version: no later write of that key is admitted anywhere.
// Once the member is removed, every host drops it and refuses it, the key is written anew from version 1, and
// the member's other entries stay.
func TestPinClearedByRemoval(t *testing.T) {
	w := newTaped("w")
	a, b := NewReplica(ReplicaConfig{Name: "a"}), NewReplica(ReplicaConfig{Name: "b"})
	w.SetAtLeast("network", "n1", []byte("mine for ever"), MaxVersion)
	pin := w.tape[0]
	w.Set("network", "n2", []byte("ordinary"))
	for _, r := range []*Replica{a, b} {
		mustMerge(t, r, w.State())
	}
	a.Set("network", "n1", []byte("try"))
	if mustMerge(t, b, a.State()) {
		t.Fatal("a write above the pinned version was admitted: the test shows no pin")
	}
	for _, r := range []*Replica{a, b} {
		if n := r.ClearPins([]string{"w"}); n != 1 && r == b {
			t.Fatalf("%s dropped %d pinned entries, want 1", r.LocalName(), n)
		}
	}
	e := a.Set("network", "n1", []byte("free again"))
	if e.Version != 1 {
		t.Errorf("the key was written anew at version %d, want 1", e.Version)
	}
	mustMerge(t, b, a.State())
	if got, _ := b.Get("network", "n1"); string(got.Value) != "free again" {
		t.Errorf("b holds %+v after the pin was cleared, want a's new write", got)
	}
	if mustMerge(t, b, pin) {
		t.Error("the pinned entry, sent again, was admitted after its writer was removed")
	}
	if _, ok := b.Get("network", "n2"); !ok {
		t.Error("the removed host's ordinary entry was dropped")
	}
}

// A host that has not cleared the pin yet loses it at its next sync with one that has.
func TestPinDroppedBySync(t *testing.T) {
	w := NewReplica(ReplicaConfig{Name: "w"})
	a, c := NewReplica(ReplicaConfig{Name: "a"}), NewReplica(ReplicaConfig{Name: "c"})
	w.SetAtLeast("network", "n1", []byte("pin"), MaxVersion)
	for _, r := range []*Replica{a, c} {
		mustMerge(t, r, w.State())
	}
	a.ClearPins([]string{"w"})
	syncFrom(t, a, c, nil)
	if _, ok := c.Get("network", "n1"); ok {
		t.Error("c kept the pin after syncing with a host that cleared it")
	}
}
