// Package endpoints is the endpoints service, the control-plane half of
// Services. For each Service it decides two things from the log:
//
//   - its addresses (alloc.go): a virtual IP from the service CIDR (none
//     for a headless one) and, for a NodePort or LoadBalancer, a node port
//     per port; a LoadBalancer is served on the Ready nodes' addresses, as
//     k3s' ServiceLB serves it. Every allocation and release is a
//     ServiceAllocated on one subject, fenced by its newest sequence, so
//     no address is ever given twice, even by an allocator that crashed
//     and decides again.
//   - its EndpointSlices (slices.go): the pods its selector picks, with an
//     IP, grouped by their resolved ports, at most
//     manifest.MaxEndpointsPerSlice to a slice, with ready / serving /
//     terminating, decided only when a slice's content changes.
//
// Node agents program balancing and DNS from both (node/svcview). The
// service is level-triggered and incremental: a pass examines the Services
// that changed, whose pods changed, or that wait for an address, and every
// FullEvery all of them; each pass is bounded.
package endpoints

import (
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/runner"
)

// Name of the service.
const Name = "endpoints"

// FullEvery is how often, by default, Decide examines every Service rather
// than only those that changed.
const FullEvery = 10 * time.Second

// A pass is bounded: at most BurstPerService slice decisions for one
// Service, PassBudget in all, and AllocsPerPass allocations (one atomic
// batch on the allocation subject); what a pass leaves out is pending for
// the next.
const (
	BurstPerService = 200
	PassBudget      = 2000
	AllocsPerPass   = 100
)

// DefaultCIDR is the service CIDR when none is given, k3s' default.
const DefaultCIDR = "10.43.0.0/16"

// HeartbeatEvery is how often a node's heartbeat is read: its address and,
// without the health service, whether it is Ready, for LoadBalancers.
const HeartbeatEvery = 5 * time.Second

// Service decides Services' addresses and EndpointSlices.
type Service struct {
	c    *projections.Cluster
	cidr netip.Prefix

	// FullEvery is how often Decide examines every Service (default
	// FullEvery; zero or less: every time).
	FullEvery time.Duration
	full      runner.FullPasses
	// pending are the Services whose last examination decided something,
	// or that a pass's budget left out: examined again next pass.
	pending map[string]bool

	// services indexes the Service keys by namespace (pruned when a
	// Service is gone from the fold); sliceOf the EndpointSlice keys by
	// the key of the Service that decided them; podLabels the labels of
	// each pod, kept until the fold forgets the pod, so the Services a
	// removed pod was behind can still be found.
	services  map[string]map[string]bool
	sliceOf   map[string]map[string]bool
	podLabels map[string]map[string]string

	// allocs is the addresses held, rebuilt when the fold's AllocSeq moves;
	// seenAlloc the AllocSeq of the last pass; ingress the LoadBalancer
	// addresses the last pass saw.
	allocs    *held
	seenAlloc uint64
	ingress   []string
	now       time.Time
	// examined counts Services examined, ever (tests).
	examined int
}

// New returns an endpoints service over an empty fold, allocating from
// cidr (an IPv4 prefix; "" is DefaultCIDR).
func New(cidr string) (*Service, error) {
	p, err := ParseCIDR(cidr)
	if err != nil {
		return nil, err
	}
	return &Service{c: projections.NewCluster(), cidr: p, FullEvery: FullEvery, pending: map[string]bool{},
		services: map[string]map[string]bool{}, sliceOf: map[string]map[string]bool{}, podLabels: map[string]map[string]string{}}, nil
}

// Name implements runner.Service.
func (s *Service) Name() string { return Name }

// Sources implements runner.Service: the decisions (Services, pods, the
// allocations and slices it decided, node states), the pods' reports
// (their IPs and readiness), the nodes' registrations and, thinned, their
// heartbeats (their addresses, for LoadBalancers).
func (s *Service) Sources() []runner.Source {
	return []runner.Source{
		{Stream: events.StreamDecisions, Filters: []string{events.SubjectDecisionAll}},
		{Stream: events.StreamObservations, Filters: []string{events.SubjectObsPodAll, events.SubjectObsNodeAll}},
		{Stream: events.StreamHeartbeats, Every: HeartbeatEvery},
	}
}

