//go:build linux

// Command guest is the /init of the virtual machine that TestKernelWireGuard
// boots: it loads the modules listed in /modules.order, starts two peers,
// each in its own network namespace, joins them with a veth pair and waits
// for both. Each peer brings up kernel WireGuard with weavego's tunnel
// package (Open, SetPeers: the plugin's code) and sends datagrams to the
// other's encrypted VXLAN port, which the tunnel's routing sends through
// WireGuard. It prints "KERNELWG PASS" or "KERNELWG FAIL: why" on the
// console and ends the machine.
package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The two peers: veth end, underlay address, state directory.
var peers = [2]peer{
	{name: "a", link: "va", addr: netip.MustParseAddr("192.168.77.1"), dir: "/state/a"},
	{name: "b", link: "vb", addr: netip.MustParseAddr("192.168.77.2"), dir: "/state/b"},
}

type peer struct {
	name, link, dir string
	addr            netip.Addr
}

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if len(os.Args) == 2 {
		if err := runPeer(os.Args[1], log); err != nil {
			fmt.Printf("peer %s: %v\n", os.Args[1], err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Printf("KERNELWG FAIL: %v\n", err)
	} else {
		fmt.Println("KERNELWG PASS")
	}
	unix.Sync()
	// qemu runs with -no-reboot: a restart ends it.
	_ = unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART)
}

func run() error {
	for _, m := range [][3]string{
		{"proc", "/proc", "proc"}, {"sysfs", "/sys", "sysfs"}, {"devtmpfs", "/dev", "devtmpfs"},
	} {
		if err := os.MkdirAll(m[1], 0o755); err != nil {
			return err
		}
		if err := unix.Mount(m[0], m[1], m[2], 0, ""); err != nil {
			return fmt.Errorf("mount %s: %w", m[1], err)
		}
	}
	if err := loadModules("/modules.order"); err != nil {
		return err
	}
	var cmds []*exec.Cmd
	for _, p := range peers {
		if err := os.MkdirAll(p.dir, 0o700); err != nil {
			return err
		}
		cmd := exec.Command("/init", p.name)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stdout
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNET}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start peer %s: %w", p.name, err)
		}
		cmds = append(cmds, cmd)
	}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: peers[0].link}, PeerName: peers[1].link}
	err := netlink.LinkAdd(veth)
	for i, p := range peers {
		if err != nil {
			break
		}
		var l netlink.Link
		if l, err = netlink.LinkByName(p.link); err == nil {
			err = netlink.LinkSetNsPid(l, cmds[i].Process.Pid)
		}
	}
	if err != nil {
		err = fmt.Errorf("veth pair: %w", err)
	}
	for i, cmd := range cmds {
		if werr := cmd.Wait(); werr != nil {
			err = errors.Join(err, fmt.Errorf("peer %s: %w", peers[i].name, werr))
		}
	}
	return err
}

// loadModules loads each module the file lists (one path a line,
// dependencies first); one the kernel has already is fine.
func loadModules(list string) error {
	b, err := os.ReadFile(list)
	if err != nil {
		return err
	}
	for _, path := range strings.Fields(string(b)) {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		err = unix.FinitModule(int(f.Fd()), "", 0)
		f.Close()
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("load module %s: %w", path, err)
		}
	}
	return nil
}

// waitLink waits for the veth end the parent moves into this namespace.
func waitLink(name string) (netlink.Link, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		l, err := netlink.LinkByName(name)
		if err == nil || time.Now().After(deadline) {
			return l, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
