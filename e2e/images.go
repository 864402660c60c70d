//go:build linux

package e2e

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Test images, built from scratch since no registry is reachable.
const (
	// BusyboxImage has Debian's static busybox with a symlink per applet; its command is sh.
	BusyboxImage = "weavego-e2e/busybox"
	// HTTPImage runs testsrv on :8080 and also holds busybox, so docker exec works in it.
	HTTPImage = "weavego-e2e/httpsrv"
)

// imagesDirPrefix starts the name of the directory holding the built images, under tmpRoot.
const imagesDirPrefix = "weavego-e2e-images-"

// imageSet is the pair of image tarballs, built once per test process and shared by every cluster.
type imageSet struct {
	once       sync.Once
	dir        string
	busyboxTar string
	httpTar    string
	err        error
}

// images is the process-wide build cache; TestMain removes its directory at exit.
var images imageSet

// busyboxPath finds a statically linked busybox, which is what the images need.
func busyboxPath() (string, error) {
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		static := true
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP {
				static = false
			}
		}
		f.Close()
		if static {
			return p, nil
		}
		return "", fmt.Errorf("%s is dynamically linked; install busybox-static", p)
	}
	return "", errors.New("no busybox found; install busybox-static")
}

func (s *imageSet) build() error {
	s.once.Do(func() { s.err = s.buildOnce() })
	return s.err
}

func (s *imageSet) buildOnce() error {
	start, err := procStart(os.Getpid())
	if err != nil {
		return err
	}
	// The name says which process owns the directory, so SweepStale can remove it once that process is gone.
	dir := filepath.Join(tmpRoot, fmt.Sprintf("%s%d-%s", imagesDirPrefix, os.Getpid(), start))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	s.dir = dir
	bb, err := busyboxPath()
	if err != nil {
		return err
	}
	srv := filepath.Join(dir, "httpsrv")
	if err := buildTestServer(srv); err != nil {
		return err
	}
	s.busyboxTar = filepath.Join(dir, "busybox.tar")
	if err := writeRootfs(s.busyboxTar, bb, nil); err != nil {
		return err
	}
	s.httpTar = filepath.Join(dir, "httpsrv.tar")
	return writeRootfs(s.httpTar, bb, map[string]string{"httpsrv": srv})
}

// cleanup removes the built tarballs.
func (s *imageSet) cleanup() {
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

// buildTestServer compiles e2e/testsrv statically into out.
func buildTestServer(out string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
	}
	cmd := exec.Command(goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./testsrv")
	cmd.Dir = filepath.Join(RepoRoot(), "e2e")
	cmd.Env = append(CleanEnv(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build testsrv: %w: %s", err, b)
	}
	return nil
}

// writeRootfs writes a root filesystem tarball: busybox as /bin/busybox with one symlink per applet, minimal
// /etc, and extra files (name in the root -> path on this machine).
func writeRootfs(path, busybox string, extra map[string]string) error {
	list, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return fmt.Errorf("%s --list: %w", busybox, err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	dir := func(name string, mode int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: now})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: now}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	var errs []error
	for _, d := range []string{"bin", "etc", "root", "var", "var/www", "proc", "sys", "dev", "run"} {
		errs = append(errs, dir(d, 0o755))
	}
	errs = append(errs, dir("tmp", 0o1777))
	bin, err := os.ReadFile(busybox)
	if err != nil {
		return err
	}
	errs = append(errs,
		file("bin/busybox", 0o755, bin),
		file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")),
		file("etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\n")),
		file("var/www/index.html", 0o644, []byte("weavego-e2e\n")))
	for _, applet := range strings.Fields(string(list)) {
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		errs = append(errs, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + applet, Linkname: "busybox", Mode: 0o777, ModTime: now}))
	}
	for name, src := range extra {
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		errs = append(errs, file(name, 0o755, b))
	}
	errs = append(errs, tw.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// loadImages imports the test images into the host's daemon.
func (h *Host) loadImages() error {
	if err := images.build(); err != nil {
		return fmt.Errorf("build test images: %w", err)
	}
	if _, err := h.Docker("import", "--change", `CMD ["sh"]`, "--change", "ENV PATH=/bin",
		images.busyboxTar, BusyboxImage); err != nil {
		return err
	}
	_, err := h.Docker("import", "--change", `CMD ["/httpsrv"]`, "--change", "ENV PATH=/bin",
		"--change", "EXPOSE 8080/tcp", images.httpTar, HTTPImage)
	return err
}

// Wget is the command that fetches url and prints the body, in an image or on the machine (busybox is at the
// same path). It bounds the fetch with timeout(1): Debian's busybox 1.35 wget segfaults with -T.
func Wget(url string) []string {
	return []string{"busybox", "timeout", "10", "busybox", "wget", "-qO-", url}
}

// buildUDPEcho compiles e2e/udpecho statically and returns the binary's path.
func buildUDPEcho(t *testing.T) string { return BuildProbe(t, "udpecho") }

// BuildProbe compiles the probe program e2e/<name> statically and returns the binary's path.
func BuildProbe(t *testing.T, name string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
	}
	cmd := exec.Command(goBin, "build", "-trimpath", "-o", out, "./"+name)
	cmd.Dir = filepath.Join(RepoRoot(), "e2e")
	cmd.Env = append(CleanEnv(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v: %s", name, err, b)
	}
	return out
}
