package reconcile

import "time"

// rejoinGrace bounds how long a restarted plugin (docker plugin disable and
// enable, upgrade, make install over an older copy) leaves the kernel's
// remote entries and VXLAN allowlist as its previous run left them while it
// rejoins the cluster. Without it the first reconcile after a restart, which
// runs before any peer is alive again, would withdraw every remote endpoint
// and drop the other hosts' VXLAN traffic until they are.
const rejoinGrace = 15 * time.Second

// holdRemotes reports whether reconcileKernel should leave remote entries
// and the allowlist alone: this run has not yet seen alive every owner of a
// remote entry it restored, and rejoinGrace has not passed since it started.
// Once it returns false it keeps doing so.
func (a *Agent) holdRemotes() bool {
	if a.rejoined.Load() {
		return false
	}
	me := a.rep.LocalName()
	waiting := ""
	for _, kind := range []string{KindEndpoint, KindHostNet} {
		for _, e := range a.rep.List(kind) {
			if e.Owner != me && !e.Deleted && !a.rep.Alive(e.Owner) {
				waiting = e.Owner
				break
			}
		}
	}
	if waiting != "" && time.Since(a.started) < rejoinGrace {
		return true
	}
	a.rejoined.Store(true)
	if waiting != "" {
		a.log.Info("rejoin grace over: withdrawing entries of hosts that are not back", "host", waiting)
	}
	return false
}
