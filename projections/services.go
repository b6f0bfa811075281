package projections

import (
	"sort"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

// Allocation is what a Service (Key: its workload key) holds: its virtual
// IP and node ports, as the endpoints service gave them.
type Allocation struct {
	Key       string
	ClusterIP string
	NodePorts []int32
}

// applyServiceAllocated folds an allocation or release: the Service's
// status shows it (a release clears it), and Allocations lists what is
// held, whether or not the Service is still folded (a release is what
// frees an address, not a deletion).
func (c *Cluster) applyServiceAllocated(r events.Record, e *events.ServiceAllocated) {
	c.AllocSeq = r.Seq
	key := WorkloadKey("service", e.Namespace, e.Name)
	switch {
	case e.Released:
		delete(c.allocs, e.UID)
	case e.Refused == "":
		c.allocs[e.UID] = Allocation{Key: key, ClusterIP: e.ClusterIP, NodePorts: e.NodePorts}
	}
	w := c.Workloads[key]
	if w == nil || w.UID != e.UID {
		return
	}
	if e.Released {
		w.decided.Service = nil
	} else {
		w.decided.Service = &manifest.ServiceStatus{ClusterIP: e.ClusterIP, NodePorts: e.NodePorts, Ingress: e.Ingress, Refused: e.Refused}
	}
	c.touchWorkload(w, r)
}

// Allocations is what every Service holds, by Service uid (not a copy).
func (c *Cluster) Allocations() map[string]Allocation {
	return c.allocs
}

// PodsIn lists the pods of a namespace, by name.
func (c *Cluster) PodsIn(ns string) []*Pod {
	out := make([]*Pod, 0, len(c.nsPods[ns]))
	for key := range c.nsPods[ns] {
		if p := c.Pods[key]; p != nil {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
