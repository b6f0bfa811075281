// Package projectiontest builds events.Records for tests of folds and
// deciders: a small in-memory log that hands out per-stream sequences and
// enforces JetStream's message-id deduplication and subject expectations,
// plus builders for manifests and the events the services exchange. No NATS.
package projectiontest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

// Start is the time of the first record of a new Log.
var Start = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

// ErrConflict is what Publish returns when an expectation fails, as the
// server answers "wrong last sequence".
var ErrConflict = errors.New("wrong last sequence")

// Log is an in-memory log of the four streams.
type Log struct {
	// Now is the time the next record carries.
	Now time.Time
	// Records is every record appended, in append order.
	Records []events.Record

	seqs   map[string]uint64 // stream → last sequence
	last   map[string]uint64 // subject → last sequence
	msgIDs map[string]uint64 // msg id → sequence it was stored under
}

// NewLog returns an empty log at Start.
func NewLog() *Log {
	return &Log{Now: Start, seqs: map[string]uint64{}, last: map[string]uint64{}, msgIDs: map[string]uint64{}}
}

// Advance moves the log's clock.
func (l *Log) Advance(d time.Duration) { l.Now = l.Now.Add(d) }

// StreamOf names the stream that captures subject, "" when none does.
func StreamOf(subject string) string {
	for _, s := range events.Streams() {
		for _, f := range s.Subjects {
			if events.FilterCovers(f, subject) {
				return s.Name
			}
		}
	}
	return ""
}

// Append stores ev on subject unconditionally and returns its record.
func (l *Log) Append(subject string, ev events.Event) events.Record {
	stream := StreamOf(subject)
	if stream == "" {
		panic(fmt.Sprintf("projectiontest: no stream captures subject %q", subject))
	}
	l.seqs[stream]++
	seq := l.seqs[stream]
	l.last[subject] = seq
	id := events.DeriveID(fmt.Sprintf("%s/%d", stream, seq))
	env, err := events.Seal(ev, events.Meta{ID: id, Source: "test", Time: l.Now, Actor: "tester"})
	if err != nil {
		panic(err)
	}
	r := events.Record{Stream: stream, Subject: subject, Seq: seq, Envelope: env, Event: ev}
	l.Records = append(l.Records, r)
	return r
}

// Publish stores ev the way JetStream would with these headers: the subject
// expectation is checked first (on expectOn, or subject when empty), then
// the message id; a duplicate returns the original record's sequence and
// dup true, and stores nothing.
func (l *Log) Publish(subject string, ev events.Event, msgID string, expect *uint64, expectOn string) (rec events.Record, dup bool, err error) {
	if expect != nil {
		on := expectOn
		if on == "" {
			on = subject
		}
		if got := l.LastSeq(on); got != *expect {
			return events.Record{}, false, fmt.Errorf("publish %s: %w: expected %d on %s, last is %d", subject, ErrConflict, *expect, on, got)
		}
	}
	if msgID != "" {
		if seq, ok := l.msgIDs[msgID]; ok {
			return events.Record{Stream: StreamOf(subject), Subject: subject, Seq: seq}, true, nil
		}
	}
	r := l.Append(subject, ev)
	if msgID != "" {
		l.msgIDs[msgID] = r.Seq
	}
	return r, false, nil
}

// LastSeq is the newest sequence on any subject matching filter, 0 when none.
func (l *Log) LastSeq(filter string) uint64 {
	var out uint64
	for s, seq := range l.last {
		if events.FilterCovers(filter, s) && seq > out {
			out = seq
		}
	}
	return out
}

// Applier is anything that folds records.
type Applier interface{ Apply(events.Record) }

// ApplyAll folds records in order.
func ApplyAll(a Applier, rs ...events.Record) {
	for _, r := range rs {
		a.Apply(r)
	}
}

// --- manifests ---

// selected is the selector and template every workload builder here uses:
// app=<name>, one container "app" running image.
func selected(name, image string) (*manifest.LabelSelector, manifest.PodTemplateSpec) {
	return &manifest.LabelSelector{MatchLabels: map[string]string{"app": name}},
		manifest.PodTemplateSpec{
			Metadata: manifest.TemplateMeta{Labels: map[string]string{"app": name}},
			Spec:     manifest.PodSpec{Containers: []manifest.Container{{Name: "app", Image: image}}},
		}
}

// object is a valid object of a kind with defaults filled.
func object(apiVersion, kind, ns, name string, spec any) manifest.Object {
	o := manifest.Object{APIVersion: apiVersion, Kind: kind, Metadata: manifest.ObjectMeta{Name: name, Namespace: ns}, Spec: spec}
	o.Defaults()
	return o
}

// Deployment is a valid apps/v1 Deployment with defaults filled, selecting
// app=<name>, one container "app" running image.
func Deployment(ns, name string, replicas int32, image string) manifest.Object {
	sel, t := selected(name, image)
	return object(manifest.APIAppsV1, manifest.KindDeployment, ns, name,
		&manifest.DeploymentSpec{Replicas: &replicas, Selector: sel, Template: t})
}

