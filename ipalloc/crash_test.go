package ipalloc

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// crashEnv names the state file of the child process of TestNoLeaseLostOnKill.
const crashEnv = "WEAVEGO_IPALLOC_CRASH_STATE"

// TestNoLeaseLostOnKill runs an allocator in a child process that makes
// 16 concurrent requests at a time and prints every address as it is
// acknowledged, kills it with SIGKILL in the middle of its commits, and
// checks that every acknowledged address is leased in the state the next
// allocator loads from the file.
func TestNoLeaseLostOnKill(t *testing.T) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(path)
		return
	}
	if testing.Short() {
		t.Skip("kills a child process; skipped with -short")
	}
	path := filepath.Join(t.TempDir(), "state.db")
	cmd := exec.Command(os.Args[0], "-test.run", "^TestNoLeaseLostOnKill$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := readAcked(t, out, 300)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // killed: the error says so
	a, err := New(Config{}, openDB(t, path), solo("h1"))
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	p := a.pools["10.9.0.0/16"]
	if p == nil {
		t.Fatal("pool 10.9.0.0/16 lost after kill")
	}
	for _, ip := range acked {
		if _, ok := p.leases[ip]; !ok {
			t.Errorf("address %s was acknowledged before the kill but is not leased after it", ip)
		}
	}
	t.Logf("%d addresses acknowledged before the kill, %d leased after it", len(acked), len(p.leases))
}

// readAcked reads acknowledged addresses from the child until it has n.
func readAcked(t *testing.T, out interface{ Read([]byte) (int, error) }, n int) []netip.Addr {
	t.Helper()
	var acked []netip.Addr
	sc := bufio.NewScanner(out)
	for len(acked) < n && sc.Scan() {
		ip, err := netip.ParseAddr(sc.Text())
		if err != nil {
			continue // the ready line, or the test framework's
		}
		acked = append(acked, ip)
	}
	if len(acked) < n {
		t.Fatalf("child acknowledged %d addresses, want %d: %v", len(acked), n, sc.Err())
	}
	return acked
}

// crashChild leases addresses, 16 requests at a time, until it is killed,
// printing each one once RequestAddress returned it.
func crashChild(path string) {
	db, err := openCrashDB(path)
	if err == nil {
		var a *Allocator
		if a, err = New(Config{}, db, solo("h1")); err == nil {
			if _, err = a.RequestPool(context.Background(), PoolRequest{Subnet: "10.9.0.0/16"}); err == nil {
				leaseForever(a)
			}
		}
	}
	fmt.Fprintln(os.Stderr, "crash child:", err)
	os.Exit(1)
}

func leaseForever(a *Allocator) {
	var mu sync.Mutex // serialises the lines on stdout
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for {
				ip, err := a.RequestAddress(context.Background(), AddressRequest{PoolID: "10.9.0.0/16"})
				if err != nil {
					fmt.Fprintln(os.Stderr, "crash child:", err)
					os.Exit(1)
				}
				mu.Lock()
				fmt.Fprintln(os.Stdout, ip.Addr())
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// openCrashDB opens the child's state file as openDB does, without a test.
func openCrashDB(path string) (*bbolt.DB, error) {
	return bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
}
