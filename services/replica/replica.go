// Package replica decides which pods should exist, kind by kind, each in
// its own file and one line of the controllers table: a bare Pod's pod
// (pod.go), a ReplicaSet's replicas (replicaset.go), a DaemonSet's pod per
// node (daemonset.go), a StatefulSet's ordinals and claims
// (statefulset.go),
// a deleted Namespace's objects (namespace.go), and none for what was
// deleted.
package replica

import (
	"sort"
	"strings"
	"time"

	"github.com/gantry-sh/gantry/services/poddecision"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/runner"
)

// Name of the service.
const Name = "replica"

// FullEvery is how often, by default, Decide examines every workload and
// pod rather than only those that changed.
const FullEvery = 10 * time.Second

// A pass is bounded in work and memory, whatever the workloads ask for, so
// one huge object cannot take the control plane down and makes progress
// without starving the others (Kubernetes' ReplicaSet controller creates at
// most burstReplicas = 500 pods per sync, in slow-start batches of 1, 2, 4 …).
//
//   - FirstBatch: a workload's pods are planned in slow-start batches that
//     grow with what the log has confirmed: at most max(FirstBatch, pods it
//     has) per pass, so 100, 100, 200, 400, 500 … Kubernetes starts at 1
//     because each of its creations is one API call; here a pass's plans
//     are stored in atomic batches of up to 1,000 (one write), so a batch
//     the log refuses costs one round trip whether it holds 1 plan or 100,
//     and starting at 1 would cost a Deployment of 100 seven round trips
//     (B1 appends 500 of them at once; the steady benchmark one of 10 every
//     100 ms). A workload's next batch comes once the log shows its last
//     one (the assumptions below), as Kubernetes' expectations wait.
//   - BurstPerWorkload: at most this many decisions (plans and deletions)
//     for one workload in one pass.
//   - PassBudget: at most this many decisions in one pass in all (five
//     atomic batches of bus.MaxBatch). Workloads are served fewest pods
//     first, so one that arrives is planned in the first pass after it
//     arrives, however big the others are, and the big ones share what is
//     left; whatever a pass leaves out is pending for the next.
//
// Worked numbers: a Deployment of 1,000,000,000 replicas (admitted before
// a ceiling existed) beside one of 3 arriving: the next pass plans the 3
// and 100 of the big one; the big one gets 100, 200, 400, then 500 a pass
// as each comes back, and never more than 500 decisions are built for it
// at once, nor held as assumed. B1's 500 Deployments of 100 arriving at
// once are planned 50 to a pass, in 10 passes of 5,000.
const (
	FirstBatch       = 100
	BurstPerWorkload = 500
	PassBudget       = 5000
)

// Service plans and deletes pods to match accepted workloads.
type Service struct {
	c     *projections.Cluster
	quota *projections.QuotaPass // this pass's quota charges

	// FullEvery is how often Decide examines everything (default FullEvery;
	// zero or less: every time). Between full passes it examines what the
	// fold marked dirty and what is pending.
	FullEvery time.Duration
	// MaxPodsPerWorkload is the cluster's ceiling on the pods of one
	// workload (zero: none). Admission refuses a workload that asks for
	// more; a workload accepted before the ceiling was set, or lowered, is
	// kept at the ceiling here, so what the log already holds cannot fill
	// the cluster's memory either.
	MaxPodsPerWorkload int32
	// DefaultToleration is how long a pod that names none tolerates a lost
	// node (its unreachable NoExecute taint) before it is evicted (see
	// evict.go; default DefaultToleration).
	DefaultToleration time.Duration
	// lost are the nodes whose pods may be evicted, and when next (evict.go).
	lost map[string]time.Time
	// nextEviction is the earliest due of lost (NextWake).
	nextEviction time.Time
	full         runner.FullPasses // when a pass examines everything
	// pendingW and pendingP are the workload and pod keys whose last
	// examination yielded decisions. They are examined again until an
	// examination yields none: a decision that never reached the log (a
	// publish timeout) brings no record back to mark anything dirty.
	pendingW map[string]bool
	pendingP map[string]bool
	examined int // workloads examined by Decide, ever (tests)
	// assumed are the decisions of passes being stored, by MsgID (see
	// assume.go), assumedOn their MsgIDs by pod, busyW and busyP how many
	// are on their way for each workload and (stranded) pod. now is the
	// time of the last Decide.
	assumed      map[string]assumption
	assumedOn    map[string][]string
	busyW, busyP map[string]int
	now          time.Time
	// applies counts the records applied; progress is its value when a
	// Decide last saw it change, at progressAt. expired is when
	// assumptions were last checked for age.
	applies, progress   uint64
	progressAt, expired time.Time
	// orphans are the keys of the pods without a controller, by namespace;
	// sets the ReplicaSet keys by namespace; daemons the DaemonSet keys;
	// changedNodes the nodes changed since the last pass (see index).
	// claimed are the pods adopted in this pass, so two ReplicaSets do not
	// both adopt one.
	orphans, sets map[string]map[string]bool
	daemons       map[string]bool
	changedNodes  []string
	claimed       map[string]bool
	// dsMatch is, by DaemonSet key, the nodes that should run its pod, kept
	// between passes so that a node that changed is looked at alone.
	dsMatch map[string]*daemonNodes
}

