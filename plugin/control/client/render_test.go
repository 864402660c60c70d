package client

import (
	"bytes"
	"strings"
	"testing"

	"github.com/weavego/weavego/plugin/status"
)

func TestRenderProblems(t *testing.T) {
	var b bytes.Buffer
	renderProblems(&b, status.Report{})
	if !strings.Contains(b.String(), "no problems found") {
		t.Errorf("healthy: %q", b.String())
	}
	b.Reset()
	renderProblems(&b, status.Report{Problems: []status.Problem{{What: "peer h2 is unreachable", Fix: "weavego rmpeer h2"}}})
	if !strings.Contains(b.String(), "1 PROBLEM(S):\n- peer h2 is unreachable\n  fix: weavego rmpeer h2") {
		t.Errorf("one problem: %q", b.String())
	}
}
