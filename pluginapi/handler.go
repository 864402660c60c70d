// Package pluginapi serves Docker's plugin protocol for weavego's network and
// IPAM drivers on one HTTP handler, so that a single socket answers both
// `docker.networkdriver/1.0` and `docker.ipamdriver/1.0`.
//
// It uses the request and response types of go-plugins-helpers but not its
// handlers: those answer a malformed body with a plain-text 400 and let a panic
// in a driver kill the connection. Here every failure, malformed JSON and
// panics included, answers with Docker's `{"Err": "..."}` and a sentence the
// user can act on, and the drivers never see a request that did not decode.
package pluginapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/docker/go-plugins-helpers/ipam"
	"github.com/docker/go-plugins-helpers/network"
)

// maxBody bounds a request body: Docker's requests are a few kilobytes.
const maxBody = 1 << 20

const contentType = "application/vnd.docker.plugins.v1.1+json"

// errorResponse is Docker's error reply.
type errorResponse struct {
	Err string
}

// Config configures the handler.
type Config struct {
	// Logger receives refused and malformed requests and driver panics;
	// nil discards.
	Logger *slog.Logger
}

// NewHandler returns the HTTP handler of both drivers.
func NewHandler(cfg Config, nd NetworkDriver, id ipam.Ipam) http.Handler {
	return newHandler(cfg, nd, id, newRegistration(registrationLimit, registrationSettle))
}

func newHandler(cfg Config, nd NetworkDriver, id ipam.Ipam, reg *registration) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := router{routes: map[string]http.HandlerFunc{}, log: cfg.Logger}
	r.routes["/Plugin.Activate"] = func(w http.ResponseWriter, _ *http.Request) {
		reply(w, http.StatusOK, map[string][]string{"Implements": {"NetworkDriver", "IpamDriver"}})
	}
	registerNetwork(r, nd, reg)
	registerIPAM(r, id)
	return r
}

// router dispatches on the exact path: Docker's paths are fixed, and no
// path cleaning or redirect is wanted.
type router struct {
	routes map[string]http.HandlerFunc
	log    *slog.Logger
}

func (r router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if h, ok := r.routes[req.URL.Path]; ok {
		h(w, req)
		return
	}
	reply(w, http.StatusNotFound, errorResponse{Err: fmt.Sprintf("weavego does not implement %q", req.URL.Path)})
}

// handle registers one method whose request decodes into Req.
func handle[Req any, Resp any](r router, method string, fn func(*Req) (Resp, error)) {
	r.routes["/"+method] = func(w http.ResponseWriter, hr *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				r.log.Error("driver panic", "method", method, "panic", fmt.Sprint(p))
				reply(w, http.StatusInternalServerError, errorResponse{
					Err: fmt.Sprintf("weavego failed on %s (internal error: %v); the plugin log has details", method, p)})
			}
		}()
		req := new(Req)
		if err := decode(hr.Body, req, r.logBody(method)); err != nil {
			r.log.Warn("malformed request", "method", method, "err", err)
			reply(w, http.StatusBadRequest, errorResponse{Err: fmt.Sprintf("malformed %s request: %v", method, err)})
			return
		}
		resp, err := fn(req)
		if err != nil {
			r.log.Info("request refused", "method", method, "err", err)
			reply(w, http.StatusInternalServerError, errorResponse{Err: err.Error()})
			return
		}
		reply(w, http.StatusOK, resp)
	}
}

// maxLoggedBody bounds the part of a request body logged at debug level.
const maxLoggedBody = 2048

// logBody returns what logs a request body of method at debug level, or nil
// when debug is off: at LOG_LEVEL=debug the log shows what each engine
// version sends (which options, which names), which the drivers depend on.
func (r router) logBody(method string) func([]byte) {
	if !r.log.Enabled(context.Background(), slog.LevelDebug) {
		return nil
	}
	return func(data []byte) {
		r.log.Debug("request", "method", method, "body", string(data[:min(len(data), maxLoggedBody)]))
	}
}

