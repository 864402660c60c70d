//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Daemon is a long-running child process (containerd, dockerd, a test server) whose output goes to a log file.
// Its fields are set at start and not changed afterwards; err is valid once done is closed.
type Daemon struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error
	// group: signals go to the whole process group (test servers that fork per connection). Daemons get them
	// alone, so that dockerd stops its own children in order.
	group bool
}

// startDaemon starts args in its own process group (so a terminal's Ctrl-C reaches only the test process, which
// then tears hosts down in order) with stdout and stderr appended to logPath.
func startDaemon(name, logPath string, args ...string) (*Daemon, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log of %s: %w", name, err)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = CleanEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, strings.Join(args, " "), err)
	}
	d := &Daemon{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		d.err = cmd.Wait()
		f.Close()
		close(d.done)
	}()
	return d, nil
}

// StartServer is startDaemon for a test server that may fork (per connection): signals go to its whole process
// group.
func StartServer(name, logPath string, args ...string) (*Daemon, error) {
	d, err := startDaemon(name, logPath, args...)
	if err != nil {
		return nil, err
	}
	d.group = true
	return d, nil
}

// Done is closed when the process has exited.
func (d *Daemon) Done() <-chan struct{} { return d.done }

func (d *Daemon) running() bool {
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

// Stop sends SIGTERM, waits up to grace, then SIGKILL. It returns an error when SIGTERM was not enough.
func (d *Daemon) Stop(grace time.Duration) error {
	if !d.running() {
		return nil
	}
	d.signal(syscall.SIGTERM)
	select {
	case <-d.done:
		return nil
	case <-time.After(grace):
	}
	return d.kill(fmt.Sprintf("did not exit within %s of SIGTERM", grace))
}

func (d *Daemon) signal(sig syscall.Signal) {
	if d.group {
		_ = syscall.Kill(-d.cmd.Process.Pid, sig)
		return
	}
	_ = d.cmd.Process.Signal(sig)
}

// kill sends SIGKILL and waits for the exit; why, when not empty, is reported as an error.
func (d *Daemon) kill(why string) error {
	d.signal(syscall.SIGKILL)
	select {
	case <-d.done:
	case <-time.After(20 * time.Second):
		return fmt.Errorf("%s (pid %d) still running 20s after SIGKILL", d.name, d.cmd.Process.Pid)
	}
	if why == "" {
		return nil
	}
	return fmt.Errorf("%s (pid %d) %s; killed", d.name, d.cmd.Process.Pid, why)
}

// CleanEnv is the environment for every child: no DOCKER_* variables that would redirect the docker CLI, and a
// PATH that reaches iptables, modprobe and runc.
func CleanEnv() []string {
	var env []string
	path := ""
	for _, kv := range os.Environ() {
		switch {
		case strings.HasPrefix(kv, "DOCKER_HOST="), strings.HasPrefix(kv, "DOCKER_CONTEXT="),
			strings.HasPrefix(kv, "DOCKER_TLS_VERIFY="), strings.HasPrefix(kv, "DOCKER_CERT_PATH="):
			continue
		case strings.HasPrefix(kv, "PATH="):
			path = strings.TrimPrefix(kv, "PATH=")
			continue
		}
		env = append(env, kv)
	}
	for _, dir := range []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"} {
		if !strings.Contains(":"+path+":", ":"+dir+":") {
			path = strings.TrimPrefix(path+":"+dir, ":")
		}
	}
	return append(env, "PATH="+path)
}

// Run runs a short command and returns its stdout; the error includes stderr and the command line.
func Run(timeout time.Duration, args ...string) (string, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = CleanEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("%s: %w", strings.Join(args, " "), err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		err = fmt.Errorf("timed out after %s (%v)", timeout, <-done)
	}
	if err != nil {
		return stdout.String(), fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err,
			strings.TrimSpace(stderr.String()+" "+LastLines(stdout.String(), 5)))
	}
	return stdout.String(), nil
}

// tailFile returns the last n lines of a file, or a note saying why it cannot.
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	return LastLines(string(b), n)
}

// LastLines returns the last n lines of s.
func LastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
