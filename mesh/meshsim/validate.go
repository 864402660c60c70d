package meshsim

import "github.com/weavego/weavego/mesh"

// memoValidators wraps validators so that each distinct record is checked
// once for the whole simulation: a validator is a pure function of the
// entry, and today's admission checks every record of every push/pull,
// whether it changes the map or not, which at a thousand hosts would make
// JSON decoding most of the run time without changing any outcome.
func memoValidators(vs map[string]func(mesh.Entry) error) map[string]func(mesh.Entry) error {
	if vs == nil {
		return nil
	}
	type rec struct {
		kind, key, owner, value string
		version                 uint64
		deleted                 bool
	}
	seen := map[rec]error{}
	out := make(map[string]func(mesh.Entry) error, len(vs))
	for kind, v := range vs {
		out[kind] = func(e mesh.Entry) error {
			k := rec{kind: e.Kind, key: e.Key, owner: e.Owner, value: string(e.Value), version: e.Version, deleted: e.Deleted}
			if err, ok := seen[k]; ok {
				return err
			}
			err := v(e)
			seen[k] = err
			return err
		}
	}
	return out
}
