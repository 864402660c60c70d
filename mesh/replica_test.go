package mesh

import (
	"errors"
	"testing"
)

// TestReplicaAdmission checks that Replica.Merge passes records through
// Mesh's gate: a validator's refusal, an unknown kind and a broken shape
// change nothing, and only the refusals are counted.
func TestReplicaAdmission(t *testing.T) {
	var msgs [][]byte
	w := NewReplica(ReplicaConfig{Name: "w", Broadcast: func(m []byte) { msgs = append(msgs, m) }})
	w.Set("good", "a", []byte("ok"))
	w.Set("good", "b", []byte("bad"))
	w.Set("other", "c", []byte("ok"))
	r := NewReplica(ReplicaConfig{Name: "r", Validators: map[string]func(Entry) error{
		"good": func(e Entry) error {
			if string(e.Value) == "bad" {
				return errors.New("bad value")
			}
			return nil
		},
	}})
	for _, m := range msgs {
		if _, err := r.Merge(m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Merge(encodeEntries([]record{{e: Entry{Kind: "good", Key: "d", Owner: "w"}}})); err != nil {
		t.Fatal(err) // version 0: refused by the generic bounds
	}
	if _, ok := r.Get("good", "a"); !ok {
		t.Error("an admitted record is missing")
	}
	for _, k := range [][2]string{{"good", "b"}, {"other", "c"}, {"good", "d"}} {
		if _, ok := r.Get(k[0], k[1]); ok {
			t.Errorf("%s/%s was merged past the gate", k[0], k[1])
		}
	}
	rej := r.Rejected()
	if len(rej) != 1 || rej[0].Owner != "w" || rej[0].Kind != "good" || rej[0].Count != 2 {
		t.Errorf("rejections %+v, want 2 of owner w, kind good (the unknown kind is not one)", rej)
	}
}
