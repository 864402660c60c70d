// Command weavego is both the plugin daemon (`weavego daemon`, the managed
// plugin's entrypoint) and the user's command line (`weavego status`), which
// talks to the daemon of its host over the control socket.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/weavego/weavego/plugin/control/client"
)

const usage = `usage: weavego [--socket PATH] COMMAND

Commands:
  daemon                  run the plugin (the managed plugin's entrypoint)
  status [--json] [SECTION]
                          show this host's peers and networks
                          (SECTION: problems, peers, networks, ipam, dns, security)
  rmpeer HOST             take over the address space of a host that is gone for good
  connect HOST[:PORT]     join another host now, and after restarts (added to PEERS)
  forget HOST[:PORT]      stop joining a host added with connect (or in PEERS, until restart)
  token                   print this host's cluster key, to give other hosts as KEY=...
  key list                list the cluster keys of this host, the primary first
  key install [KEY]       add a key (rotation step 1, on every host); with no
                          plugin running, save it for the plugin's next start
  key use [KEY]           send with an installed key (step 2, on every host)
  key remove [KEY]        remove an old key (step 3, on every host); a setting
                          that still holds it is refused at the next start
                          Without KEY (or with -) the key is read from standard
                          input, out of the process list: weavego key install < FILE
  key generate            print a fresh random key (needs no plugin)
  key rotate-wireguard    replace this host's WireGuard key pair (encrypted
                          networks); the other hosts take the new key at once
  version                 print the version

The commands talk to the plugin over its control socket: --socket PATH, else
$WEAVEGO_SOCKET, else /var/lib/weavego/control.sock. They need root, or the
group of the CONTROL_GROUP setting; status also works for the group of the
STATUS_GROUP setting (through status.sock beside the control socket).
`

// version is set at build time.
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], process{getenv: os.LookupEnv, stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr,
		daemon: runDaemon, stopOn: func(ctx context.Context) (context.Context, context.CancelFunc) {
			return signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
		}}))
}

// process is what run takes from the operating system; tests pass their own.
type process struct {
	getenv         func(string) (string, bool)
	stdin          io.Reader // the key commands read a key from it
	stdout, stderr io.Writer
	// daemon runs the plugin until ctx ends: runDaemon.
	daemon func(ctx context.Context, getenv func(string) (string, bool), stderr io.Writer) error
	// stopOn returns the daemon's context, ended by SIGTERM or SIGINT in
	// main; nil runs the daemon until it returns.
	stopOn func(context.Context) (context.Context, context.CancelFunc)
}

// run runs the command args (os.Args without the program name) and returns
// the exit status.
func run(args []string, p process) int {
	stdout, stderr := p.stdout, p.stderr
	socket, args, err := globalFlags(args, p.getenv)
	if err != nil {
		fmt.Fprintf(stderr, "weavego: %v\n%s", err, usage)
		return 2
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "daemon":
		ctx, stop := context.WithCancel(context.Background())
		if p.stopOn != nil {
			ctx, stop = p.stopOn(ctx)
		}
		defer stop()
		return exit(stderr, "", p.daemon(ctx, p.getenv, stderr))
	case "status", "rmpeer", "token", "connect", "forget", "key":
		in := p.stdin
		if in == nil {
			in = strings.NewReader("")
		}
		return exit(stderr, args[0], client.Run(args, client.Options{Socket: socket, Version: version, In: in, Out: stdout}))
	case "version", "--version":
		fmt.Fprintln(stdout, "weavego", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "weavego: unknown command %q\n%s", args[0], usage)
	return 2
}

func exit(stderr io.Writer, cmd string, err error) int {
	if err == nil {
		return 0
	}
	if cmd != "" {
		cmd = " " + cmd
	}
	fmt.Fprintf(stderr, "weavego%s: %v\n", cmd, err)
	return 1
}

// globalFlags takes --socket PATH (or --socket=PATH) off the front of args
// and returns the control socket path: the flag, else WEAVEGO_SOCKET, else
// the default.
func globalFlags(args []string, getenv func(string) (string, bool)) (string, []string, error) {
	socket := client.DefaultSocket
	if v, ok := getenv("WEAVEGO_SOCKET"); ok && v != "" {
		socket = v
	}
	for len(args) > 0 && strings.HasPrefix(args[0], "--socket") {
		switch v, ok := strings.CutPrefix(args[0], "--socket="); {
		case ok && v != "":
			socket, args = v, args[1:]
		case args[0] == "--socket" && len(args) > 1 && args[1] != "":
			socket, args = args[1], args[2:]
		default:
			return "", nil, errors.New("--socket needs a path")
		}
	}
	return socket, args, nil
}
