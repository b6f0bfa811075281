// Package rollout is the rollout service: it keeps each Deployment's
// ReplicaSets (its revisions) and moves its pods from the old ones to the
// new one by the Deployment's strategy (RollingUpdate, Recreate or Canary
// steps), watches the new pods' health, decides the Deployment's
// conditions, and rolls a failed rollout back to the last revision that
// was fully available. The ReplicaSets' pods are the replica service's.
package rollout

import (
	"sort"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/runner"
)

// Name of the service.
const Name = "rollout"

// FullEvery is how often, by default, Decide examines every Deployment
// rather than only those that changed, are pending or are due.
const FullEvery = 10 * time.Second

// A pass is bounded: at most BurstPerDeployment decisions for one
// Deployment (its ReplicaSets, its status, and the pods an older Gantry
// made without ReplicaSets) and PassBudget in all; what a pass leaves out
// is pending for the next.
const (
	BurstPerDeployment = 500
	PassBudget         = 2000
)

// Service decides Deployments' ReplicaSets and rollout status.
type Service struct {
	c     *projections.Cluster
	quota *projections.QuotaPass // this pass's quota charges

	// FullEvery is how often Decide examines every Deployment (default
	// FullEvery; zero or less: every time).
	FullEvery time.Duration
	// MaxPodsPerWorkload is the cluster's ceiling on one workload's pods
	// (zero: none): a Deployment accepted before it was lowered is kept at
	// it.
	MaxPodsPerWorkload int32
	full               runner.FullPasses
	// pending are the Deployments whose last examination decided
	// something: examined again until one decides nothing.
	pending map[string]bool
	// due is, by Deployment key, when it next has something to decide
	// with no new input (a pod becoming available after minReadySeconds,
	// a progress deadline, a canary pause); next is the earliest.
	due  map[string]time.Time
	next time.Time
	now  time.Time
}

// New returns a rollout service over an empty fold.
func New() *Service {
	return &Service{c: projections.NewCluster(), FullEvery: FullEvery, pending: map[string]bool{}, due: map[string]time.Time{}}
}

// Name implements runner.Service.
func (s *Service) Name() string { return Name }

// Sources implements runner.Service: the decisions (Deployments, their
// ReplicaSets, their pods, node states, which make pods unready), and the
// pods' reports (readiness and restarts, which a rollout is judged by).
func (s *Service) Sources() []runner.Source {
	return []runner.Source{
		{Stream: events.StreamDecisions, Filters: []string{events.SubjectDecisionAll}},
		{Stream: events.StreamObservations, Filters: []string{events.SubjectObsPodAll}},
	}
}

// Apply implements runner.Service.
func (s *Service) Apply(r events.Record) { s.c.Apply(r) }

// NextWake implements runner.Waker: the earliest time a Deployment is due.
func (s *Service) NextWake() time.Time { return s.next }

// Decide implements runner.Service: for each Deployment that may need it,
// compare its ReplicaSets and their pods with what its spec and strategy
// want. Level-triggered and incremental, as the replica service is: a
// Deployment's decisions depend on it, its ReplicaSets, their pods and
// the time, so one neither dirty (itself, a ReplicaSet or a pod of one
// changed), pending nor due would decide nothing now.
func (s *Service) Decide(now time.Time) []runner.Decision {
	s.full.Every = s.FullEvery
	full := s.full.Full(now)
	s.now = now
	s.quota = s.c.QuotaPass()
	keys := s.toExamine(full, now)
	s.c.ClearDirty()
	clear(s.pending)
	var out []runner.Decision
	budget := PassBudget
	for _, key := range keys {
		w := s.c.Workloads[key]
		if w == nil || w.Kind != "deployment" {
			delete(s.due, key)
			continue
		}
		if budget == 0 {
			s.pending[key] = true
			continue
		}
		delete(s.due, key)
		ds, wake := s.deployment(w, min(budget, BurstPerDeployment))
		if !wake.IsZero() {
			s.due[key] = wake
		}
		if len(ds) > 0 {
			s.pending[key] = true
			budget -= min(budget, len(ds))
			out = append(out, ds...)
		}
	}
	s.next = time.Time{}
	for _, t := range s.due {
		if s.next.IsZero() || t.Before(s.next) {
			s.next = t
		}
	}
	return out
}

// toExamine returns, sorted, the keys of the Deployments a pass looks at:
// every one on a full pass; otherwise those pending, due by now, or named
// by what the fold marked dirty (a Deployment; a ReplicaSet, its owner; a
// pod, its ReplicaSet's owner).
func (s *Service) toExamine(full bool, now time.Time) []string {
	ws := map[string]bool{}
	if full {
		for key, w := range s.c.Workloads {
			if w.Kind == "deployment" {
				ws[key] = true
			}
		}
	}
	for key := range s.pending {
		ws[key] = true
	}
	for key, t := range s.due {
		if !t.After(now) {
			ws[key] = true
		}
	}
	for key := range s.c.Dirty.Workloads {
		for w := s.c.Workloads[key]; w != nil; w = s.c.OwnerOf(w) {
			if w.Kind == "deployment" {
				ws[projections.WorkloadKey(w.Kind, w.Namespace, w.Name)] = true
			}
		}
	}
	for key := range s.c.Dirty.Pods {
		p := s.c.Pods[key]
		if p == nil || p.Owner == nil {
			continue
		}
		owner := s.c.Workloads[projections.WorkloadKey(p.Owner.Kind, p.Namespace, p.Owner.Name)]
		for w := owner; w != nil; w = s.c.OwnerOf(w) {
			if w.Kind == "deployment" {
				ws[projections.WorkloadKey(w.Kind, w.Namespace, w.Name)] = true
			}
		}
	}
	out := make([]string, 0, len(ws))
	for k := range ws {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
