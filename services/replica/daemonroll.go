package replica

import (
	"github.com/gantry-sh/gantry/projections"
)

// rollNode is a node that should run the daemon pod, as a rolling update
// sees it after the node's own decisions in this pass: its kept pod of the
// current template (cur) and of an older one (old); busy when a pod of it
// was deleted in this pass, empty when it has no pod running or planned
// before this pass (none, or only one stopping).
type rollNode struct {
	name        string
	pods        []*projections.Pod
	cur, old    *projections.Pod
	busy, empty bool
}

// roll replaces the pods of older templates node by node, as Kubernetes'
// DaemonSet controller's rollingUpdate does, with maxSurge and
// maxUnavailable resolved against the nodes that should run the pod (both
// rounded up: manifest.DaemonSetSpec.RollingBounds). A pod is available
// when it is Ready (DaemonSets' minReadySeconds is not supported yet).
// A node that keeps its pod without being one that should run it (a new
// NoSchedule taint the pod does not tolerate) keeps its old pod: a new one
// could not land there.
//
// maxSurge 0: a node is unavailable when it has no pod (or only a
// stopping one), a pod of it was deleted in this pass, or its current pod
// is not Ready. An old pod that is not Ready is deleted at once; of the
// Ready old pods, at most maxUnavailable − unavailable are deleted, in
// node order; each node gets its new pod once the old one is gone.
//
// Worked numbers: 5 nodes, maxUnavailable 1, all old and Ready → n1's
// pod deleted; next pass n1 has none (unavailable 1) → nothing more, then
// its new pod planned; once that pod is Ready, n2's is deleted, and so on.
// 10 nodes at maxUnavailable 25 % → ⌈2.5⌉ = 3 deleted at a time; with n4's
// old pod not Ready, it goes too, and counts in none of the 3.
//
// maxSurge > 0 (maxUnavailable 0): a new pod is planned beside an old
// Ready one on at most maxSurge − surging nodes, a node surging while its
// new pod is not Ready; beside an old pod that is not Ready at once. The
// old pod is deleted (node) once the new one is Ready, or at once if it is
// not Ready itself. Worked numbers: 4 nodes at maxSurge 1 → n1 gets a
// second pod; once Ready, n1's old pod goes and n2 gets its new one.
func (d *daemon) roll(nodes int32) {
	maxSurge, maxUnavailable := d.spec.RollingBounds(nodes)
	var allowed, candidates []rollNode
	busy := 0 // unavailable nodes (maxSurge 0) or surging ones
	for _, r := range d.rollNodes {
		if d.surging {
			switch {
			case r.busy:
				if r.cur == nil || !r.cur.Ready() {
					busy++
				}
			case r.cur != nil && r.old != nil:
				busy++
			case r.old != nil && !r.old.Ready():
				allowed = append(allowed, r)
			case r.old != nil:
				candidates = append(candidates, r)
			}
			continue
		}
		switch {
		case r.busy || r.empty || r.cur != nil && !r.cur.Ready():
			busy++
		case r.old != nil && !r.old.Ready():
			allowed = append(allowed, r)
		case r.old != nil:
			candidates = append(candidates, r)
		}
	}
	bound := maxUnavailable
	if d.surging {
		bound = maxSurge
	}
	remaining := min(max(0, int(bound)-busy), len(candidates))
	for _, r := range append(allowed, candidates[:remaining]...) {
		if len(d.out) >= d.limit {
			return
		}
		if !d.surging {
			d.out = append(d.out, deletion(r.old, "rolling update: template "+d.hash+" replaces it", d.cause))
			continue
		}
		if p, ok := d.plan(r.name, r.pods); ok {
			if why := d.s.quotaPod(p); why != "" {
				d.refused = why
			} else {
				d.out = append(d.out, p)
			}
		}
	}
}
