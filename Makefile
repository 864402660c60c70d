# weavego: build, install and test the managed Docker network plugin.
# `make install` and `make test` do all the set-up a fresh machine needs.

SHELL     := /bin/bash
GO        ?= go
DOCKER    ?= docker
PLUGIN    ?= weavego
BIN       := build/weavego
BUNDLE    := build/plugin
STATE_DIR ?= /var/lib/weavego
BINDIR    ?= /usr/local/bin
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
GOFILES   := $(shell find . -name '*.go' -not -path './build/*') go.mod go.sum

export PATH := /usr/local/go/bin:$(PATH)

.PHONY: all plugin install uninstall test unit lint kernel e2e vet bench demo faults clean
.PHONY: push e2e29 e2e-race kernel-wg FORCE

all: $(BIN)

$(BIN): $(GOFILES) build/version
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $@ ./plugin

# build/version changes only when VERSION does, so that another VERSION rebuilds the binary.
build/version: FORCE
	@mkdir -p build
	@echo '$(VERSION)' | cmp -s - $@ || echo '$(VERSION)' > $@

# The managed-plugin bundle: config.json and a rootfs holding only the binary.
plugin: $(BIN) config.json
	rm -rf $(BUNDLE)
	mkdir -p $(BUNDLE)/rootfs/run/docker/plugins $(BUNDLE)/rootfs/run/weavego $(BUNDLE)/rootfs/var/lib/weavego \
		$(BUNDLE)/rootfs/var/run $(BUNDLE)/rootfs/etc $(BUNDLE)/rootfs/tmp
	touch $(BUNDLE)/rootfs/etc/resolv.conf $(BUNDLE)/rootfs/etc/hosts
	cp $(BIN) $(BUNDLE)/rootfs/weavego
	cp config.json $(BUNDLE)/config.json

# Installs into the local Docker engine, replacing an older copy, and puts the
# `weavego` command on the PATH.
install: plugin
	@# DOCKER="docker -H ..." installs into another engine: the local one need not run.
	@if [ "$$(id -u)" = 0 ] && [ "$(DOCKER)" = docker ]; then scripts/prepare docker; fi
	@command -v $(firstword $(DOCKER)) >/dev/null || { echo "make install: the docker command is missing: install Docker first"; exit 1; }
	mkdir -p $(STATE_DIR)
	@# An older copy's settings (PEERS, KEY, mounts...) carry over, as with docker plugin upgrade.
	old=$$($(DOCKER) plugin inspect -f '{{range .Settings.Env}}{{println .}}{{end}}{{range .Settings.Mounts}}{{if .Source}}{{.Name}}.source={{.Source}}{{println}}{{end}}{{end}}' $(PLUGIN) 2>/dev/null | grep -v '^$$' || true); \
	$(DOCKER) plugin disable -f $(PLUGIN) >/dev/null 2>&1; \
	$(DOCKER) plugin rm -f $(PLUGIN) >/dev/null 2>&1; \
	$(DOCKER) plugin create $(PLUGIN) $(BUNDLE) && \
	if [ -n "$$old" ]; then echo "keeping the settings of the copy it replaces"; $(DOCKER) plugin set $(PLUGIN) $$old; fi && \
	$(DOCKER) plugin enable $(PLUGIN)
	install -m 0755 $(BIN) $(BINDIR)/weavego
	@echo "weavego installed. Try: docker network create -d $(PLUGIN):latest --ipam-driver $(PLUGIN):latest net1"

