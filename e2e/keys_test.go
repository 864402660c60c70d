//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestKeys gives hosts the cluster key the documented way, on standard input, and shows that a setting which
// keeps the plugin from starting is told where the user types: h1 is a first host, h2 joins it.
func TestKeys(t *testing.T) {
	RequirePlugin(t)
	c := NewCluster(t, ClusterOptions{Hosts: 2, Mesh: 1})
	k := &keys{h1: c.Host(0), h2: c.Host(1)}
	runStepsOpts(t, stepOptions{onFail: func(t *testing.T, name string) {
		t.Logf("%s failed; h2's plugin log:\n%s", name, tail(k.h2.PluginLogs(), 40))
	}}, []step{
		{"NoKeyRefusedWhereTyped", k.noKey},
		{"KeyFromStdinLeavesNoTrace", k.keyFromStdin},
		{"RemovedKeyInSettingRefused", k.removedKey},
		{"KeyBeforeEnable", k.keyBeforeEnable},
	})
}

type keys struct {
	h1, h2 *Host
	old    string // the cluster key h1 generated
	cur    string // the cluster key after the rotation
}

// refusedWhereTyped checks that `docker network create` on h fails with a sentence holding every one of want,
// and that `weavego status` there says it.
func refusedWhereTyped(t *testing.T, h *Host, network string, want ...string) {
	t.Helper()
	out, err := h.Docker(append([]string{"network", "create"}, append(netArgs, network)...)...)
	if err == nil {
		_, _ = h.Docker("network", "rm", network)
		t.Fatalf("docker network create on %s succeeded; want the plugin's refusal", h.Name)
	}
	msg := out + oneLineErr(err)
	st, serr := h.WeavegoCLI("status")
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("docker network create on %s: %s\nwant it to say %q", h.Name, msg, w)
		}
		if !strings.Contains(st, w) {
			t.Errorf("weavego status on %s: %s %v\nwant it to say %q", h.Name, st, serr, w)
		}
	}
	t.Logf("docker network create on %s: %s", h.Name, lastLine(msg))
}

// noKey: PEERS without a key. The plugin enables, and the user reads why it does nothing where they typed.
func (k *keys) noKey(t *testing.T) {
	if err := k.h2.InstallPlugin(map[string]string{"PEERS": k.h1.IP.String()}); err != nil {
		t.Fatalf("enable on h2 with PEERS and no KEY failed, so the user sees only Docker's words: %v", oneLineErr(err))
	}
	refusedWhereTyped(t, k.h2, "keynet", "KEY", "weavego token", "weavego key install")
	// Teardown requests pass, so Docker's cleanup does not jam.
	sock, err := k.h2.PluginSocket()
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/NetworkDriver.Leave", "/NetworkDriver.DeleteEndpoint", "/IpamDriver.ReleaseAddress",
		"/NetworkDriver.DeleteNetwork"} {
		if code, body, err := PostPlugin(sock, path, `{"NetworkID":"n","EndpointID":"e","PoolID":"p","Address":"10.0.0.2"}`); err != nil || code != 200 {
			t.Errorf("%s on the refusing plugin: %d %s %v; want success", path, code, body, err)
		}
	}
}

// keyStdin runs `weavego key ARGS` on h with key on standard input. While the command runs, it holds the key
// and no /proc/*/cmdline of the machine does.
func keyStdin(t *testing.T, h *Host, key string, args ...string) string {
	t.Helper()
	argv := append([]string{"nsenter", "--net=" + h.NSPath(), "--", weavegoBin(), "--socket", h.ControlSocket(), "key"}, args...)
	if strings.Contains(strings.Join(argv, " "), key) {
		t.Fatalf("the test passes the key in arguments: %v", argv)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(in, key+"\n") // read until EOF: the command holds the key and waits
	// nsenter execs the command in its own process: wait until that process is weavego, reading its input.
	Eventually(t, 10*time.Second, func() error {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", cmd.Process.Pid))
		if !bytes.HasPrefix(b, []byte(weavegoBin()+"\x00")) {
			return fmt.Errorf("process %d is %q, not yet the running weavego command", cmd.Process.Pid, b)
		}
		return nil
	})
	if pids := cmdlinesHolding(key); len(pids) > 0 {
		t.Errorf("while weavego key %v runs, the key is in /proc/PID/cmdline of %v", args, pids)
	}
	in.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("weavego key %v on %s: %v: %s", args, h.Name, err, out.String())
	}
	return strings.TrimSpace(out.String())
}

// cmdlinesHolding returns the pids whose command line contains s.
func cmdlinesHolding(s string) []string {
	paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var pids []string
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(s)) {
			pids = append(pids, filepath.Base(filepath.Dir(p)))
		}
	}
	return pids
}

