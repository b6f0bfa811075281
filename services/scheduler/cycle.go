package scheduler

import (
	"fmt"
	"sort"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/services/runner"
)

// cycle is one Decide pass: the buffers it reuses from pod to pod (nothing
// is allocated per node), where the next scan starts, and the undo log of
// what the pass changed in the index (pods placed, reservations, victims
// marked deleting), replayed backwards when the pass ends.
type cycle struct {
	s      *Service
	now    time.Time
	ready  int // ready nodes
	offset int // where the next scan starts

	undo    []undoOp
	pods    []*PodInfo
	noms    []*PodInfo
	reasons []reasonCount
	failed  []int // by node position: the index in filters of the filter that refused it, -1 feasible
	filters []Filter
	scorers []weighted
	scores  []events.Score // the node being scored
	best    []events.Score // the best node so far

	cands, leaving, victims, bestVictims []*PodInfo

	// shared holds, by template, the prepared view the template's pending
	// pods share in this pass; left counts the template's pods not yet
	// decided, so a view is dropped (and no longer kept up to date) once
	// its last pod is done.
	shared map[string]*sharedPrep
	left   map[string]int
	fresh  bool // tests: no sharing
}

// sharedPrep is one template's prepared view, and the pod it was worked
// out for (whose selectors stand for every pod of the template).
type sharedPrep struct {
	rep  *PodInfo
	prep *prepared
}

type undoKind uint8

const (
	undoPlace undoKind = iota
	undoUnplace
	undoDeleting
)

type undoOp struct {
	kind     undoKind
	pod      *PodInfo
	node     *NodeState
	deleting bool
}

type reasonCount struct {
	reason string
	n      int
}

func (cy *cycle) begin(s *Service, now time.Time) {
	cy.s, cy.now = s, now
	cy.ready = 0
	for _, n := range s.order {
		n.Ready = n.ready(now)
		if n.Ready {
			cy.ready++
		}
	}
	cy.offset = 0
	if len(s.order) > 0 {
		cy.offset = int(s.bindings % uint64(len(s.order)))
	}
	cy.undo = cy.undo[:0]
	if cy.shared == nil {
		cy.shared, cy.left = map[string]*sharedPrep{}, map[string]int{}
	}
	if cap(cy.failed) < len(s.order) {
		cy.failed = make([]int, len(s.order))
	}
	cy.failed = cy.failed[:len(s.order)]
}

// end takes back everything the pass changed in the index.
func (cy *cycle) end() {
	for i := len(cy.undo) - 1; i >= 0; i-- {
		u := cy.undo[i]
		switch u.kind {
		case undoPlace:
			cy.s.unbind(u.pod)
		case undoUnplace:
			cy.s.bind(u.pod, u.node)
		case undoDeleting:
			cy.s.setDeleting(u.pod, u.deleting)
		}
		cy.undo[i] = undoOp{}
	}
	cy.undo = cy.undo[:0]
	clear(cy.pods)
	clear(cy.noms)
	clear(cy.shared)
	clear(cy.left)
}

// place counts a pod on a node for the rest of the pass.
func (cy *cycle) place(pi *PodInfo, n *NodeState) {
	cy.s.bind(pi, n)
	cy.undo = append(cy.undo, undoOp{kind: undoPlace, pod: pi})
	for _, sp := range cy.shared {
		sp.rep.count(sp.prep, n, pi, 1)
	}
}

// unplace takes a pod off its node for the rest of the pass.
func (cy *cycle) unplace(pi *PodInfo) {
	n := pi.node
	for _, sp := range cy.shared {
		sp.rep.count(sp.prep, n, pi, -1)
	}
	cy.s.unbind(pi)
	cy.undo = append(cy.undo, undoOp{kind: undoUnplace, pod: pi, node: n})
}

// markDeleting counts a victim as on its way out. It no longer counts
// toward spread, which the shared views cannot tell pod by pod: they are
// worked out afresh.
func (cy *cycle) markDeleting(pi *PodInfo) {
	cy.undo = append(cy.undo, undoOp{kind: undoDeleting, pod: pi, deleting: pi.deleting})
	cy.s.setDeleting(pi, true)
	clear(cy.shared)
}

