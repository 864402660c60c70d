// Command udpecho is the UDP probe of the multi-host tests, copied into test containers with docker cp since
// busybox has no UDP server. "udpecho serve ADDR" answers every datagram with "echo from $NAME: <datagram>";
// "udpecho send ADDR MESSAGE" sends MESSAGE up to three times, prints the first answer and exits 0, or exits 1
// when none comes.
package main

import (
	"fmt"
	"net"
	"os"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: udpecho serve ADDR | udpecho send ADDR MESSAGE")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2])
	case "send":
		msg := "ping"
		if len(os.Args) > 3 {
			msg = os.Args[3]
		}
		err = send(os.Args[2], msg)
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "udpecho:", err)
		os.Exit(1)
	}
}

func serve(addr string) error {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return err
	}
	name := os.Getenv("NAME")
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return err
		}
		_, _ = pc.WriteTo([]byte(fmt.Sprintf("echo from %s: %s", name, buf[:n])), from)
	}
}

func send(addr, msg string) error {
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	buf := make([]byte, 1500)
	for try := 0; try < 3; try++ {
		if _, err := conn.Write([]byte(msg)); err != nil {
			return err
		}
		_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := conn.Read(buf)
		if err == nil {
			fmt.Println(string(buf[:n]))
			return nil
		}
	}
	return fmt.Errorf("no answer from %s to 3 datagrams", addr)
}