// keyFromStdin: the refusing h2 is given h1's key on standard input; it starts with it and joins h1.
func (k *keys) keyFromStdin(t *testing.T) {
	out, err := k.h1.WeavegoCLI("token")
	if err != nil {
		t.Fatal(err)
	}
	k.old = strings.TrimSpace(out)
	t.Logf("h2: %s", keyStdin(t, k.h2, k.old, "install"))
	waitPeer(t, k.h1, k.h2.IP.String(), "alive", 2*time.Minute)
	waitPeer(t, k.h2, k.h1.IP.String(), "alive", time.Minute)
	k.h2.CreateNetwork(t, "keynet", netArgs...)
	Eventually(t, time.Minute, func() error { _, err := k.h1.NetworkView("keynet"); return err })
	if ids, _ := k.h2.Docker("plugin", "inspect", "-f", "{{.Settings.Env}}", PluginName); strings.Contains(ids, k.old) {
		t.Errorf("the key is in h2's plugin settings: %s", ids)
	}
	t.Logf("h2 started with the key from standard input, joined h1 and created keynet; the key was in no command line")
}

// removedKey: after a rotation, a KEY setting that still holds the removed key is refused at the restart, with
// the sentence that says to clear it; cleared, the host starts with the new key.
func (k *keys) removedKey(t *testing.T) {
	if k.old == "" {
		t.Skip("needs KeyFromStdinLeavesNoTrace")
	}
	k.h1.CreateNetwork(t, "keepnet", netArgs...)
	Eventually(t, time.Minute, func() error { _, err := k.h2.NetworkView("keepnet"); return err })
	newKey := NewClusterKey(t)
	k.cur = newKey
	for _, op := range []string{"install", "use"} {
		for _, h := range []*Host{k.h1, k.h2} {
			keyStdin(t, h, newKey, op)
		}
	}
	for _, h := range []*Host{k.h1, k.h2} {
		keyStdin(t, h, k.old, "remove")
	}
	k.h2.MustDocker(t, "plugin", "disable", "-f", PluginName)
	k.h2.MustDocker(t, "plugin", "set", PluginName, "KEY="+k.old)
	k.h2.MustDocker(t, "plugin", "enable", PluginName)
	refusedWhereTyped(t, k.h2, "keynet2", "removed from this host", "KEY=")
	// Docker's cleanup passes the refusing plugin: removing a network it made before goes through.
	if out, err := k.h2.Docker("network", "rm", "keepnet"); err != nil {
		t.Errorf("docker network rm keepnet on the refusing h2: %s %v; want it to pass", out, err)
	}
	if out, _ := k.h2.WeavegoCLI("key", "list"); strings.Contains(out, k.old) {
		t.Errorf("the removed key is installed again on h2: %s", out)
	}
	k.h2.MustDocker(t, "plugin", "disable", "-f", PluginName)
	k.h2.MustDocker(t, "plugin", "set", PluginName, "KEY=")
	enablePlugin(t, k.h2)
	waitPeer(t, k.h1, k.h2.IP.String(), "alive", 2*time.Minute)
	out, err := k.h2.WeavegoCLI("key", "list")
	if err != nil || strings.Contains(out, k.old) || !strings.Contains(out, newKey) {
		t.Errorf("h2's keys after KEY was cleared: %s %v; want the new key only", out, err)
	}
	// The refusing plugin published no removal, and h1 still has keepnet: the cluster's definition brings it back.
	start := time.Now()
	Eventually(t, time.Minute, func() error { _, err := k.h2.NetworkView("keepnet"); return err })
	t.Logf("KEY=<removed key> refused at restart, docker network rm keepnet passed meanwhile; cleared, h2 is back "+
		"with the new key, and keepnet again %s after", time.Since(start).Round(100*time.Millisecond))
}

// keyBeforeEnable: with the plugin disabled and its saved keys gone, `weavego key install` on standard input
// saves the key where the plugin reads it, and the plugin then starts with it as a member.
func (k *keys) keyBeforeEnable(t *testing.T) {
	if k.cur == "" {
		t.Skip("needs RemovedKeyInSettingRefused")
	}
	k.h2.MustDocker(t, "plugin", "disable", "-f", PluginName)
	state := filepath.Join(k.h2.Dir, "plugin-state")
	for _, f := range []string{"keyring", "keyring.history", "keyring.generated"} {
		_ = os.Remove(filepath.Join(state, f))
	}
	out := keyStdin(t, k.h2, k.cur, "install")
	if !strings.Contains(out, "used when the plugin starts") {
		t.Fatalf("weavego key install with the plugin disabled: %s", out)
	}
	fi, err := os.Stat(filepath.Join(state, "keyring"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the saved keyring: %v %v; want mode 0600", fi, err)
	}
	enablePlugin(t, k.h2)
	waitPeer(t, k.h1, k.h2.IP.String(), "alive", 2*time.Minute)
	if st, err := k.h2.WeavegoCLI("status"); err != nil || strings.Contains(st, "cannot start") {
		t.Errorf("weavego status on h2 after the key was saved before enable: %s %v", st, err)
	}
	k.h2.CreateNetwork(t, "keynet3", netArgs...)
	Eventually(t, time.Minute, func() error { _, err := k.h1.NetworkView("keynet3"); return err })
	t.Logf("h2: %s; enabled, it joined h1 and created keynet3", out)
}
