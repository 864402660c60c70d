//go:build linux

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// faultRow is one line of RELIABILITY.md: a fault, the bound weavego holds under it, and what one run measured.
type faultRow struct {
	Case, Bound, Measured string
	Pass                  bool
}

// faultsReportEnv makes the fault tests write their figures into RELIABILITY.md (`make faults` sets it), so
// that `make test` does not change the tree.
const faultsReportEnv = "WEAVEGO_FAULTS_REPORT"

// reliabilityFile serialises updates of RELIABILITY.md by tests of one process.
var reliabilityFile sync.Mutex

// reportFault logs a case's figure and, with WEAVEGO_FAULTS_REPORT=1, updates its row in RELIABILITY.md. Each
// test owns its rows (by Case), so a run of some fault tests leaves the others' rows as they were.
func reportFault(t *testing.T, row faultRow) {
	t.Helper()
	row.Pass = row.Pass && !t.Failed()
	t.Logf("FAULT %s | bound: %s | measured: %s | pass: %v", row.Case, row.Bound, row.Measured, row.Pass)
	if os.Getenv(faultsReportEnv) != "1" {
		return
	}
	reliabilityFile.Lock()
	defer reliabilityFile.Unlock()
	path, _ := filepath.Abs(filepath.Join("..", "RELIABILITY.md"))
	rows := readFaultRows(path)
	rows[row.Case] = row
	if err := os.WriteFile(path, []byte(faultsMarkdown(rows)), 0o644); err != nil {
		t.Errorf("faults: write %s: %v", path, err)
	}
}

// readFaultRows reads the table of an existing RELIABILITY.md.
// reportFaultStep is reportFault from a step of a scenario (the subtest t of the test top): the row passes only
// if no step of the scenario failed either.
func reportFaultStep(t, top *testing.T, row faultRow) {
	t.Helper()
	row.Pass = row.Pass && !top.Failed()
	reportFault(t, row)
}

func readFaultRows(path string) map[string]faultRow {
	rows := map[string]faultRow{}
	b, err := os.ReadFile(path)
	if err != nil {
		return rows
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, " | ")
		if len(f) != 4 || !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| Case") || strings.HasPrefix(line, "| ---") {
			continue
		}
		c := strings.TrimPrefix(f[0], "| ")
		rows[c] = faultRow{Case: c, Bound: f[1], Measured: f[2], Pass: strings.HasPrefix(f[3], "yes")}
	}
	return rows
}

func faultsMarkdown(rows map[string]faultRow) string {
	var b strings.Builder
	b.WriteString(`# Reliability

What weavego holds under faults, as the fault suite (` + "`make faults`" + `, e2e/faults_*_test.go) measures it on
real Docker daemons in network namespaces on one machine (the underlay is a bridge; faults are nftables
drops, link cuts, killed processes and damaged files). Every case asserts that nothing is lost, that no
address is given twice and that the cluster converges within the stated bound; the figure is what the
last run measured. ` + "`make test`" + ` (and CI) runs the same cases with a 5-minute soak, without writing this file.
Known limits are listed at the end.

| Case | Bound | Measured | Pass |
| --- | --- | --- | --- |
`)
	keys := make([]string, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r := rows[k]
		pass := "no"
		if r.Pass {
			pass = "yes"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.Case, r.Bound, r.Measured, pass)
	}
	fmt.Fprintf(&b, "\nLast updated %s.\n", time.Now().UTC().Format("2006-01-02"))
	b.WriteString(faultsKnownLimits)
	return b.String()
}

// faultsKnownLimits lists the known limits of the cases the suite runs.
const faultsKnownLimits = `
## Known limits

- A restart of dockerd on Docker 20.10, graceful or after a crash: 20.10 names no container in its address
  requests (they carry no option at all) and answers its API only once it has started the containers it
  restarts, so when several --restart always containers of one network start again on a host, they get back
  their addresses between them, each one of them, not necessarily its own (Docker 29 names the container: each
  gets its own). TestFaultsDockerdRestart checks two such containers on both engines, TestFaultsHostCrash one
  on 20.10 and two on 29. Give a container --ip where its address must not change.
- A host hands an address back for 15 minutes after releasing it: a container whose dockerd or host stays
  down longer comes back at another address.
- A host cut off from the others (but running) for longer than twice TOMBSTONE_TTL may bring back a
  network removed meanwhile, since it never restarts from a stale state; see mesh/doc.go.
- Encrypted networks on hosts without kernel WireGuard (as here) run wireguard-go inside the plugin: a plugin
  kill, disable/enable (` + "`docker plugin set`" + `) or upgrade stops their traffic until the plugin is back
  and has handshaken again (the rows above: a few hundred milliseconds here), where plain networks, whose
  datapath is in the kernel, lose nothing. Meanwhile their frames are dropped by the routing that sends the
  encrypted VXLAN port only into the tunnel, never sent in clear (the capture checks every case). TestFaultsEncrypted
  covers kill -9, disable/enable, a partition with its heal and a dockerd restart; a plugin upgrade
  (TestRollingUpgrade checks that an encrypted network survives one, not its gap) and a host crash are not
  measured on an encrypted network. A host's WireGuard key rotation: docs/keys.md.
`

// faultFigure formats a duration for the report.
func faultFigure(d time.Duration) string { return d.Round(10 * time.Millisecond).String() }