// decode reads a JSON body (passing it to seen first, if not nil); an empty
// body or `null` leaves req zero.
func decode(body io.Reader, req any, seen func([]byte)) error {
	data, err := io.ReadAll(io.LimitReader(body, maxBody+1))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if len(data) > maxBody {
		return fmt.Errorf("body larger than %d bytes", maxBody)
	}
	data = bytes.TrimSpace(data)
	if seen != nil {
		seen(data)
	}
	if len(data) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(req); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return fmt.Errorf("invalid JSON at byte %d: %w", syn.Offset, err)
		case errors.As(err, &typ):
			return fmt.Errorf("field %s should be %s, not %s", typ.Field, typ.Type, typ.Value)
		}
		return fmt.Errorf("invalid JSON: %w", err)
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	if v == nil {
		v = struct{}{}
	}
	_ = json.NewEncoder(w).Encode(v)
}

// empty is the reply of a method that answers nothing but success.
type empty struct{}

func noReply[Req any](fn func(*Req) error) func(*Req) (empty, error) {
	return func(r *Req) (empty, error) { return empty{}, fn(r) }
}

func noRequest[Resp any](fn func() (Resp, error)) func(*struct{}) (Resp, error) {
	return func(*struct{}) (Resp, error) { return fn() }
}

// afterRegistration delays fn until Docker has registered the driver.
func afterRegistration[Req any, Resp any](reg *registration, fn func(*Req) (Resp, error)) func(*Req) (Resp, error) {
	return func(r *Req) (Resp, error) {
		reg.wait()
		return fn(r)
	}
}

func registerNetwork(r router, d NetworkDriver, reg *registration) {
	handle(r, "NetworkDriver.GetCapabilities", func(*struct{}) (*network.CapabilitiesResponse, error) {
		reg.registered()
		return d.GetCapabilities()
	})
	handle(r, "NetworkDriver.CreateNetwork", noReply(d.CreateNetwork))
	handle(r, "NetworkDriver.AllocateNetwork", d.AllocateNetwork)
	handle(r, "NetworkDriver.DeleteNetwork", noReply(d.DeleteNetwork))
	handle(r, "NetworkDriver.FreeNetwork", noReply(d.FreeNetwork))
	handle(r, "NetworkDriver.CreateEndpoint", afterRegistration(reg, d.CreateEndpoint))
	handle(r, "NetworkDriver.DeleteEndpoint", noReply(d.DeleteEndpoint))
	handle(r, "NetworkDriver.EndpointOperInfo", d.EndpointInfo)
	handle(r, "NetworkDriver.Join", afterRegistration(reg, d.Join))
	handle(r, "NetworkDriver.Leave", noReply(d.Leave))
	handle(r, "NetworkDriver.DiscoverNew", noReply(d.DiscoverNew))
	handle(r, "NetworkDriver.DiscoverDelete", noReply(d.DiscoverDelete))
	handle(r, "NetworkDriver.ProgramExternalConnectivity", noReply(d.ProgramExternalConnectivity))
	handle(r, "NetworkDriver.RevokeExternalConnectivity", noReply(d.RevokeExternalConnectivity))
}

func registerIPAM(r router, d ipam.Ipam) {
	handle(r, "IpamDriver.GetCapabilities", noRequest(d.GetCapabilities))
	handle(r, "IpamDriver.GetDefaultAddressSpaces", noRequest(d.GetDefaultAddressSpaces))
	handle(r, "IpamDriver.RequestPool", d.RequestPool)
	handle(r, "IpamDriver.ReleasePool", noReply(d.ReleasePool))
	handle(r, "IpamDriver.RequestAddress", d.RequestAddress)
	handle(r, "IpamDriver.ReleaseAddress", noReply(d.ReleaseAddress))
}
