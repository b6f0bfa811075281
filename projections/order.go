package projections

import "sort"

// sortPods orders pods by the sequence that planned them, then by name, so
// every reader sees the same order.
func sortPods(ps []*Pod) {
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].PlannedSeq != ps[j].PlannedSeq {
			return ps[i].PlannedSeq < ps[j].PlannedSeq
		}
		return ps[i].Name < ps[j].Name
	})
}

// SortedPods returns every pod in a stable order.
func (c *Cluster) SortedPods() []*Pod {
	out := make([]*Pod, 0, len(c.Pods))
	for _, p := range c.Pods {
		out = append(out, p)
	}
	sortPods(out)
	return out
}

// SortedNodes returns every node by name.
func (c *Cluster) SortedNodes() []*Node {
	out := make([]*Node, 0, len(c.Nodes))
	for _, n := range c.Nodes {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Info.Name < out[j].Info.Name })
	return out
}

// SortedWorkloads returns every workload by key.
func (c *Cluster) SortedWorkloads() []*Workload {
	keys := make([]string, 0, len(c.Workloads))
	for k := range c.Workloads {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]*Workload, len(keys))
	for i, k := range keys {
		out[i] = c.Workloads[k]
	}
	return out
}