// Apply implements runner.Service: the fold, and the indexes that name
// what to examine.
func (s *Service) Apply(r events.Record) {
	s.c.Apply(r)
	switch e := r.Event.(type) {
	case *events.AdmissionAccepted:
		if e.Kind == kindService && e.Op != events.OpDelete {
			index(s.services, e.Namespace, projections.WorkloadKey(kindService, e.Namespace, e.Name))
		}
	case *events.WorkloadDecided:
		if e.Kind == kindSlice && e.Owner != nil && e.Owner.Kind == kindService {
			index(s.sliceOf, projections.WorkloadKey(kindService, e.Namespace, e.Owner.Name), projections.WorkloadKey(kindSlice, e.Namespace, e.Name))
		}
	case *events.PodPlanned:
		if len(e.Labels) > 0 {
			s.podLabels[projections.Key(e.Namespace, e.Name)] = e.Labels
		}
	case *events.PodBound:
		if len(e.Pod.Labels) > 0 {
			s.podLabels[projections.Key(e.Pod.Namespace, e.Pod.Name)] = e.Pod.Labels
		}
	}
}

const (
	kindService = "service"
	kindSlice   = "endpointslice"
)

func index(m map[string]map[string]bool, k1, k2 string) {
	set := m[k1]
	if set == nil {
		set = map[string]bool{}
		m[k1] = set
	}
	set[k2] = true
}

// Decide implements runner.Service: examine each Service that may need it
// (its addresses, then its slices), within the pass's bounds.
func (s *Service) Decide(now time.Time) []runner.Decision {
	s.full.Every = s.FullEvery
	full := s.full.Full(now)
	s.now = now
	s.refreshHeld()
	ingress := s.readyAddresses(now)
	keys := s.toExamine(full, !slices.Equal(ingress, s.ingress))
	s.ingress = ingress
	s.seenAlloc = s.c.AllocSeq
	s.c.ClearDirty()
	clear(s.pending)

	p := newPass(s)
	budget := PassBudget
	var out []runner.Decision
	for _, key := range keys {
		if budget == 0 || len(p.allocs) >= AllocsPerPass {
			s.pending[key] = true
			continue
		}
		s.examined++
		nAlloc := len(p.allocs)
		ds := p.examine(key, min(budget, BurstPerService))
		if len(ds) > 0 || len(p.allocs) > nAlloc {
			s.pending[key] = true
			budget -= min(budget, len(ds))
			out = append(out, ds...)
		}
	}
	return append(p.allocDecisions(), out...)
}

// toExamine returns, sorted, the keys of the Services a pass looks at:
// every one on a full pass; otherwise those pending, named by what the fold
// marked dirty (a Service; a slice, its Service; a pod, the Services of its
// namespace whose selector picks it), those refused while an allocation was
// released since the last pass, and the LoadBalancers when the Ready nodes'
// addresses changed.
func (s *Service) toExamine(full, ingressChanged bool) []string {
	ks := map[string]bool{}
	if full {
		for _, set := range s.services {
			for k := range set {
				ks[k] = true
			}
		}
		for k := range s.sliceOf {
			ks[k] = true
		}
		for k := range s.allocs.byKey {
			ks[k] = true
		}
	}
	for k := range s.pending {
		ks[k] = true
	}
	for key := range s.c.Dirty.Workloads {
		w := s.c.Workloads[key]
		switch {
		case w == nil:
			if kind, _, _ := splitKey(key); kind == kindService {
				ks[key] = true
			}
		case w.Kind == kindService:
			ks[key] = true
		case w.Kind == kindSlice && w.Owner != nil:
			ks[projections.WorkloadKey(kindService, w.Namespace, w.Owner.Name)] = true
		}
	}
	for key := range s.c.Dirty.Pods {
		labels := s.podLabels[key]
		if p := s.c.Pods[key]; p != nil {
			labels = p.Labels
		} else {
			delete(s.podLabels, key) // forgotten: this is its last change
		}
		ns, _, _ := cutKey(key)
		for k := range s.services[ns] {
			if w := s.c.Workloads[k]; w != nil && w.Object.Service() != nil && selects(w.Object.Service().Selector, labels) {
				ks[k] = true
			}
		}
	}
	if s.c.AllocSeq != s.seenAlloc || ingressChanged {
		for _, set := range s.services {
			for k := range set {
				w := s.c.Workloads[k]
				if w == nil || w.Object.Service() == nil {
					continue
				}
				st := w.Decided().Service
				if (st != nil && st.Refused != "") || (ingressChanged && w.Object.Service().Type == manifest.ServiceTypeLoadBalancer) {
					ks[k] = true
				}
			}
		}
	}
	return slices.Sorted(maps.Keys(ks))
}

// selects reports a Service's selector picking a pod's labels (an empty
// selector picks none: such a Service has no slices of Gantry's making).
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// splitKey splits a WorkloadKey into kind, namespace and name.
func splitKey(key string) (kind, ns, name string) {
	kind, rest, _ := cutKey(key)
	ns, name, _ = cutKey(rest)
	return kind, ns, name
}

func cutKey(key string) (string, string, bool) { return strings.Cut(key, "/") }
