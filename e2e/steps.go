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
	runStepsOpts(t, stepOptions{needed: needed}, steps)
}

// stepOptions says what runStepsOpts does when a step fails.
type stepOptions struct {
	needed []string // steps whose failure ends the scenario
	// onFail, when set, runs on t after a step fails and before the next one starts (to log what the step's
	// failure left behind, such as a plugin log), whether or not the step is needed.
	onFail func(t *testing.T, name string)
}

// runStepsOpts is runSteps with the options of opts.
func runStepsOpts(t *testing.T, opts stepOptions, steps []step) {
	t.Helper()
	for _, st := range steps {
		if t.Run(st.name, st.run) {
			continue
		}
		if opts.onFail != nil {
			opts.onFail(t, st.name)
		}
		for _, n := range opts.needed {
			if n == st.name {
				t.Fatalf("%s failed: the steps after it need it", st.name)
			}
		}
	}
}
