// Command weavego is both the plugin daemon (`weavego daemon`, the managed
// plugin's entrypoint) and the user's command line (`weavego status`), which
// talks to the daemon of its host over the loopback status API.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: weavego COMMAND

Commands:
  daemon            run the plugin (the managed plugin's entrypoint)
  status [SECTION]  show this host's peers and networks (SECTION: peers, networks, ipam, dns)
  rmpeer HOST       take over the address space of a host that is gone for good
  version           print the version

status and rmpeer talk to the plugin on http://127.0.0.1:$STATUS_PORT (default 6782).
`

// version is set at build time.
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "daemon":
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		if err := runDaemon(ctx, stderr); err != nil {
			fmt.Fprintf(stderr, "weavego: %v\n", err)
			return 1
		}
		return 0
	case "status", "rmpeer":
		if err := runClient(args, os.LookupEnv, stdout); err != nil {
			fmt.Fprintf(stderr, "weavego %s: %v\n", args[0], err)
			return 1
		}
		return 0
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
