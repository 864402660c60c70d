package reconcile

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/weavego/weavego/internal/dockerapi"
)

// inspector is a Docker that answers container inspections from a table
// and counts them.
type inspector struct {
	Docker
	aliases map[string][]string // by container ID
	fail    bool
	calls   int
}

func (d *inspector) Container(_ context.Context, id string) (dockerapi.Container, error) {
	d.calls++
	if d.fail {
		return dockerapi.Container{}, errors.New("daemon busy")
	}
	return dockerapi.Container{ID: id, Networks: map[string]dockerapi.ContainerNet{
		"n1": {NetworkID: "n1", Aliases: d.aliases[id]},
	}}, nil
}

func TestAliasCache(t *testing.T) {
	d := &inspector{aliases: map[string][]string{"c1": {"web"}, "c2": {"db"}}}
	var cache aliasCache
	type ask struct {
		cid string
		att dockerapi.Attachment
	}
	web := ask{"c1", dockerapi.Attachment{EndpointID: "e1", Name: "svc1"}}
	db := ask{"c2", dockerapi.Attachment{EndpointID: "e2", Name: "svc2"}}
	run := func(asks ...ask) [][]string {
		p := cache.pass()
		var out [][]string
		for _, a := range asks {
			out = append(out, p.aliases(context.Background(), d, a.cid, "n1", a.att))
		}
		p.done()
		return out
	}
	steps := []struct {
		name      string
		fail      bool
		asks      []ask
		want      [][]string
		wantCalls int
	}{
		{"first pass inspects each container", false, []ask{web, db}, [][]string{{"web"}, {"db"}}, 2},
		{"second pass inspects none", false, []ask{web, db}, [][]string{{"web"}, {"db"}}, 0},
		{"a renamed container is inspected again", false, []ask{{"c1", dockerapi.Attachment{EndpointID: "e1", Name: "svc1b"}}, db}, [][]string{{"web"}, {"db"}}, 1},
		{"a reconnected container is inspected again", false, []ask{{"c2", dockerapi.Attachment{EndpointID: "e3", Name: "svc2"}}}, [][]string{{"db"}}, 1},
		{"entries of a pass that did not ask are dropped", false, []ask{web}, [][]string{{"web"}}, 1},
		{"a failed inspection is not cached", true, []ask{db}, [][]string{nil}, 1},
		{"and is asked again", false, []ask{db}, [][]string{{"db"}}, 1},
	}
	for _, s := range steps {
		d.calls, d.fail = 0, s.fail
		got := run(s.asks...)
		if !slices.EqualFunc(got, s.want, slices.Equal) || d.calls != s.wantCalls {
			t.Errorf("%s: aliases %v with %d inspections, want %v with %d", s.name, got, d.calls, s.want, s.wantCalls)
		}
	}
}