# Publishes the plugin to a registry: make push PLUGIN_REF=REGISTRY/weavego:TAG [VERSION=TAG]. Other hosts
# then run `docker plugin install --grant-all-permissions --alias weavego REGISTRY/weavego:TAG PEERS=...`.
# The copy created for the push is removed again; an installed plugin of another name is not touched.
push: plugin
	@test -n "$(PLUGIN_REF)" || { echo "make push: say where to: make push PLUGIN_REF=REGISTRY/weavego:TAG"; exit 1; }
	@command -v $(firstword $(DOCKER)) >/dev/null || { echo "make push: the docker command is missing: install Docker first"; exit 1; }
	$(DOCKER) plugin create $(PLUGIN_REF) $(BUNDLE)
	$(DOCKER) plugin push $(PLUGIN_REF) || { $(DOCKER) plugin rm $(PLUGIN_REF); exit 1; }
	$(DOCKER) plugin rm $(PLUGIN_REF)
	@echo "pushed $(PLUGIN_REF) (weavego $(VERSION))"

uninstall:
	-$(DOCKER) plugin disable -f $(PLUGIN)
	-$(DOCKER) plugin rm -f $(PLUGIN)
	rm -f $(BINDIR)/weavego

vet:
	$(GO) vet ./...

# Unit tests need no root; kernel tests (datapath) skip themselves without it. Of e2e, only the package of
# Docker scenarios is left out (make e2e): e2e/bench's own tests of its analysis run here, TestBench skips
# itself without WEAVEGO_BENCH=1 (make bench).
# They run with the race detector, which needs cgo and a C compiler (.ci/run installs gcc); without one they
# run without it and say so.
RACE := $(shell command -v "$$($(GO) env CC 2>/dev/null)" >/dev/null 2>&1 && echo -race)
unit: vet
	@[ -n "$(RACE)" ] || echo "unit: running without -race: no C compiler ($$($(GO) env CC)); apt-get install gcc libc6-dev"
	CGO_ENABLED=$(if $(RACE),1,0) $(GO) test $(RACE) -count=1 $$($(GO) list ./... | grep -v '/e2e$$')

# golangci-lint with the linters of .golangci.yml (zero findings). The pinned
# version is installed from the Go module proxy into $(go env GOPATH)/bin
# when that holds no golangci-lint or another version (about 5 minutes once).
LINT_VERSION ?= v2.15.0
lint:
	@lint="$$($(GO) env GOPATH)/bin/golangci-lint"; \
	if ! "$$lint" version --short 2>/dev/null | grep -qx '$(patsubst v%,%,$(LINT_VERSION))'; then \
		echo "installing golangci-lint $(LINT_VERSION) into $$(dirname "$$lint")"; \
		GOBIN="$$(dirname "$$lint")" $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(LINT_VERSION) || exit 1; \
	fi; \
	echo "$$lint run ./..."; "$$lint" run ./...

# End-to-end tests on real Docker daemons in network namespaces (root only).
e2e: plugin
	@if [ "$$(id -u)" != 0 ]; then echo "e2e: skipped: needs root to run Docker daemons in network namespaces"; \
	else scripts/prepare e2e && WEAVEGO_PLUGIN_DIR=$(CURDIR)/$(BUNDLE) WEAVEGO_SOAK=$${WEAVEGO_SOAK:-5} $(GO) test -count=1 -timeout 60m -v ./e2e/ 2>&1 | tee build/e2e.log; exit $${PIPESTATUS[0]}; fi

# The core scenarios on a Docker Engine 29 that scripts/engine29 builds once per machine (cached).
E2E29_TESTS ?= ^(TestSingleHost|TestMultiHost|TestDNS|TestIPAM|TestInstallFromRegistry|TestFaultsDockerdRestart|TestKeys|TestEncrypted|TestIPv6|TestIPv6Underlay|TestEngine29|TestDirect)$$
e2e29: plugin
	@if [ "$$(id -u)" != 0 ]; then echo "e2e29: skipped: needs root to run Docker daemons in network namespaces"; \
	else scripts/prepare e2e && bin=$$(scripts/engine29 | tail -n 1) && \
	WEAVEGO_ENGINE=29 WEAVEGO_ENGINE_BIN=$$bin WEAVEGO_PLUGIN_DIR=$(CURDIR)/$(BUNDLE) \
	$(GO) test -count=1 -timeout 30m -v -run '$(E2E29_TESTS)' ./e2e/ 2>&1 | tee build/e2e29.log; exit $${PIPESTATUS[0]}; fi

