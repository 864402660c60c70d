package tunnel

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"

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
	td, err := tun.CreateTUN(name, mtu)
	if err != nil {
		return nil, fmt.Errorf("create TUN device %s: %w", name, err)
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
