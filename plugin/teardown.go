package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/docker/go-plugins-helpers/ipam"
	"github.com/docker/go-plugins-helpers/network"
)

// pendingFile, in STATE_DIR, holds the teardown requests a refusing plugin
// let pass (see refuse), one JSON object a line, in Docker's order: the
// next real start applies them to the drivers, so that a network, an
// endpoint or an address Docker removed meanwhile does not stay recorded
// (and allocated) for ever.
const pendingFile = "teardown.pending"

// pendingTeardown is one line of pendingFile.
type pendingTeardown struct {
	Method  string
	Request json.RawMessage
}

// pendingStore appends to and replays pendingFile.
type pendingStore struct {
	path string
	mu   *sync.Mutex // serialises appends of concurrent requests
}

func newPendingStore(dir string) pendingStore {
	return pendingStore{path: filepath.Join(dir, pendingFile), mu: &sync.Mutex{}}
}

// add appends a teardown request.
func (s pendingStore) add(method string, req any) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	line, _ := json.Marshal(pendingTeardown{Method: method, Request: b})
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("record %s for the next start: %w", method, err)
	}
	_, werr := f.Write(append(line, '\n'))
	return errors.Join(werr, f.Sync(), f.Close())
}

// netTeardown is what replay needs of the network driver.
type netTeardown interface {
	Leave(*network.LeaveRequest) error
	DeleteEndpoint(*network.DeleteEndpointRequest) error
	DeleteNetwork(*network.DeleteNetworkRequest) error
	RevokeExternalConnectivity(*network.RevokeExternalConnectivityRequest) error
}

// ipamTeardown is what replay needs of the IPAM driver.
type ipamTeardown interface {
	ReleaseAddress(*ipam.ReleaseAddressRequest) error
	ReleasePool(*ipam.ReleasePoolRequest) error
}

// replay applies the recorded teardown requests in their order, logs what
// each did, and removes the file. A request that fails (the object is gone
// already) is logged and skipped.
func (s pendingStore) replay(nd netTeardown, id ipamTeardown, log *slog.Logger) {
	b, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		log.Warn("read the teardown requests made while the plugin refused; they are not applied", "err", err)
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		var p pendingTeardown
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			log.Warn("skipping an unreadable teardown request", "err", err)
			continue
		}
		n++
		if err := applyTeardown(p, nd, id); err != nil {
			log.Info("teardown request made while the plugin refused", "method", p.Method, "result", err)
		}
	}
	log.Info("applied the teardown requests Docker made while the plugin refused", "requests", n)
	if err := os.Remove(s.path); err != nil {
		log.Warn("remove the applied teardown requests", "err", err)
	}
}

func applyTeardown(p pendingTeardown, nd netTeardown, id ipamTeardown) error {
	switch p.Method {
	case "NetworkDriver.Leave":
		return apply(p.Request, nd.Leave)
	case "NetworkDriver.DeleteEndpoint":
		return apply(p.Request, nd.DeleteEndpoint)
	case "NetworkDriver.DeleteNetwork":
		return apply(p.Request, nd.DeleteNetwork)
	case "NetworkDriver.RevokeExternalConnectivity":
		return apply(p.Request, nd.RevokeExternalConnectivity)
	case "IpamDriver.ReleaseAddress":
		return apply(p.Request, id.ReleaseAddress)
	case "IpamDriver.ReleasePool":
		return apply(p.Request, id.ReleasePool)
	}
	return fmt.Errorf("unknown method %q", p.Method)
}

func apply[Req any](raw json.RawMessage, fn func(*Req) error) error {
	req := new(Req)
	if err := json.Unmarshal(raw, req); err != nil {
		return err
	}
	return fn(req)
}
