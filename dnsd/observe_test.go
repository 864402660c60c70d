package dnsd

import (
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// recordingObserver remembers the replies it is told of.
type recordingObserver struct {
	mu      sync.Mutex // guards replies
	replies []observed
}

type observed struct {
	rcode     int
	forwarded bool
}

func (o *recordingObserver) ObserveReply(rcode int, forwarded bool, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.replies = append(o.replies, observed{rcode, forwarded})
}

// TestObserverAndUpstreamErrors: every reply reaches the observer with its
// rcode and origin; failed upstream tries are counted.
func TestObserverAndUpstreamErrors(t *testing.T) {
	good := startUpstream(t, dns.RcodeSuccess)
	bad := startUpstream(t, dns.RcodeServerFailure)
	obs := &recordingObserver{}
	h := newTestHandler(t, Config{Upstreams: []string{bad.addr, good.addr}, Observer: obs})
	tests := []struct {
		name string
		want observed
	}{
		{"example.com.", observed{dns.RcodeSuccess, true}},
		{"nothere.example.", observed{dns.RcodeNameError, true}},
		{"web.weavego.local.", observed{dns.RcodeSuccess, false}},
	}
	for i, tt := range tests {
		ask(t, h, query(tt.name, dns.TypeA), false)
		obs.mu.Lock()
		got := obs.replies[i]
		obs.mu.Unlock()
		if got != tt.want {
			t.Errorf("%s: observed %+v, want %+v", tt.name, got, tt.want)
		}
	}
	if st := h.Stats(); st.UpstreamErrors != 2 {
		t.Errorf("UpstreamErrors = %d, want 2 (the SERVFAIL upstream, tried first twice)", st.UpstreamErrors)
	}
}
