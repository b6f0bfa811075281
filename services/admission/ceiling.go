package admission

import (
	"fmt"

	"github.com/gantry-sh/gantry/events/manifest"
)

// ceiling refuses a workload that asks for more pods than the cluster's
// ceiling (Service.MaxPodsPerWorkload, set by `gantry up` and `gantry
// serve --max-pods-per-workload`). A single valid manifest must not be able
// to take the control plane down: every pod costs memory in each service's
// fold and in the read models, so replicas: 1000000000 would exhaust them
// however carefully the replica service paces its plans. The reason names
// the field, the figure and the flag that raises it:
//
//	spec.replicas: 1000000000 exceeds the cluster's limit of 10000 pods per workload (gantry up --max-pods-per-workload)
//
// The replica service keeps a workload accepted before the ceiling (or
// before it was lowered) at the ceiling too.
func (s *Service) ceiling(obj manifest.Object) []string {
	limit := s.MaxPodsPerWorkload
	k := obj.Info()
	if limit <= 0 || k == nil || k.Pods == nil {
		return nil // a bare Pod is one pod; a DaemonSet one a node
	}
	if n, path := k.Pods(obj); n > limit {
		return []string{fmt.Sprintf("%s: %d exceeds the cluster's limit of %d pods per workload (gantry up --max-pods-per-workload)", path, n, limit)}
	}
	return nil
}
