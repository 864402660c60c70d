// Package e2e drives real Docker daemons to test the weavego plugin end to end.
//
// Each test builds a Cluster: a private underlay network namespace holding a bridge, and per host a network
// namespace with its own containerd and dockerd attached to that bridge by a veth. Nothing is added to the root
// network namespace and the system Docker daemon is never touched. Test images are built from scratch once per
// run (Debian's static busybox and a tiny Go HTTP server) and imported into every host, since no registry is
// reachable.
//
// Teardown is layered so that nothing is left behind: t.Cleanup stops each host gracefully, then a sweep of the
// run's prefix kills stray processes, unmounts what dockerd left under its roots, removes cgroups, namespaces and
// directories. TestMain runs the same sweep over the leftovers of earlier interrupted runs (whose owning test
// process is gone) and on SIGINT/SIGTERM.
//
// The tests need root, dockerd, containerd and nsenter; without them they skip with a one-line reason.
// WEAVEGO_E2E=0 skips them all. WEAVEGO_PLUGIN_DIR names the plugin bundle (default ../build/plugin).
//
// One harness serves every scenario: its helpers live in the non-test files of this package, one file per
// concern (cluster and mesh, hosts and daemons, docker, plugin, status, network and DNS checks, polling, the
// sweep). NewCluster(t, ClusterOptions{...}) is the one way to build a cluster. A scenario is a test function
// that builds a cluster and a fixture, then runs a table of steps (runSteps), each step a method of the fixture.
// The benchmarks (make bench) are the package e2e/bench, on the same harness.
//
// WEAVEGO_ENGINE picks the engine: 20.10 (the default: the system's docker.io, containerd and runc) or 29 (the
// binaries scripts/engine29 builds, from WEAVEGO_ENGINE_BIN or its default cache, first on the daemons' PATH;
// a missing build fails the tests rather than skipping them). The install tests run a registry (Debian's
// docker-registry) at UnderlayGateway:RegistryPort, which every test daemon treats as insecure.
package e2e