// pendingOrder is the pending pods, highest priority first, then in the
// order they were planned.
func (cy *cycle) pendingOrder() []*PodInfo {
	cy.pods = cy.pods[:0]
	for _, pi := range cy.s.pending {
		cy.pods = append(cy.pods, pi)
	}
	sortPods(cy.pods)
	for _, pi := range cy.pods {
		if pi.template != "" {
			cy.left[pi.template]++
		}
	}
	return cy.pods
}

// nominatedOrder is the pending pods that preempted others, in the same
// order.
func (cy *cycle) nominatedOrder() []*PodInfo {
	cy.noms = cy.noms[:0]
	for key := range cy.s.nominated {
		if pi := cy.s.pending[key]; pi != nil {
			cy.noms = append(cy.noms, pi)
		}
	}
	sortPods(cy.noms)
	return cy.noms
}

func sortPods(ps []*PodInfo) {
	sort.Slice(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.priority != b.priority {
			return a.priority > b.priority
		}
		if a.seq != b.seq {
			return a.seq < b.seq
		}
		return a.key < b.key
	})
}

// reserve counts a nominated pod on the node it preempted pods on.
func (cy *cycle) reserve(pi *PodInfo) {
	n := cy.s.nodes[cy.s.nominated[pi.key]]
	if n == nil || !n.known || pi.node != nil {
		return
	}
	cy.place(pi, n)
}

// decide places one pod, or says why it cannot be placed, or preempts.
func (cy *cycle) decide(pi *PodInfo, out []runner.Decision) []runner.Decision {
	s := cy.s
	s.examined++
	cy.prepare(pi)
	best, feasible := cy.scan(pi)
	if best != nil {
		names := make([]string, len(cy.filters))
		for i, f := range cy.filters {
			names[i] = f.Name()
		}
		scores := append([]events.Score(nil), cy.best...)
		cy.place(pi, best)
		delete(s.tried, pi.uid)
		return append(out, s.binding(pi, best, names, scores, feasible))
	}

	// Fits nowhere: every node was checked, so the reasons are complete.
	tried := attempt{gen: s.gen, boundGen: s.boundGen, ready: cy.ready}
	if node, ok := s.nominated[pi.key]; ok && cy.waiting(pi, node) {
		// Its victims are still stopping: wait for them, holding the room.
		cy.reserve(pi)
		tried.msg = pi.pod.Unschedulable
		s.tried[pi.uid] = tried
		return out
	}
	reasons := cy.reasonMap()
	if n, victims := cy.preempt(pi); n != nil {
		return cy.evict(pi, n, victims, reasons, tried, out)
	}
	msg := Unschedulable(len(s.order), reasons)
	tried.msg = msg
	s.tried[pi.uid] = tried
	if msg == pi.pod.Unschedulable {
		return out // said already; examined again when something changes
	}
	return append(out, unschedulable(pi.pod, msg, reasons, ""))
}

// prepare picks the filters and scorers that apply to the pod and works out
// what they need of the whole cluster.
func (cy *cycle) prepare(pi *PodInfo) {
	s := cy.s
	pi.prep = &pi.own
	needs := pi.needsPrepare(s.antiPods)
	if needs && pi.template != "" && !cy.fresh {
		// The pods of one template see the cluster the same way: the first
		// works out the view, the others share it (kept up to date by
		// place and unplace) until the template's last pod is decided.
		if cy.left[pi.template]--; cy.left[pi.template] <= 0 {
			defer delete(cy.shared, pi.template)
		}
		if sp := cy.shared[pi.template]; sp != nil {
			pi.prep = sp.prep
			pi.prep.refresh()
			needs = false
		} else if cy.left[pi.template] > 0 {
			pi.prep = new(prepared)
			defer func() { cy.shared[pi.template] = &sharedPrep{rep: pi, prep: pi.prep} }()
		}
	}
	pi.prep.owned = s.byOwner[pi.owner]
	if needs {
		groups := s.groups
		if cy.fresh {
			groups = nil // tests: the walk over every bound pod, the reference
		}
		pi.prepare(s.order, groups, s.antiPods, s.softTainted > 0)
	} else if pi.prep == &pi.own {
		pr := &pi.own
		pr.anti, pr.sym, pr.antiSoft = pr.anti[:0], pr.sym[:0], pr.antiSoft[:0]
		pr.spreadHard, pr.spreadSoft = pr.spreadHard[:0], pr.spreadSoft[:0]
		pr.softTaints = s.softTainted > 0
	}
	cy.filters = cy.filters[:0]
	for _, f := range s.filters {
		if f.Relevant(pi) {
			cy.filters = append(cy.filters, f)
		}
	}
	cy.scorers = cy.scorers[:0]
	cy.scores = cy.scores[:0]
	for _, w := range s.scorers {
		if w.Relevant(pi) {
			cy.scorers = append(cy.scorers, w)
			cy.scores = append(cy.scores, events.Score{Name: w.Name()})
		}
	}
	cy.best = append(cy.best[:0], cy.scores...)
}