// New returns a replica service over an empty fold.
func New() *Service {
	return &Service{c: projections.NewCluster(), FullEvery: FullEvery, DefaultToleration: DefaultToleration, lost: map[string]time.Time{},
		pendingW: map[string]bool{}, pendingP: map[string]bool{},
		assumed: map[string]assumption{}, assumedOn: map[string][]string{}, busyW: map[string]int{}, busyP: map[string]int{},
		orphans: map[string]map[string]bool{}, sets: map[string]map[string]bool{}, daemons: map[string]bool{},
		claimed: map[string]bool{}, dsMatch: map[string]*daemonNodes{}}
}

// Name implements runner.Service.
func (s *Service) Name() string { return Name }

// Sources implements runner.Service.
func (s *Service) Sources() []runner.Source {
	return []runner.Source{
		{Stream: events.StreamDecisions, Filters: []string{events.SubjectDecisionAll}}, // not the copies for nodes
		// Nodes' registrations: a DaemonSet runs a pod on each one that
		// matches.
		{Stream: events.StreamObservations, Filters: []string{events.SubjectObsPodAll, events.SubjectObsNodeAll}},
	}
}

// Apply implements runner.Service.
func (s *Service) Apply(r events.Record) {
	s.c.Apply(r)
	s.applies++
	s.readBack(r)
}

// controller decides for one workload of its kind: the pods (or objects)
// it should have against those it has, at most x.limit decisions.
type controller func(s *Service, w *projections.Workload, x examination) []runner.Decision

// kind is one line of the controllers table: how a kind's workloads are
// decided, and at most how many decisions one of them gets in a pass.
type kind struct {
	decide controller
	burst  int
}

// controllers maps a workload kind token to its controller. Kinds not in
// the table (Job, CronJob) are other services' business. A DaemonSet's
// burst is the whole pass: its pods are one per node, each planned once,
// so 5,000 nodes are planned in one pass (B8-ds) rather than ten.
var controllers = map[string]kind{
	"pod":         {(*Service).barePod, BurstPerWorkload},
	"replicaset":  {(*Service).replicaSet, BurstPerWorkload},
	"daemonset":   {(*Service).daemonSet, PassBudget},
	"statefulset": {(*Service).statefulSet, BurstPerWorkload},
	"namespace":   {(*Service).namespace, PassBudget},
}

// examination is what a controller is given besides the workload: how many
// decisions it may make, and, for a DaemonSet woken only by nodes that
// changed, which nodes (nil: all of them).
type examination struct {
	limit int
	nodes []string
}