// ReplicaSet is a valid apps/v1 ReplicaSet with defaults filled, as
// Deployment.
func ReplicaSet(ns, name string, replicas int32, image string) manifest.Object {
	sel, t := selected(name, image)
	return object(manifest.APIAppsV1, manifest.KindReplicaSet, ns, name,
		&manifest.ReplicaSetSpec{Replicas: &replicas, Selector: sel, Template: t})
}

// DaemonSet is a valid apps/v1 DaemonSet with defaults filled, as
// Deployment.
func DaemonSet(ns, name, image string) manifest.Object {
	sel, t := selected(name, image)
	return object(manifest.APIAppsV1, manifest.KindDaemonSet, ns, name, &manifest.DaemonSetSpec{Selector: sel, Template: t})
}

// ResourceQuota is a v1 ResourceQuota with these hard limits
// ("pods": "2", "requests.cpu": "1").
func ResourceQuota(ns, name string, hard map[string]string) manifest.Object {
	rl := manifest.ResourceList{}
	for k, v := range hard {
		rl[k] = manifest.MustQuantity(v)
	}
	return object(manifest.APICoreV1, manifest.KindResourceQuota, ns, name, &manifest.ResourceQuotaSpec{Hard: rl})
}

// PodDisruptionBudget is a valid policy/v1 PodDisruptionBudget selecting
// app=<app>, with minAvailable or maxUnavailable as given (nil: unset).
func PodDisruptionBudget(ns, name, app string, minAvailable, maxUnavailable *manifest.IntOrString) manifest.Object {
	return object(manifest.APIPolicyV1, manifest.KindPodDisruptionBudget, ns, name, &manifest.PodDisruptionBudgetSpec{
		Selector:     &manifest.LabelSelector{MatchLabels: map[string]string{"app": app}},
		MinAvailable: minAvailable, MaxUnavailable: maxUnavailable})
}

// BarePod is a valid v1 Pod with defaults filled, one container "app".
func BarePod(ns, name, image string) manifest.Object {
	o := manifest.Object{APIVersion: manifest.APICoreV1, Kind: manifest.KindPod,
		Metadata: manifest.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": name}},
		Spec:     &manifest.PodSpec{Containers: []manifest.Container{{Name: "app", Image: image}}}}
	o.Defaults()
	return o
}

// Requests returns spec with every container requesting cpu and memory
// (Kubernetes quantities; "" leaves that resource out).
func Requests(spec manifest.PodSpec, cpu, memory string) manifest.PodSpec {
	cs := make([]manifest.Container, len(spec.Containers))
	for i, c := range spec.Containers {
		rl := manifest.ResourceList{}
		if cpu != "" {
			rl[manifest.ResourceCPU] = manifest.MustQuantity(cpu)
		}
		if memory != "" {
			rl[manifest.ResourceMemory] = manifest.MustQuantity(memory)
		}
		c.Resources = manifest.ResourceRequirements{Requests: rl}
		cs[i] = c
	}
	spec.Containers = cs
	return spec
}

// Kind is the lower-case kind intents and workloads use.
func Kind(o manifest.Object) string { return strings.ToLower(o.Kind) }

// Canonical is the object's canonical JSON, as admission stores it.
func Canonical(o manifest.Object) json.RawMessage {
	b, err := json.Marshal(o)
	if err != nil {
		panic(err)
	}
	return b
}

// NodeInfo describes a node offering cpu (millicores), memory (bytes) and
// pods; a zero pods leaves the pod count unlimited.
func NodeInfo(name string, milliCPU, memory, pods int64) events.NodeInfo {
	alloc := map[string]int64{events.ResourceCPU: milliCPU, events.ResourceMemory: memory}
	if pods > 0 {
		alloc[events.ResourcePods] = pods
	}
	return events.NodeInfo{Name: name, Capacity: alloc, Allocatable: alloc, Runtime: "simulated"}
}

// --- pods ---

// PodFor is the pod a Deployment's replica service would plan: owner,
// template hash, labels and spec from the template.
func PodFor(dep manifest.Object, depUID, name, uid string) events.PodPlanned {
	t := dep.Deployment().Template
	return events.PodPlanned{Namespace: dep.Metadata.Namespace, Name: name, UID: uid,
		Owner:        &events.OwnerRef{Kind: "deployment", Name: dep.Metadata.Name, UID: depUID},
		TemplateHash: manifest.TemplateHash(t), Labels: t.Metadata.Labels, Annotations: t.Metadata.Annotations, Spec: t.Spec}
}

