package metrics

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// serveTest serves a test registry on loopback within lim until the test
// ends, and returns the address.
func serveTest(t *testing.T, lim limits) string {
	t.Helper()
	l, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- newTestMetrics().serve(ctx, l, discardLogger(), lim) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return l.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedWithin reports whether the server closes c within d.
func closedWithin(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	return err == nil || !errors.Is(err, os.ErrDeadlineExceeded)
}

// TestServeConnectionCap: connections beyond the cap are not served until
// one of those served closes.
func TestServeConnectionCap(t *testing.T) {
	long := 10 * time.Second
	addr := serveTest(t, limits{conns: 2, readHeader: long, read: long, write: long, idle: long})
	held := []net.Conn{dial(t, addr), dial(t, addr)} // silent: each holds a slot
	scrape := func(timeout time.Duration) error {
		cl := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := cl.Get("http://" + addr + "/metrics")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := scrape(500 * time.Millisecond); err == nil {
		t.Errorf("a third connection was served while two held the cap of 2")
	}
	held[0].Close()
	if err := scrape(5 * time.Second); err != nil {
		t.Errorf("no scrape once a slot was free: %v", err)
	}
}

// TestServeTimeouts: a connection that sends half a header, and a
// keep-alive connection left idle, are closed after their timeouts.
func TestServeTimeouts(t *testing.T) {
	short, long := 300*time.Millisecond, 10*time.Second
	addr := serveTest(t, limits{conns: 4, readHeader: short, read: long, write: long, idle: short})
	slow := dial(t, addr)
	if _, err := io.WriteString(slow, "GET /metrics HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	if !closedWithin(slow, 3*time.Second) {
		t.Errorf("a connection with half a header is still open after 3 s (header timeout %v)", short)
	}
	idle := dial(t, addr)
	if _, err := io.WriteString(idle, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(idle), nil)
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp); resp.StatusCode != http.StatusOK || body == "" {
		t.Fatalf("scrape: %s", resp.Status)
	}
	if !closedWithin(idle, 3*time.Second) {
		t.Errorf("an idle keep-alive connection is still open after 3 s (idle timeout %v)", short)
	}
}
