package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/weavego/weavego/plugin/control"
	"github.com/weavego/weavego/plugin/keyring"
	"github.com/weavego/weavego/plugin/status"
	"github.com/weavego/weavego/pluginapi"
)

// A setting that keeps the plugin from starting (an invalid value, PEERS
// without a key, a key removed here) used to make it exit, and Docker then
// told the user only that the plugin's socket was missing. Instead the
// plugin refuses: it serves its socket and the control socket, answers every
// request that would create something, and `weavego status`, with the
// reason, and lets teardown requests pass so that Docker's cleanup never
// jams; it records them, and the next real start applies them (see
// pendingFile). A key given meanwhile (`weavego key install`) is saved and the plugin
// tries to start again with it.

// refuseConfig says where the refusing plugin serves, and why it refuses.
type refuseConfig struct {
	PluginSocket  string // the socket Docker talks to
	ControlSocket string
	ControlGroup  string // CONTROL_GROUP; ignored if it is itself the bad setting
	StateDir      string // where a key given meanwhile is saved
	Reason        error
	Log           *slog.Logger
}

// refuse serves cfg.Reason until ctx ends (retry false) or a key change is
// saved (retry true: the caller starts again).
func refuse(ctx context.Context, cfg refuseConfig) (retry bool, err error) {
	sentence := "weavego cannot start on this host: " + cfg.Reason.Error()
	ring := filepath.Join(cfg.StateDir, keyring.RingFile)
	saved, _ := keyring.LoadRing(ring) // unreadable: the reason says so, and a key install replaces it
	changed := make(chan struct{}, 1)
	c := control.New(control.Config{Logger: cfg.Log}, control.Deps{
		Status: refusedStatus{sentence, cfg.ControlSocket},
		Keys:   keyring.HistoryRing{Ring: keyring.NewMemRing(saved), Hist: keyring.HistoryStore{Dir: cfg.StateDir}, Now: time.Now},
		SaveRing: func(keys [][]byte) error {
			if err := keyring.SaveRing(ring, keys); err != nil {
				return err
			}
			select {
			case changed <- struct{}{}:
			default:
			}
			return nil
		},
	})
	cl, err := control.Listen(cfg.ControlSocket, "CONTROL_GROUP", cfg.ControlGroup)
	if err != nil && cfg.ControlGroup != "" {
		cl, err = control.Listen(cfg.ControlSocket, "CONTROL_GROUP", "")
	}
	if err != nil {
		return false, errors.Join(cfg.Reason, err)
	}
	l, err := listenUnix(cfg.PluginSocket)
	if err != nil {
		cl.Close()
		return false, errors.Join(cfg.Reason, err)
	}
	pending := newPendingStore(cfg.StateDir)
	passed := func(method string, req any) {
		if err := pending.add(method, req); err != nil {
			cfg.Log.Warn("a teardown request let pass is not applied at the next start", "method", method, "err", err)
		}
	}
	plugin := &http.Server{Handler: pluginapi.NewRefusingHandler(pluginapi.Config{Logger: cfg.Log}, sentence, passed),
		ReadHeaderTimeout: 10 * time.Second}
	ctl := c.Socket(cl, false)
	errc := make(chan error, 2)
	go func() { errc <- ignoreClosed(plugin.Serve(l)) }()
	go func() { errc <- ctl.Serve() }()
	cfg.Log.Error(sentence+"; every request that would create a network or a container is refused with this, "+
		"and `weavego status` says it", "socket", cfg.PluginSocket, "control", cfg.ControlSocket)
	select {
	case <-ctx.Done():
	case <-changed:
		retry = true
		cfg.Log.Info("a cluster key was given: starting again with it")
	case err = <-errc:
		err = fmt.Errorf("serve: %w", err)
	}
	shut, done := context.WithTimeout(context.Background(), 3*time.Second)
	defer done()
	_ = ctl.Shutdown(shut) // lets the key change that ended the wait answer
	_ = plugin.Shutdown(shut)
	return retry, err
}

// refusedStatus is the status of a refusing plugin: the reason, as its one
// problem.
type refusedStatus struct{ sentence, controlSocket string }

// Report is the status report of GET /status.
func (r refusedStatus) Report() status.Report {
	return status.Report{Version: version, NotStarted: r.sentence, Problems: []status.Problem{{What: r.sentence}},
		Security: status.Security{ControlSocket: r.controlSocket}}
}
