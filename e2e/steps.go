//go:build linux

package e2e

import "testing"

// Every scenario has the same shape: a test function builds the cluster and a fixture (the state its steps
// share), then runs a table of steps, each a method of the fixture. A new scenario step is one method and one row.

// step is one row of a scenario's table: the subtest's name and the fixture method that runs it.
type step struct {
	name string
	run  func(*testing.T)
}

// runSteps runs steps in order, each as a subtest of t. When a step named in needed fails the scenario ends
// there: the steps after it depend on what it sets up.
func runSteps(t *testing.T, steps []step, needed ...string) {
	t.Helper()
	for _, st := range steps {
		if t.Run(st.name, st.run) {
			continue
		}
		for _, n := range needed {
			if n == st.name {
				t.Fatalf("%s failed: the steps after it need it", st.name)
			}
		}
	}
}