// Containers is one container status per container of spec, all in state
// (events.ContainerRunning, …) and ready as given.
func Containers(spec manifest.PodSpec, state string, ready bool) []events.ContainerStatus {
	out := make([]events.ContainerStatus, len(spec.Containers))
	for i, c := range spec.Containers {
		out[i] = events.ContainerStatus{Name: c.Name, Image: c.Image, State: state, Ready: ready}
	}
	return out
}

// --- records ---

// IntentApply appends an IntentApplied carrying raw on the object's intent subject.
func (l *Log) IntentApply(kind, ns, name string, raw json.RawMessage) events.Record {
	return l.Append(events.IntentSubject(ns, kind, name), &events.IntentApplied{Kind: kind, Namespace: ns, Name: name, Object: raw})
}

// IntentApplyObject appends an IntentApplied for a manifest object.
func (l *Log) IntentApplyObject(o manifest.Object) events.Record {
	return l.IntentApply(Kind(o), o.Metadata.Namespace, o.Metadata.Name, Canonical(o))
}

// IntentDelete appends an IntentDeleted.
func (l *Log) IntentDelete(kind, ns, name string) events.Record {
	return l.Append(events.IntentSubject(ns, kind, name), &events.IntentDeleted{Kind: kind, Namespace: ns, Name: name})
}

// Accepted appends an apply verdict for o.
func (l *Log) Accepted(o manifest.Object, uid string, generation int64) events.Record {
	k, ns, name := Kind(o), o.Metadata.Namespace, o.Metadata.Name
	return l.Append(events.AdmissionSubject(ns, k, name), &events.AdmissionAccepted{Op: events.OpApply,
		Kind: k, Namespace: ns, Name: name, UID: uid, Generation: generation, Object: Canonical(o)})
}

// AcceptedDelete appends a delete verdict.
func (l *Log) AcceptedDelete(kind, ns, name, uid string, generation int64) events.Record {
	return l.Append(events.AdmissionSubject(ns, kind, name), &events.AdmissionAccepted{Op: events.OpDelete,
		Kind: kind, Namespace: ns, Name: name, UID: uid, Generation: generation})
}

// Planned appends a PodPlanned on the pod's decision subject.
func (l *Log) Planned(p events.PodPlanned) events.Record {
	pp := p
	return l.Append(events.PodDecisionSubject(p.Namespace, p.Name), &pp)
}

// Bound appends a PodBound on the pod's decision subject (services never
// read the copy a node gets).
func (l *Log) Bound(p events.PodPlanned, node string, epoch int64) events.Record {
	return l.Append(events.PodDecisionSubject(p.Namespace, p.Name), &events.PodBound{Pod: p, Node: node, Epoch: epoch, Feasible: 1})
}

// Unschedulable appends a PodUnschedulable.
func (l *Log) Unschedulable(p events.PodPlanned, msg string) events.Record {
	return l.Append(events.PodDecisionSubject(p.Namespace, p.Name),
		&events.PodUnschedulable{Namespace: p.Namespace, Name: p.Name, UID: p.UID, Message: msg})
}

// Deleted appends a PodDeleted on the pod's decision subject; node names
// the node it was bound to, if any.
func (l *Log) Deleted(p events.PodPlanned, node string, epoch int64, reason string) events.Record {
	return l.Append(events.PodDecisionSubject(p.Namespace, p.Name), &events.PodDeleted{Namespace: p.Namespace, Name: p.Name, UID: p.UID, Node: node, Epoch: epoch, Reason: reason})
}

// Status appends a node's report of a pod: phase, and every container in
// the state that phase implies, ready when asked.
func (l *Log) Status(node string, p events.PodPlanned, epoch int64, phase string, ready bool) events.Record {
	state := events.ContainerWaiting
	switch phase {
	case events.PhaseRunning:
		state = events.ContainerRunning
	case events.PhaseSucceeded, events.PhaseFailed:
		state = events.ContainerTerminated
	}
	return l.Append(events.ObsPodSubject(node, p.Namespace, p.Name), &events.PodStatusObserved{Namespace: p.Namespace,
		Name: p.Name, UID: p.UID, Node: node, Epoch: epoch, Phase: phase, Containers: Containers(p.Spec, state, ready)})
}

// Removed appends a node's PodRemoved.
func (l *Log) Removed(node string, p events.PodPlanned, epoch int64) events.Record {
	return l.Append(events.ObsPodSubject(node, p.Namespace, p.Name),
		&events.PodRemoved{Namespace: p.Namespace, Name: p.Name, UID: p.UID, Node: node, Epoch: epoch})
}

// Registered appends a NodeRegistered.
func (l *Log) Registered(info events.NodeInfo) events.Record {
	return l.Append(events.ObsNodeSubject(info.Name), &events.NodeRegistered{Node: info})
}

// Heartbeat appends a NodeHeartbeat at l.Now.
func (l *Log) Heartbeat(info events.NodeInfo) events.Record {
	return l.Append(events.HeartbeatSubject(info.Name), &events.NodeHeartbeat{Node: info})
}
