// Command wgpeer is a WireGuard peer built by hand for the e2e tests: wireguard-go (the version weavego uses,
// over its own TUN device with the offloads wireguard-go sets up) with one peer and a tunnel address, in the
// network namespace it is started in. It prints its public key, then every second the peer's last handshake
// and bytes received, until SIGTERM. It serves as the reference tunnel of the benchmark and as the stranger
// whose key no member knows.
package main

import (
	"encoding/hex"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

func main() {
	dev := flag.String("dev", "wgpeer0", "TUN device name")
	port := flag.Int("port", 6790, "UDP listen port")
	key := flag.String("key", "", "private key (base64); empty: a new one")
	peer := flag.String("peer", "", "peer's public key (base64)")
	endpoint := flag.String("endpoint", "", "peer's address:port (empty: learn it from the peer)")
	allowed := flag.String("allowed", "0.0.0.0/0", "peer's allowed IPs, comma-separated")
	addr := flag.String("addr", "", "tunnel address with prefix, e.g. 10.99.0.1/24")
	mtu := flag.Int("mtu", 1420, "device MTU")
	flag.Parse()
	if err := run(*dev, *port, *key, *peer, *endpoint, *allowed, *addr, *mtu); err != nil {
		log.Fatal(err)
	}
}

func run(dev string, port int, key, peer, endpoint, allowed, addr string, mtu int) error {
	priv, err := wgtypes.GeneratePrivateKey()
	if key != "" {
		priv, err = wgtypes.ParseKey(key)
	}
	if err != nil {
		return err
	}
	pub, err := wgtypes.ParseKey(peer)
	if err != nil {
		return fmt.Errorf("peer key: %w", err)
	}
	td, err := tun.CreateTUN(dev, mtu)
	if err != nil {
		return err
	}
	d := device.NewDevice(td, conn.NewDefaultBind(), device.NewLogger(device.LogLevelError, "wgpeer: "))
	defer d.Close()
	cfg := fmt.Sprintf("private_key=%s\nlisten_port=%d\npublic_key=%s\n", hex.EncodeToString(priv[:]), port,
		hex.EncodeToString(pub[:]))
	if endpoint != "" {
		cfg += "endpoint=" + endpoint + "\n"
	}
	for _, a := range strings.Split(allowed, ",") {
		cfg += "allowed_ip=" + a + "\n"
	}
	if err := d.IpcSet(cfg); err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	if err := d.Up(); err != nil {
		return err
	}
	link, err := netlink.LinkByName(dev)
	if err != nil {
		return err
	}
	if addr != "" {
		a, err := netlink.ParseAddr(addr)
		if err != nil {
			return err
		}
		if err := netlink.AddrAdd(link, a); err != nil {
			return err
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return err
	}
	fmt.Printf("public %s\n", priv.PublicKey())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return nil
		case <-tick.C:
			report(d)
		}
	}
}

// report prints the peer's last handshake (unix seconds, 0: never) and the bytes received from it.
func report(d *device.Device) {
	s, err := d.IpcGet()
	if err != nil {
		return
	}
	hs, rx := "0", "0"
	for _, line := range strings.Split(s, "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "last_handshake_time_sec":
			hs = v
		case "rx_bytes":
			rx = v
		}
	}
	fmt.Printf("handshake %s rx %s\n", hs, rx)
}