// scan filters the nodes from the rotating start until it has found enough
// feasible ones, scoring each as it goes, and returns the best. Ties go to
// the first found.
func (cy *cycle) scan(pi *PodInfo) (best *NodeState, feasible int) {
	nodes := cy.s.order
	total := len(nodes)
	want := cy.s.numFeasibleToFind(total)
	start := 0
	if want < total {
		start = cy.offset
	}
	cy.reasons = cy.reasons[:0]
	var bestTotal int64 = -1
	processed := 0
	for i := 0; i < total; i++ {
		j := start + i
		if j >= total {
			j -= total
		}
		n := nodes[j]
		processed++
		if fi, reason := cy.filter(pi, n); fi >= 0 {
			cy.failed[j] = fi
			cy.count(reason)
			continue
		}
		cy.failed[j] = -1
		feasible++
		var sum int64
		for k, w := range cy.scorers {
			v := w.Score(pi, n)
			cy.scores[k].Score = v
			sum += v * w.weight
		}
		if sum > bestTotal {
			best, bestTotal = n, sum
			copy(cy.best, cy.scores)
		}
		if feasible >= want {
			break
		}
	}
	if want < total {
		cy.offset = (start + processed) % total
	}
	return best, feasible
}

// filter runs the pod's filters on a node and returns the index of the
// first that refuses it, with its reason, or -1.
func (cy *cycle) filter(pi *PodInfo, n *NodeState) (int, string) {
	for i, f := range cy.filters {
		if r := f.Filter(pi, n); r != "" {
			return i, r
		}
	}
	return -1, ""
}

func (cy *cycle) count(reason string) {
	for i := range cy.reasons {
		if cy.reasons[i].reason == reason {
			cy.reasons[i].n++
			return
		}
	}
	cy.reasons = append(cy.reasons, reasonCount{reason: reason, n: 1})
}

func (cy *cycle) reasonMap() map[string]int {
	m := make(map[string]int, len(cy.reasons))
	for _, r := range cy.reasons {
		m[r.reason] = r.n
	}
	return m
}

// waiting reports a pod that preempted pods on node, which is still usable
// and still holds pods on their way out.
func (cy *cycle) waiting(pi *PodInfo, node string) bool {
	n := cy.s.nodes[node]
	if n == nil || !n.known || !n.Ready || n.Unschedulable {
		return false
	}
	for _, q := range n.bound {
		if q.deleting {
			return true
		}
	}
	return false
}

// evict is the preemption batch: the victims' deletions and the pod's
// "preempting" verdict, stored together or not at all. The pod binds on a
// later pass, once its node has removed the victims (see preempt.go).
func (cy *cycle) evict(pi *PodInfo, n *NodeState, victims []*PodInfo, reasons map[string]int, tried attempt, out []runner.Decision) []runner.Decision {
	p := pi.pod
	atomic := fmt.Sprintf("preempt/%s/%d", p.UID, p.Epoch+1)
	for _, v := range victims {
		out = append(out, eviction(pi, v, atomic))
		cy.markDeleting(v)
	}
	msg := fmt.Sprintf("preempting %d pod(s) on node %s", len(victims), n.Name)
	out = append(out, unschedulable(p, msg, reasons, atomic))
	tried.msg = msg
	cy.s.tried[pi.uid] = tried
	cy.place(pi, n) // holds the room against the pods after it in this pass
	return out
}