# The scenarios with the most concurrency again, with the plugin built with the race detector: a race report
# in a plugin's output fails the test. The race runtime links the C library dynamically, so the library and
# its loader go into the bundle's rootfs beside the binary.
RACE_BUNDLE := build/plugin-race
E2E_RACE_TESTS ?= ^(TestMultiHost|TestDNS|TestIPAM|TestFaultsPluginKillLoop)$$
e2e-race: plugin
	@if [ "$$(id -u)" != 0 ]; then echo "e2e-race: skipped: needs root to run Docker daemons in network namespaces"; \
	elif [ -z "$(RACE)" ]; then echo "e2e-race: skipped: no C compiler for -race; apt-get install gcc libc6-dev"; \
	else set -e; rm -rf $(RACE_BUNDLE); cp -a $(BUNDLE) $(RACE_BUNDLE); \
	CGO_ENABLED=1 $(GO) build -race -trimpath -ldflags "-X main.version=$(VERSION)-race" -o $(RACE_BUNDLE)/rootfs/weavego ./plugin; \
	for lib in $$(ldd $(RACE_BUNDLE)/rootfs/weavego | grep -o '/[^ ]*'); do cp --parents -L "$$lib" $(RACE_BUNDLE)/rootfs/; done; \
	scripts/prepare e2e; set +e; WEAVEGO_PLUGIN_DIR=$(CURDIR)/$(RACE_BUNDLE) \
	$(GO) test -count=1 -timeout 30m -v -run '$(E2E_RACE_TESTS)' ./e2e/ 2>&1 | tee build/e2e-race.log; exit $${PIPESTATUS[0]}; fi

# Kernel WireGuard, which the test machines' kernel lacks: Debian's kernel boots under qemu (TCG) with an
# initramfs whose /init configures it through the tunnel package between two namespaces (e2e/kernelwg).
kernel-wg:
	@if [ "$$(id -u)" != 0 ]; then echo "kernel-wg: skipped: needs root to install qemu and Debian's kernel package"; \
	else root=$$(scripts/kernelwg) && WEAVEGO_KERNELWG=$$root $(GO) test -count=1 -timeout 10m -v ./e2e/kernelwg/; fi

test: lint unit kernel-wg e2e e2e29 e2e-race

bench: plugin
	@if [ "$$(id -u)" != 0 ]; then echo "bench: needs root"; exit 1; fi
	scripts/prepare e2e
	WEAVEGO_PLUGIN_DIR=$(CURDIR)/$(BUNDLE) WEAVEGO_BENCH=1 $(GO) test -count=1 -timeout 90m -run 'TestBench' -v ./e2e/bench/

# The fault suite (e2e/faults_*_test.go): writes RELIABILITY.md. WEAVEGO_SOAK=minutes (default 30);
# `make test` runs the same cases with a 5-minute soak and leaves RELIABILITY.md alone.
faults: plugin
	@if [ "$$(id -u)" != 0 ]; then echo "faults: needs root"; exit 1; fi
	scripts/prepare e2e
	WEAVEGO_PLUGIN_DIR=$(CURDIR)/$(BUNDLE) WEAVEGO_FAULTS_REPORT=1 WEAVEGO_SOAK=$${WEAVEGO_SOAK:-30} \
		$(GO) test -count=1 -timeout 90m -run 'TestFaults' -v ./e2e/ 2>&1 | tee build/faults.log; exit $${PIPESTATUS[0]}

demo: plugin
	@if [ "$$(id -u)" != 0 ]; then echo "demo: needs root"; exit 1; fi
	scripts/prepare e2e
	WEAVEGO_PLUGIN_DIR=$(CURDIR)/$(BUNDLE) WEAVEGO_DEMO=1 $(GO) test -count=1 -timeout 20m -run 'TestDemo' -v ./e2e/

clean:
	rm -rf build
