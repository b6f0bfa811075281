package scheduler

import (
	"sort"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/projections"
)

// Apply implements runner.Service: fold the record into the shared cluster
// view, then bring the scheduler's own index up to date for what it touched
// (the fold names it in Dirty). Pure: no clock, no I/O.
func (s *Service) Apply(r events.Record) {
	if r.Seq <= s.c.Applied[r.Stream] {
		return
	}
	s.c.Apply(r)
	switch e := r.Event.(type) {
	case *events.PodBound:
		s.bindings++
	case *events.VolumeDecided:
		s.gen++ // a claim bound: its pods may fit now
	case *events.AdmissionAccepted:
		if storageKind(e.Kind) {
			s.gen++ // a claim made or gone
		}
	case *events.WorkloadDecided:
		if storageKind(e.Kind) {
			s.gen++
		}
	case *events.PodDeleted:
		// An eviction names the pod that preempted it; that pod holds the
		// room on this node until it binds.
		if e.PreemptedBy != "" && e.Node != "" {
			s.nominated[e.PreemptedBy] = e.Node
		}
	}
	for key := range s.c.Dirty.Pods {
		s.syncPod(key)
	}
	for name := range s.c.Dirty.Nodes {
		s.syncNode(name)
	}
	s.c.ClearDirty()
}

// syncPod reconciles the index with the fold's pod: pending, counted on a
// node (bound and not terminal, deleting included), or nothing.
func (s *Service) syncPod(key string) {
	p := s.c.Pods[key]
	pi := s.infos[key]
	if pi != nil && (p == nil || p.UID != pi.uid || p.Terminal()) {
		s.drop(pi)
		pi = nil
	}
	if p == nil || p.Terminal() {
		return
	}
	if pi == nil {
		pi = newPodInfo(p, s.rules)
		s.infos[key] = pi
	}
	pi.pod = p
	if p.Node == "" {
		if n, ok := s.assumed[key]; ok && pi.node == n {
			return // bound by this scheduler, not read back yet
		}
		s.pending[key] = pi
		return
	}
	delete(s.assumed, key) // read back (or bound by another)
	if pi.node == nil || pi.node.Name != p.Node {
		if pi.node != nil {
			s.unbind(pi)
			s.gen++
		}
		pi.deleting = p.Deleting
		s.countOn(pi, s.nodeState(p.Node))
	}
	if pi.deleting != p.Deleting {
		s.setDeleting(pi, p.Deleting) // no longer counts toward topology spread
		s.gen++
	}
}

// countOn takes a pod out of pending and counts it on n: bound, or assumed
// bound (see Assume).
func (s *Service) countOn(pi *PodInfo, n *NodeState) {
	delete(s.pending, pi.key)
	delete(s.tried, pi.uid)
	s.unnominate(pi.key)
	s.bind(pi, n)
	s.boundGen++
}

// drop forgets a pod: gone, ended, or replaced by a new incarnation.
func (s *Service) drop(pi *PodInfo) {
	if pi.node != nil {
		s.unbind(pi)
		s.gen++
	}
	delete(s.infos, pi.key)
	delete(s.pending, pi.key)
	delete(s.assumed, pi.key)
	delete(s.tried, pi.uid)
	s.unnominate(pi.key)
}

func (s *Service) unnominate(key string) {
	if _, ok := s.nominated[key]; ok {
		delete(s.nominated, key)
		s.gen++ // the room it held is free for others
	}
}

// bind counts a pod on a node.
func (s *Service) bind(pi *PodInfo, n *NodeState) {
	n.add(pi)
	s.claimNodes.add(pi, n, 1)
	s.groupAdd(pi, n, 1)
	s.priorities[pi.priority]++
	if pi.owner != "" {
		m := s.byOwner[pi.owner]
		if m == nil {
			m = map[*NodeState]int{}
			s.byOwner[pi.owner] = m
		}
		m[n]++
	}
	if len(pi.antiRequired) > 0 {
		pi.antiSlot = len(s.antiPods)
		s.antiPods = append(s.antiPods, pi)
	}
}

// unbind takes back what bind counted.
func (s *Service) unbind(pi *PodInfo) {
	if pi.antiSlot >= 0 {
		last := s.antiPods[len(s.antiPods)-1]
		s.antiPods[pi.antiSlot] = last
		last.antiSlot = pi.antiSlot
		s.antiPods[len(s.antiPods)-1] = nil
		s.antiPods = s.antiPods[:len(s.antiPods)-1]
		pi.antiSlot = -1
	}
	if s.priorities[pi.priority]--; s.priorities[pi.priority] <= 0 {
		delete(s.priorities, pi.priority)
	}
	if m := s.byOwner[pi.owner]; m != nil {
		if m[pi.node]--; m[pi.node] <= 0 {
			delete(m, pi.node)
		}
		if len(m) == 0 {
			delete(s.byOwner, pi.owner)
		}
	}
	s.groupAdd(pi, pi.node, -1)
	s.claimNodes.add(pi, pi.node, -1)
	pi.node.remove(pi)
}

// syncNode reconciles the index with the fold's node.
func (s *Service) syncNode(name string) {
	fn := s.c.Nodes[name]
	if fn == nil {
		return
	}
	n := s.nodeState(name)
	changed := false
	if !n.known {
		n.known = true
		s.orderDirty = true
		changed = true
	}
	if !sameInfo(n.info, fn.Info) || n.view.Name == "" {
		if len(n.softTaints) > 0 {
			s.softTainted--
		}
		info := fn.Info
		info.Name = name
		n.setInfo(info)
		if len(n.softTaints) > 0 {
			s.softTainted++
		}
		changed = true
	}
	if n.Unschedulable != fn.Unschedulable {
		n.Unschedulable = fn.Unschedulable
		changed = true
	}
	if fn.State != n.state {
		if fn.State != nil && fn.State.Ready && (n.state == nil || !n.state.Ready) {
			changed = true // decided Ready (again): pods waiting for a node may fit
		}
		n.state = fn.State
	}
	if fn.LastHeartbeat.After(n.lastHeartbeat) {
		if n.state == nil && fn.LastHeartbeat.Sub(n.lastHeartbeat) >= projections.NodeLostAfter {
			changed = true // never decided: first heard from, or back after a silence
		}
		n.lastHeartbeat = fn.LastHeartbeat
	}
	if changed {
		s.gen++
	}
}

func (s *Service) nodeState(name string) *NodeState {
	n := s.nodes[name]
	if n == nil {
		n = newNodeState(name)
		s.nodes[name] = n
	}
	return n
}

func (s *Service) sortOrder() {
	s.order = s.order[:0]
	for _, n := range s.nodes {
		if n.known {
			s.order = append(s.order, n)
		}
	}
	sort.Slice(s.order, func(i, j int) bool { return s.order[i].Name < s.order[j].Name })
	for i, n := range s.order {
		n.idx = i
	}
	s.orderDirty = false
}
