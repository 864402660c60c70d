//go:build linux

package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// demo prints each command it runs and its output, shell-style, to stdout.
type demo struct {
	t *testing.T
}

func (d *demo) say(format string, args ...any) {
	fmt.Printf("\n# "+format+"\n", args...)
}

// show prints a command line (prompt, then args quoted where they need it), then the output indented.
func (d *demo) show(prompt string, args []string, out string) {
	d.showOn(prompt, args, "", out)
}

// showOn is show with a comment after the command line.
func (d *demo) showOn(prompt string, args []string, comment, out string) {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = a
		if a == "" || strings.ContainsAny(a, " \t'\"$") {
			quoted[i] = fmt.Sprintf("%q", a)
		}
	}
	fmt.Printf("$ %s%s%s\n", prompt, strings.Join(quoted, " "), comment)
	if out = strings.TrimRight(out, "\n"); out != "" {
		fmt.Println("  " + strings.ReplaceAll(out, "\n", "\n  "))
	}
}

// docker runs a docker command on h (retrying until it succeeds, for steps that wait on the cluster when
// retry is set) and prints it with its output.
func (d *demo) docker(h *Host, retry bool, args ...string) string {
	d.t.Helper()
	var out string
	var err error
	if retry {
		err = Poll(90*time.Second, func() error { out, err = h.Docker(args...); return err })
	} else {
		out, err = h.Docker(args...)
	}
	d.show("docker -H "+h.Name+" ", args, out)
	if err != nil {
		fmt.Printf("  error: %v\n", err)
		d.t.Fatalf("demo step failed: %v", err)
	}
	return strings.TrimSpace(out)
}

// weavego runs the weavego command on h and prints it with its output.
func (d *demo) weavego(h *Host, args ...string) {
	d.t.Helper()
	out, err := h.WeavegoCLI(args...)
	d.showOn("", append([]string{"weavego"}, args...), "    # on "+h.Name, out)
	if err != nil {
		d.t.Fatalf("demo step failed: %v", err)
	}
}

// TestDemo walks through the multi-host use of weavego on three hosts, printing every command and its output.
// It runs only with WEAVEGO_DEMO=1 (make demo).
func TestDemo(t *testing.T) {
	if os.Getenv("WEAVEGO_DEMO") != "1" {
		t.Skip("demo: runs only with WEAVEGO_DEMO=1 (make demo)")
	}
	RequirePlugin(t)
	wc := NewCluster(t, ClusterOptions{Hosts: 3, Mesh: 3})
	h1, h2, h3 := wc.Host(0), wc.Host(1), wc.Host(2)
	d := &demo{t: t}
	d.say("Three Docker hosts: h1 %s, h2 %s, h3 %s. Each runs the weavego plugin, with PEERS naming the other two.",
		h1.IP, h2.IP, h3.IP)
	d.docker(h1, false, "plugin", "ls")

	d.say("Create a network once, on h1.")
	d.docker(h1, false, "network", "create", "-d", Driver, "--ipam-driver", Driver, "net1")
	d.say("It appears on every host, with the same subnet.")
	for _, h := range wc.Hosts() {
		_ = Poll(90*time.Second, func() error { _, err := h.NetworkView("net1"); return err })
		d.docker(h, false, "network", "ls", "--filter", "driver="+Driver)
	}
	v, err := h1.NetworkView("net1")
	if err != nil {
		t.Fatal(err)
	}
	d.docker(h2, false, "network", "inspect", "--format", "subnet {{range .IPAM.Config}}{{.Subnet}} gateway {{.Gateway}}{{end}}", "net1")

	d.say("Run two services on h1 and one on h2.")
	svcs := []struct {
		h    *Host
		name string
	}{{h1, "svc1"}, {h1, "svc2"}, {h2, "svc3"}}
	for _, s := range svcs {
		d.docker(s.h, false, "run", "-d", "--name", s.name, "--network", "net1", "-e", "NAME="+s.name, HTTPImage)
	}
	d.say("And a client on h3, using the weavego DNS server at the network's gateway %s.", v.Gateway)
	d.docker(h3, false, "run", "-d", "--name", "client", "--network", "net1", "--dns", v.Gateway, BusyboxImage, "sleep", "3600")
	t.Cleanup(func() {
		for _, s := range svcs {
			_, _ = s.h.Docker("rm", "-f", s.name)
		}
		_, _ = h3.Docker("rm", "-f", "client")
		_, _ = h1.Docker("network", "rm", "net1")
	})

	d.say("From h3, reach each service by address...")
	for _, s := range svcs {
		ip := d.docker(s.h, false, "inspect", "--format", `{{(index .NetworkSettings.Networks "net1").IPAddress}}`, s.name)
		out := d.docker(h3, true, "exec", "client", "timeout", "10", "wget", "-qO-", "http://"+ip+":8080/")
		if !strings.Contains(out, hello(s.name, ip)) {
			t.Fatalf("%s answered %q", s.name, out)
		}
	}
	d.say("...and by name.")
	for _, s := range svcs {
		out := d.docker(h3, true, "exec", "client", "timeout", "10", "wget", "-qO-", "http://"+s.name+":8080/")
		if !strings.Contains(out, "I'm "+s.name+" service") {
			t.Fatalf("%s answered %q", s.name, out)
		}
	}

	d.say("What h1's plugin knows of the cluster:")
	d.weavego(h1, "status")

	d.say("Tear down: remove the containers, then the network on h1; it goes from every host.")
	for _, s := range svcs {
		d.docker(s.h, false, "rm", "-f", s.name)
	}
	d.docker(h3, false, "rm", "-f", "client")
	// A network in use anywhere stays: wait until h1 knows the other hosts' containers are gone.
	if err := Poll(30*time.Second, func() error { return noEndpoints(h1, "net1") }); err != nil {
		t.Error(err)
	}
	d.docker(h1, false, "network", "rm", "net1")
	for _, h := range []*Host{h2, h3} {
		if err := Poll(90*time.Second, func() error { return gone(h, "net1") }); err != nil {
			t.Errorf("net1 still on %s after removal on h1: %v", h.Name, err)
		}
		d.docker(h, false, "network", "ls", "--filter", "driver="+Driver)
	}
}
