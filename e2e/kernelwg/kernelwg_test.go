package kernelwg

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestKernelWireGuard boots Debian's kernel (WEAVEGO_KERNELWG: the tree
// scripts/kernelwg extracts its package into) under qemu; ./guest, its
// /init, configures kernel WireGuard between two namespaces with the
// tunnel package and sends datagrams through it. Run by `make kernel-wg`.
func TestKernelWireGuard(t *testing.T) {
	root := os.Getenv("WEAVEGO_KERNELWG")
	if root == "" {
		t.Skip("WEAVEGO_KERNELWG is not set: make kernel-wg runs this test")
	}
	kernels, _ := filepath.Glob(filepath.Join(root, "boot", "vmlinuz-*"))
	if len(kernels) != 1 {
		t.Fatalf("want one kernel under %s/boot, found %v", root, kernels)
	}
	version := strings.TrimPrefix(filepath.Base(kernels[0]), "vmlinuz-")
	initrd := filepath.Join(t.TempDir(), "initrd")
	if err := buildInitramfs(t, initrd, filepath.Join(root, "lib", "modules", version)); err != nil {
		t.Fatal(err)
	}
	// TCG, qemu's emulator, boots this kernel in a few seconds; KVM hung
	// after the kernel's decompression on the nested test machines.
	accel := cmp.Or(os.Getenv("WEAVEGO_KERNELWG_ACCEL"), "tcg")
	out, took, err := boot(kernels[0], initrd, accel)
	t.Logf("qemu (%s) ran %s:\n%s", accel, took.Round(time.Millisecond), out)
	switch {
	case strings.Contains(out, "KERNELWG PASS"):
	case strings.Contains(out, "KERNELWG FAIL"):
		t.Fatalf("the guest failed (see its console above)")
	default:
		t.Fatalf("the guest said neither PASS nor FAIL: %v", err)
	}
}

func buildInitramfs(t *testing.T, out, modDir string) error {
	init := filepath.Join(t.TempDir(), "init")
	build := exec.Command("go", "build", "-trimpath", "-o", init, "./guest")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build the guest: %w\n%s", err, b)
	}
	mods, err := modules(modDir, "wireguard", "veth")
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	c := &cpioWriter{w: &buf}
	bin, err := os.ReadFile(init)
	if err != nil {
		return err
	}
	c.File("init", 0o755, bin)
	c.Dir("modules")
	var order []string
	for i, m := range mods {
		b, err := moduleBytes(m)
		if err != nil {
			return err
		}
		name := fmt.Sprintf("/modules/%02d-%s", i, strings.TrimSuffix(filepath.Base(m), ".xz"))
		c.File(name[1:], 0o644, b)
		order = append(order, name)
	}
	t.Logf("modules, in load order: %v", order)
	c.File("modules.order", 0o644, []byte(strings.Join(order, "\n")+"\n"))
	if err := c.Close(); err != nil {
		return err
	}
	return os.WriteFile(out, buf.Bytes(), 0o644)
}

// boot runs the machine until it ends (the guest restarts it, which
// -no-reboot turns into an exit) or 5 minutes pass.
func boot(kernel, initrd, accel string) (string, time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := []string{"-accel", accel, "-nographic", "-no-reboot", "-m", "512", "-smp", "1",
		"-kernel", kernel, "-initrd", initrd, "-append", "console=ttyS0 panic=-1 quiet"}
	if accel == "kvm" {
		args = append(args, "-cpu", "host")
	}
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	return out.String(), time.Since(start), err
}
