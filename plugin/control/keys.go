package control

import (
	"encoding/json"
	"net/http"

	"github.com/weavego/weavego/plugin/keyring"
	"github.com/weavego/weavego/plugin/settings"
)

// KeyRequest is the body of the key change requests (POST /keys/install,
// /keys/use, /keys/remove): a key in base64.
type KeyRequest struct {
	Key string
}

// KeysAnswer is the answer of GET /keys: the keys in base64, primary first.
type KeysAnswer struct {
	Keys []string
}

func (s *Server) handleKeys(w http.ResponseWriter, _ *http.Request) {
	if s.d.Keys == nil {
		fail(w, http.StatusConflict, "this cluster is open (INSECURE_OPEN=true): it has no key")
		return
	}
	var a KeysAnswer
	for _, k := range s.d.Keys.Keys() {
		a.Keys = append(a.Keys, keyring.Encode(k))
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) handleKeyChange(w http.ResponseWriter, r *http.Request, op string) {
	if s.d.Keys == nil {
		fail(w, http.StatusConflict, "this cluster is open (INSECURE_OPEN=true): set KEY and restart the plugin to use keys")
		return
	}
	var req KeyRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		fail(w, http.StatusBadRequest, "the request is not {\"Key\": \"...\"} of at most 64 KiB")
		return
	}
	key, err := settings.ParseKey(req.Key)
	if err != nil {
		fail(w, http.StatusBadRequest, "the key: "+err.Error())
		return
	}
	ring := s.d.Keys
	change := map[string]func([]byte) error{"install": ring.InstallKey, "use": ring.UseKey, "remove": ring.RemoveKey}[op]
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	if err := change(key); err != nil {
		fail(w, http.StatusConflict, err.Error())
		return
	}
	if err := s.d.SaveRing(ring.Keys()); err != nil {
		fail(w, http.StatusInternalServerError, "the change is made in the running plugin but not saved, so a restart undoes it: "+err.Error())
		return
	}
	made := map[string]string{"install": "installed", "use": "made primary", "remove": "removed"}[op]
	s.log.Info("cluster key changed", "op", op, "keys", len(ring.Keys()))
	done(w, "key "+made+" on this host; do the same on every other host")
}
