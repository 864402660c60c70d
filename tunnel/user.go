package tunnel

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/ipc"
	"golang.zx2c4.com/wireguard/tun"
)

// userDevice is wireguard-go running in this process over a TUN device,
// with its configuration socket where wgctrl looks for it.
type userDevice struct {
	dev  *device.Device
	uapi net.Listener
	wg   sync.WaitGroup
}

func openUserDevice(name string, mtu int, log *slog.Logger) (*userDevice, error) {
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return nil, fmt.Errorf("no TUN device: %w", err)
	}
	td, err := openTUN(name, mtu, log)
	if err != nil {
		return nil, err
	}
	logger := &device.Logger{
		Verbosef: func(string, ...any) {},
		Errorf:   func(f string, args ...any) { log.Debug("wireguard-go: " + fmt.Sprintf(f, args...)) },
	}
	u := &userDevice{dev: device.NewDevice(td, conn.NewDefaultBind(), logger)}
	f, err := ipc.UAPIOpen(name)
	if err != nil {
		u.dev.Close()
		return nil, fmt.Errorf("open WireGuard control socket of %s: %w", name, err)
	}
	if u.uapi, err = ipc.UAPIListen(name, f); err != nil {
		u.dev.Close()
		return nil, fmt.Errorf("listen on WireGuard control socket of %s: %w", name, err)
	}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		for {
			c, err := u.uapi.Accept()
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					log.Debug("WireGuard control socket", "err", err)
				}
				return
			}
			u.wg.Add(1)
			go func() { defer u.wg.Done(); u.dev.IpcHandle(c) }()
		}
	}()
	return u, nil
}

func (u *userDevice) close() {
	_ = u.uapi.Close()
	u.dev.Close()
	u.wg.Wait()
}

// openTUN opens the device with UDP tunnel segmentation where the kernel
// has it (segmentingTUN), else wireguard-go's own, which gets each VXLAN
// datagram separately.
func openTUN(name string, mtu int, log *slog.Logger) (tun.Device, error) {
	st, err := openSegmentingTUN(name)
	if err == nil {
		if err = setMTU(name, mtu); err == nil {
			log.Info("TUN device with UDP tunnel segmentation", "device", name)
			return st, nil
		}
		_ = st.Close()
		return nil, err
	}
	log.Info("TUN device without UDP tunnel segmentation: encrypted networks are slower", "device", name, "reason", err)
	td, err := tun.CreateTUN(name, mtu)
	if err != nil {
		return nil, fmt.Errorf("create TUN device %s: %w", name, err)
	}
	return td, nil
}

func setMTU(name string, mtu int) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find TUN device %s: %w", name, err)
	}
	if err := netlink.LinkSetMTU(l, mtu); err != nil {
		return fmt.Errorf("set MTU %d on %s: %w", mtu, name, err)
	}
	return nil
}