// Decide implements runner.Service: for each workload that may need it,
// compare the pods it has with the pods it wants.
//
// Level-triggered, incrementally: a workload's decisions depend only on the
// workload, its pods, the tombstones of its pods, the objects it owns (a
// Deployment's ReplicaSets), the pods without a controller it may adopt (a
// ReplicaSet's) and the nodes (a DaemonSet's), and the fold names each
// change to those in Dirty. So a workload that is neither dirty nor pending
// yielded nothing when last examined and would yield nothing now, and the
// output is the one a full pass would give, in the same order (workload
// key, then pod key). The first Decide, and any Decide FullEvery after the
// last full one, examines everything anyway, to bound the cost of a change
// the fold failed to name.
//
// Worked numbers: 500 Deployments of 100 pods; one of them scaled. A full
// pass sorts 500 workload keys, walks all 50,000 pods and sorts the 100 pods
// of each of the 500; an incremental pass examines one Deployment and its
// ReplicaSet and sorts its 100 pods.
func (s *Service) Decide(now time.Time) []runner.Decision {
	s.full.Every = s.FullEvery
	full := s.full.Full(now)
	s.now = now
	s.quota = s.quotaPass()
	s.expire(now)
	s.index(full)
	wkeys, pkeys, partial := s.toExamine(full)
	s.c.ClearDirty()
	clear(s.pendingW)
	clear(s.pendingP)
	clear(s.claimed)
	// Budget the pass: workloads fewest pods first (so one that just
	// arrived goes before one that already has many), each given at most
	// its kind's burst of what is left; the decisions come out in key
	// order all the same.
	type examinee struct {
		key  string
		w    *projections.Workload
		k    kind
		held int
		ds   []runner.Decision
	}
	var ex []examinee
	for _, key := range wkeys {
		w := s.c.Workloads[key]
		if w == nil {
			continue
		}
		k, ok := controllers[w.Kind]
		if !ok {
			continue
		}
		if s.busyW[key] > 0 {
			s.pendingW[key] = true // its decisions are being stored
			continue
		}
		ex = append(ex, examinee{key: key, w: w, k: k, held: s.c.OwnedCount(w.UID)})
	}
	order := make([]int, len(ex))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return ex[order[a]].held < ex[order[b]].held })
	budget := PassBudget
	for _, i := range order {
		e := &ex[i]
		if budget == 0 {
			s.pendingW[e.key] = true // left for the next pass
			continue
		}
		s.examined++
		x := examination{limit: min(budget, e.k.burst)}
		if partial[e.key] {
			x.nodes = s.changedNodes
		}
		e.ds = e.k.decide(s, e.w, x)
		if len(e.ds) > 0 {
			s.pendingW[e.key] = true
			budget = max(0, budget-len(e.ds))
		}
	}
	var out []runner.Decision
	for _, e := range ex {
		out = append(out, e.ds...)
	}
	for _, key := range pkeys {
		if s.busyP[key] > 0 || budget == 0 {
			s.pendingP[key] = true
			continue
		}
		switch p := s.c.Pods[key]; {
		case p == nil:
		case stranded(p):
			s.pendingP[key] = true
			out = append(out, deletion(p, p.DeleteReason, events.Envelope{}))
			budget--
		case s.ownerGone(p):
			s.pendingP[key] = true
			out = append(out, deletion(p, "its owner "+p.Owner.Kind+" "+p.Owner.Name+" is gone", p.Cause()))
			budget--
		}
	}
	out = append(out, s.evictions(now, budget)...)
	for i := range out {
		out[i].Assumed = true // see assume.go
	}
	return out
}

// ownerGone reports a pod whose owner was deleted and forgotten before its
// plan was read (a plan that raced its owner's deletion): nothing else
// will delete it, as Kubernetes' garbage collector deletes what lost its
// owner.
func (s *Service) ownerGone(p *projections.Pod) bool {
	return p.Owner != nil && !p.Deleting && s.c.WorkloadGone(p.Owner.UID)
}

// stranded reports a pod deleted while unbound and then bound by a racing
// scheduler: its node must be told to stop it.
func stranded(p *projections.Pod) bool {
	return p.Deleting && p.Node != "" && p.DeletedOnNode < p.Epoch
}

// orphan reports a pod no controller owns: one released (Owner nil), or a
// bare Pod's own pod. A ReplicaSet whose selector matches it adopts it.
func orphan(p *projections.Pod) bool {
	return p.Owner == nil || p.Owner.Kind == "pod"
}

// index keeps the service's own indexes of the fold, from what changed (or
// everything, on a full pass): the pods without a controller and the
// ReplicaSets by namespace (adoption), the DaemonSets, the nodes that
// changed, and the lost nodes whose pods may be evicted (evict.go).
func (s *Service) index(full bool) {
	if full {
		clear(s.orphans)
		clear(s.sets)
		clear(s.daemons)
		for key, p := range s.c.Pods {
			s.indexPod(key, p)
		}
		for key, w := range s.c.Workloads {
			s.indexWorkload(key, w)
		}
		s.changedNodes = nil
		clear(s.lost)
		for name := range s.c.Nodes {
			s.noteNode(name)
		}
		return
	}
	for key := range s.c.Dirty.Pods {
		s.indexPod(key, s.c.Pods[key])
		s.noteLostPod(s.c.Pods[key])
	}
	for key := range s.c.Dirty.Workloads {
		s.indexWorkload(key, s.c.Workloads[key])
	}
	s.changedNodes = s.changedNodes[:0]
	for name := range s.c.Dirty.Nodes {
		s.changedNodes = append(s.changedNodes, name)
		s.noteNode(name)
	}
	sort.Strings(s.changedNodes)
}

