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
	c := NewCluster(t, ClusterOptions{Hosts: 3, Mesh: 3})
	s := &demoScenario{top: t, c: c, h1: c.Host(0), h2: c.Host(1), h3: c.Host(2)}
	s.svcs = []demoService{{s.h1, "svc1"}, {s.h1, "svc2"}, {s.h2, "svc3"}}
	runSteps(t, []step{
		{"Hosts", s.hosts},
		{"CreateNetwork", s.createNetwork},
		{"RunServices", s.runServices},
		{"ReachByAddressAndName", s.reach},
		{"Status", s.status},
		{"TearDown", s.tearDown},
	}, "Hosts", "CreateNetwork", "RunServices", "ReachByAddressAndName", "Status") // a demo stops at its first failure
}

// demoScenario is the fixture of TestDemo: three meshed hosts, services on h1 and h2, a client on h3. Each step
// prints what it runs through a demo bound to the step's t.
type demoScenario struct {
	top        *testing.T // the test itself, which owns the containers
	c          *Cluster
	h1, h2, h3 *Host
	svcs       []demoService
	gateway    string // net1's gateway, the client's DNS server
}

// demoService is a web server of the demo and its host.
type demoService struct {
	h    *Host
	name string
}

func (s *demoScenario) hosts(t *testing.T) {
	d := &demo{t: t}
	d.say("Three Docker hosts: h1 %s, h2 %s, h3 %s. Each runs the weavego plugin, with PEERS naming the other two.",
		s.h1.IP, s.h2.IP, s.h3.IP)
	d.docker(s.h1, false, "plugin", "ls")
}

func (s *demoScenario) createNetwork(t *testing.T) {
	d := &demo{t: t}
	d.say("Create a network once, on h1.")
	d.docker(s.h1, false, "network", "create", "-d", Driver, "--ipam-driver", Driver, "net1")
	d.say("It appears on every host, with the same subnet.")
	for _, h := range s.c.Hosts() {
		_ = Poll(90*time.Second, func() error { _, err := h.NetworkView("net1"); return err })
		d.docker(h, false, "network", "ls", "--filter", "driver="+Driver)
	}
	v, err := s.h1.NetworkView("net1")
	if err != nil {
		t.Fatal(err)
	}
	s.gateway = v.Gateway
	d.docker(s.h2, false, "network", "inspect", "--format", "subnet {{range .IPAM.Config}}{{.Subnet}} gateway {{.Gateway}}{{end}}", "net1")
}

func (s *demoScenario) runServices(t *testing.T) {
	d := &demo{t: t}
	d.say("Run two services on h1 and one on h2.")
	for _, svc := range s.svcs {
		d.docker(svc.h, false, "run", "-d", "--name", svc.name, "--network", "net1", "-e", "NAME="+svc.name, HTTPImage)
	}
	d.say("And a client on h3, using the weavego DNS server at the network's gateway %s.", s.gateway)
	d.docker(s.h3, false, "run", "-d", "--name", "client", "--network", "net1", "--dns", s.gateway, BusyboxImage, "sleep", "3600")
	s.top.Cleanup(func() {
		for _, svc := range s.svcs {
			_, _ = svc.h.Docker("rm", "-f", svc.name)
		}
		_, _ = s.h3.Docker("rm", "-f", "client")
		_, _ = s.h1.Docker("network", "rm", "net1")
	})
}

func (s *demoScenario) reach(t *testing.T) {
	d := &demo{t: t}
	d.say("From h3, reach each service by address...")
	for _, svc := range s.svcs {
		ip := d.docker(svc.h, false, "inspect", "--format", `{{(index .NetworkSettings.Networks "net1").IPAddress}}`, svc.name)
		out := d.docker(s.h3, true, "exec", "client", "timeout", "10", "wget", "-qO-", "http://"+ip+":8080/")
		if !strings.Contains(out, hello(svc.name, ip)) {
			t.Fatalf("%s answered %q", svc.name, out)
		}
	}
	d.say("...and by name.")
	for _, svc := range s.svcs {
		out := d.docker(s.h3, true, "exec", "client", "timeout", "10", "wget", "-qO-", "http://"+svc.name+":8080/")
		if !strings.Contains(out, "I'm "+svc.name+" service") {
			t.Fatalf("%s answered %q", svc.name, out)
		}
	}
}

func (s *demoScenario) status(t *testing.T) {
	d := &demo{t: t}
	d.say("What h1's plugin knows of the cluster:")
	d.weavego(s.h1, "status")
}

func (s *demoScenario) tearDown(t *testing.T) {
	d := &demo{t: t}
	d.say("Tear down: remove the containers, then the network on h1; it goes from every host.")
	for _, svc := range s.svcs {
		d.docker(svc.h, false, "rm", "-f", svc.name)
	}
	d.docker(s.h3, false, "rm", "-f", "client")
	// A network in use anywhere stays: wait until h1 knows the other hosts' containers are gone.
	if err := Poll(30*time.Second, func() error { return noEndpoints(s.h1, "net1") }); err != nil {
		t.Error(err)
	}
	d.docker(s.h1, false, "network", "rm", "net1")
	for _, h := range []*Host{s.h2, s.h3} {
		if err := Poll(90*time.Second, func() error { return gone(h, "net1") }); err != nil {
			t.Errorf("net1 still on %s after removal on h1: %v", h.Name, err)
		}
		d.docker(h, false, "network", "ls", "--filter", "driver="+Driver)
	}
}