func (s *Service) indexPod(key string, p *projections.Pod) {
	pns, _, _ := strings.Cut(key, "/")
	if p != nil && orphan(p) && !p.Deleting {
		set := s.orphans[pns]
		if set == nil {
			set = map[string]bool{}
			s.orphans[pns] = set
		}
		set[key] = true
		return
	}
	if set := s.orphans[pns]; set != nil {
		delete(set, key)
		if len(set) == 0 {
			delete(s.orphans, pns)
		}
	}
}

func (s *Service) indexWorkload(key string, w *projections.Workload) {
	kind, rest, _ := strings.Cut(key, "/")
	wns, _, _ := strings.Cut(rest, "/")
	switch kind {
	case "replicaset":
		set := s.sets[wns]
		if w != nil && !w.Deleted {
			if set == nil {
				set = map[string]bool{}
				s.sets[wns] = set
			}
			set[key] = true
		} else if set != nil {
			delete(set, key)
		}
	case "daemonset":
		if w != nil {
			s.daemons[key] = true
		} else {
			delete(s.daemons, key)
		}
	}
}

// toExamine returns, sorted, the workload keys and pod keys a pass looks at:
// all of them (pods: only those stranded) on a full pass; otherwise the
// pending ones and those the fold marked dirty since the last pass. A dirty
// pod names its owner's workload, and the bare Pod of its name, which waits
// for a former pod of that name (another uid, so not its owner) to stop; a
// pod without a controller names the ReplicaSets of its namespace whose
// selector matches it; a dirty workload names its owner (a ReplicaSet its
// Deployment); a node that changed names every DaemonSet, which then looks
// at the changed nodes only (partial) unless something else woke it.
func (s *Service) toExamine(full bool) (wkeys, pkeys []string, partial map[string]bool) {
	if full {
		wkeys = make([]string, 0, len(s.c.Workloads))
		for key := range s.c.Workloads {
			wkeys = append(wkeys, key)
		}
		for key, p := range s.c.Pods {
			if stranded(p) || s.ownerGone(p) {
				pkeys = append(pkeys, key)
			}
		}
		sort.Strings(wkeys)
		sort.Strings(pkeys)
		return wkeys, pkeys, nil
	}
	ws := make(map[string]bool, len(s.pendingW))
	ps := make(map[string]bool, len(s.pendingP))
	for key := range s.pendingW {
		ws[key] = true
	}
	for key := range s.pendingP {
		ps[key] = true
	}
	for key := range s.c.Dirty.Workloads {
		ws[key] = true
	}
	for key := range s.c.Dirty.Pods {
		ps[key] = true
		pns, name, _ := strings.Cut(key, "/")
		ws[projections.WorkloadKey("pod", pns, name)] = true
		p := s.c.Pods[key]
		if p == nil {
			if skey, ok := statefulSetOf(pns, name); ok {
				ws[skey] = true // its ordinal may be planned again
			}
			continue
		}
		if p.Owner != nil {
			ws[projections.WorkloadKey(p.Owner.Kind, p.Namespace, p.Owner.Name)] = true
		}
		if orphan(p) && !p.Deleting && !p.Terminal() {
			for rkey := range s.sets[pns] {
				if rs := s.c.Workloads[rkey]; rs != nil && rs.Object.ReplicaSet() != nil && selectorOf(rs.Object.ReplicaSet()).Matches(p.Labels) {
					ws[rkey] = true
				}
			}
		}
	}
	// A change to an object wakes its owner: a ReplicaSet's pods come and
	// go, and its Deployment waits for the old ones to be gone.
	for key := range ws {
		for w := s.c.Workloads[key]; w != nil; w = s.c.OwnerOf(w) {
			ws[projections.WorkloadKey(w.Kind, w.Namespace, w.Name)] = true
		}
	}
	if len(s.changedNodes) > 0 {
		partial = map[string]bool{}
		for key := range s.daemons {
			if !ws[key] {
				ws[key], partial[key] = true, true
			}
		}
	}
	return sortedKeys(ws), sortedKeys(ps), partial
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func podUID(workloadUID string, n int64) string { return poddecision.UID(workloadUID, n) }

// PodName is a ReplicaSet's n-th pod (poddecision.Name; base: its name,
// which for a Deployment's holds the template hash).
func PodName(base, uid string, n int64) string { return poddecision.Name(base, uid, n) }

// withSuffix is poddecision.WithSuffix.
func withSuffix(base string, b []byte) string { return poddecision.WithSuffix(base, b) }

// deletion stops a pod the replica service owns (poddecision.Delete).
func deletion(p *projections.Pod, reason string, cause events.Envelope) runner.Decision {
	return poddecision.Delete(p, reason, cause, Name)
}
