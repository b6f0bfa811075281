// Package storage is the service that binds PersistentVolumeClaims to
// PersistentVolumes (Kubernetes' PV controller): a claim gets a matching
// volume made by hand, or one its class's provisioner makes (for
// WaitForFirstConsumer classes, on the node its first pod was bound to);
// a volume whose claim is gone is Released (Retain) or deleted with its
// storage (Delete).
package storage

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/runner"
)

// Name of the service.
const Name = "storage"

// MaxPerPass bounds the volumes one pass decides on (the rest wait for the
// next pass, which follows as soon as these are read back).
const MaxPerPass = 100

// Kind tokens of the objects the service reads.
const (
	kindPV    = "persistentvolume"
	kindClaim = "persistentvolumeclaim"
	kindClass = "storageclass"
)

// Service binds claims to volumes.
type Service struct {
	c            *projections.Cluster
	provisioners map[string]Provisioner
	// pvs and claims name the volumes and claims ever folded (by name, by
	// ns/name); claimPods the pods that use each claim (by pod key).
	pvs       map[string]bool
	claims    map[string]bool
	classes   map[string]bool
	claimPods map[string]map[string]bool
	// podsOfClaims are the pods (by key) whose newest plan mounts a claim:
	// the only pods the fold keeps; podClaims their claims (ns/name).
	podsOfClaims map[string]bool
	podClaims    map[string][]string

	// A pass examines only what changed: dirtyPVs and dirtyClaims, marked
	// by Apply (and left by a pass's budget); unbound are the claims a pass
	// found waiting, which any change of a volume, a class or a node may
	// fit. Every FullEvery a pass examines everything.
	dirtyPVs, dirtyClaims, unbound map[string]bool
	boundTo                        map[string]string // claim (ns/name) → its volume
	FullEvery                      time.Duration
	full                           runner.FullPasses
	examined                       int // by the last pass
}

// Examined is how many volumes and claims the last pass examined.
func (s *Service) Examined() int { return s.examined }

// FullEvery is how often, by default, a pass examines every volume and
// claim rather than those that changed.
const FullEvery = 30 * time.Second

// New returns a storage service with the local-path provisioner and any
// others given.
func New(more ...Provisioner) *Service {
	s := &Service{c: projections.NewCluster(), provisioners: map[string]Provisioner{},
		pvs: map[string]bool{}, claims: map[string]bool{}, classes: map[string]bool{}, claimPods: map[string]map[string]bool{}, podsOfClaims: map[string]bool{},
		podClaims: map[string][]string{}, dirtyPVs: map[string]bool{}, dirtyClaims: map[string]bool{}, unbound: map[string]bool{},
		boundTo: map[string]string{}, FullEvery: FullEvery}
	for _, p := range append([]Provisioner{LocalPath{}}, more...) {
		s.provisioners[p.Name()] = p
	}
	return s
}

// Name implements runner.Service.
func (s *Service) Name() string { return Name }

// Sources implements runner.Service: the decisions (objects, pods, its own
// volume decisions), the nodes' registrations (their volumes directory)
// and the pods' reports (whether a claim's pods are gone).
func (s *Service) Sources() []runner.Source {
	return []runner.Source{
		{Stream: events.StreamDecisions, Filters: []string{events.SubjectDecisionAll}},
		{Stream: events.StreamObservations, Filters: []string{events.SubjectObsNodeAll, events.SubjectObsPodAll}},
	}
}

// Apply implements runner.Service. The service folds, of everything it
// reads, only what storage needs: the volumes, claims and classes, its own
// decisions, the nodes' registrations, and the pods that mount a claim;
// so its fold costs nothing for the cluster's other pods and objects.
func (s *Service) Apply(r events.Record) {
	note := func(kind, ns, name string) bool {
		switch kind {
		case kindPV:
			s.pvs[name] = true
			s.dirtyPVs[name] = true
			s.markUnbound()
		case kindClaim:
			s.claims[ns+"/"+name] = true
			s.markClaim(ns + "/" + name)
		case kindClass:
			s.classes[name] = true
			s.markUnbound()
		default:
			return false
		}
		return true
	}
	keep := false
	switch e := r.Event.(type) {
	case *events.AdmissionAccepted:
		keep = note(e.Kind, e.Namespace, e.Name)
	case *events.WorkloadDecided:
		keep = note(e.Kind, e.Namespace, e.Name)
	case *events.WorkloadDeleted:
		keep = note(e.Kind, e.Namespace, e.Name)
	case *events.VolumeDecided:
		keep = true
		s.dirtyPVs[e.Volume] = true
		if e.ClaimName != "" {
			k := e.ClaimNamespace + "/" + e.ClaimName
			s.markClaim(k)
			if e.Phase == events.VolumeDeleted {
				delete(s.boundTo, k)
			} else {
				s.boundTo[k] = e.Volume
			}
		}
	case *events.NodeRegistered:
		keep = true
		s.markUnbound() // a node that offers volumes now
	case *events.PodPlanned:
		pk := projections.Key(e.Namespace, e.Name)
		claims := e.Spec.ClaimNames()
		keep = len(claims) > 0 || s.podsOfClaims[pk] // a pod of that name with claims is replaced
		if len(claims) == 0 {
			delete(s.podsOfClaims, pk)
			delete(s.podClaims, pk)
		} else {
			s.podsOfClaims[pk] = true
			s.podClaims[pk] = nil
		}
		for _, c := range claims {
			key := e.Namespace + "/" + c
			if s.claimPods[key] == nil {
				s.claimPods[key] = map[string]bool{}
			}
			s.claimPods[key][pk] = true
			s.podClaims[pk] = append(s.podClaims[pk], key)
			s.markClaim(key)
		}
	case *events.PodBound, *events.PodDeleted, *events.PodStatusObserved, *events.PodRemoved, *events.PodReleased, *events.PodAdopted:
		pk := projections.Key(podOf(e))
		keep = s.podsOfClaims[pk]
		for _, k := range s.podClaims[pk] {
			s.markClaim(k) // its consumer, or whether it is in use
		}
	}
	if !keep {
		return
	}
	s.c.Apply(r)
	switch e := r.Event.(type) {
	case *events.PodDeleted, *events.PodRemoved:
		ns, name := podOf(e)
		if pk := projections.Key(ns, name); s.c.Pods[pk] == nil {
			delete(s.podsOfClaims, pk) // gone from the fold: forgotten
			delete(s.podClaims, pk)
		}
	}
}

// podOf is the pod a pod event is about.
func podOf(e events.Event) (ns, name string) {
	switch e := e.(type) {
	case *events.PodBound:
		return e.Pod.Namespace, e.Pod.Name
	case *events.PodDeleted:
		return e.Namespace, e.Name
	case *events.PodStatusObserved:
		return e.Namespace, e.Name
	case *events.PodRemoved:
		return e.Namespace, e.Name
	case *events.PodReleased:
		return e.Namespace, e.Name
	case *events.PodAdopted:
		return e.Namespace, e.Name
	}
	return "", ""
}

// pass is one Decide's view: what it has taken so far.
type pass struct {
	out     []runner.Decision
	units   int
	taken   map[string]bool // volumes bound this pass
	claimed map[string]bool // claims bound this pass
}

// markClaim has the next pass examine a claim and the volume bound to it.
func (s *Service) markClaim(key string) {
	s.dirtyClaims[key] = true
	if v, ok := s.boundTo[key]; ok {
		s.dirtyPVs[v] = true
	}
}

// markUnbound has the next pass examine every claim still waiting.
func (s *Service) markUnbound() {
	for k := range s.unbound {
		s.dirtyClaims[k] = true
	}
}

// Decide implements runner.Service. Level-triggered: a pass compares each
// volume and claim that changed (every one, every FullEvery) with its
// binding. First volumes whose claim is gone are reclaimed, then pending
// claims bound, in name order, at most MaxPerPass in all; what the budget
// leaves stays for the next pass.
func (s *Service) Decide(now time.Time) []runner.Decision {
	s.c.ClearDirty()
	s.full.Every = s.FullEvery
	pvs, claims := s.dirtyPVs, s.dirtyClaims
	if s.full.Full(now) {
		pvs, claims = s.pvs, s.claims
	}
	p := &pass{taken: map[string]bool{}, claimed: map[string]bool{}}
	s.examined = 0
	for _, name := range slices.Sorted(maps.Keys(pvs)) {
		if p.units >= MaxPerPass {
			s.dirtyPVs[name] = true
			continue
		}
		delete(s.dirtyPVs, name)
		s.examined++
		s.reclaim(p, name)
	}
	for _, key := range slices.Sorted(maps.Keys(claims)) {
		if p.units >= MaxPerPass {
			s.dirtyClaims[key] = true
			continue
		}
		delete(s.dirtyClaims, key)
		s.examined++
		s.bind(p, key)
	}
	return p.out
}

// volume is a live PersistentVolume and the newest decision on it.
type volume struct {
	w       *projections.Workload
	spec    *manifest.PersistentVolumeSpec
	binding events.VolumeDecided // zero: none for this volume (Available)
	seq     uint64               // the fence: last sequence on its StorageSubject
}

func (s *Service) volume(name string) (volume, bool) {
	w := s.c.Workloads[projections.WorkloadKey(kindPV, events.ClusterScope, name)]
	if w == nil || w.Deleted {
		return volume{}, false
	}
	spec := w.Object.PersistentVolume()
	if spec == nil {
		return volume{}, false
	}
	v := volume{w: w, spec: spec}
	if b, ok := s.c.Volume(name); ok {
		v.seq = b.Seq
		if b.Decision.VolumeUID == w.UID {
			v.binding = b.Decision
		}
	}
	return v, true
}

// reclaim decides on a bound volume whose claim is gone: Released when it
// is kept (Retain), deleted when not (Delete), with its storage when its
// provisioner made it (the node deletes the directory).
func (s *Service) reclaim(p *pass, name string) {
	v, ok := s.volume(name)
	if !ok || v.binding.Phase != manifest.VolumeBound {
		return
	}
	b := v.binding
	claim := s.c.Workloads[projections.WorkloadKey(kindClaim, b.ClaimNamespace, b.ClaimName)]
	if claim != nil && !claim.Deleted && claim.UID == b.ClaimUID {
		return
	}
	if s.inUse(b.ClaimNamespace + "/" + b.ClaimName) {
		return // as Kubernetes' pvc-protection: reclaimed once no pod uses it
	}
	e := b
	e.Reason = fmt.Sprintf("claim %s/%s was deleted", b.ClaimNamespace, b.ClaimName)
	d := runner.Decision{Subject: events.StorageSubject(name), ExpectLastSeq: bus.Expect(v.seq)}
	if v.spec.ReclaimPolicy() == manifest.ReclaimRetain {
		e.Phase = manifest.VolumeReleased
		e.Reason += "; the volume is kept (Retain)"
		d.MsgID = "volume/release/" + b.VolumeUID + "/" + b.ClaimUID
		d.Event = &e
		d.Meta = events.Meta{ID: events.DeriveID(d.MsgID), Source: Name, Subject: name}
		if b.Node != "" {
			d.CopyTo = []string{events.NodeVolumeSubject(b.Node, name)}
		}
		p.add(d)
		return
	}
	e.Phase = events.VolumeDeleted
	e.Reason += "; the volume is deleted (Delete)"
	if prov, ok := s.provisioners[s.classOf(v.spec)]; ok && b.Provisioned {
		e.Provisioned = prov.Delete(*v.spec)
	}
	d.MsgID = "volume/delete/" + b.VolumeUID
	d.Event = &e
	d.Meta = events.Meta{ID: events.DeriveID(d.MsgID), Source: Name, Subject: name}
	d.Atomic = d.MsgID
	if b.Node != "" {
		d.CopyTo = []string{events.NodeVolumeSubject(b.Node, name)}
	}
	delMsg := "volume/delete-object/" + b.VolumeUID
	p.add(d, runner.Decision{
		Subject: events.WorkloadSubject(events.ClusterScope, kindPV, name),
		Event: &events.WorkloadDeleted{Kind: kindPV, Namespace: events.ClusterScope, Name: name, UID: b.VolumeUID,
			Reason: e.Reason},
		Meta:          events.Meta{ID: events.DeriveID(delMsg), Source: Name, Subject: name},
		MsgID:         delMsg,
		ExpectLastSeq: bus.Expect(s.c.WorkloadDecisionSeq(kindPV, events.ClusterScope, name)),
		Atomic:        d.MsgID,
	})
}

// classOf is the provisioner of a volume's class ("" when none).
func (s *Service) classOf(pv *manifest.PersistentVolumeSpec) string {
	if c, ok := s.class(pv.StorageClassName); ok {
		return c.Spec.Provisioner
	}
	return ""
}

func (s *Service) class(name string) (Class, bool) {
	if name == "" {
		return Class{}, false
	}
	w := s.c.Workloads[projections.WorkloadKey(kindClass, events.ClusterScope, name)]
	if w == nil || w.Deleted || w.Object.StorageClass() == nil {
		return Class{}, false
	}
	return Class{Name: name, Spec: *w.Object.StorageClass()}, true
}

// defaultClass is the default StorageClass, "" when none is.
func (s *Service) defaultClass() string {
	return s.c.DefaultStorageClass(slices.Collect(maps.Keys(s.classes)))
}

func (p *pass) add(ds ...runner.Decision) {
	p.out = append(p.out, ds...)
	p.units++
}

// inUse reports a pod of the claim that still exists and has not ended.
func (s *Service) inUse(key string) bool {
	for pk := range s.claimPods[key] {
		if q := s.c.Pods[pk]; q != nil && !q.Terminal() {
			return true
		}
	}
	return false
}

// consumer is the claim's first pod bound to a node (oldest planned), and
// that node, or "" while none is bound.
func (s *Service) consumer(key string) (pod, node string) {
	var best *projections.Pod
	for pk := range s.claimPods[key] {
		q := s.c.Pods[pk]
		if q == nil {
			delete(s.claimPods[key], pk) // gone: forget it
			continue
		}
		if q.Node == "" || q.Deleting {
			continue
		}
		if best == nil || q.PlannedSeq < best.PlannedSeq {
			best = q
		}
	}
	if best == nil {
		return "", ""
	}
	return best.Name, best.Node
}

// bind finds a pending claim its volume: a matching volume that exists
// (pre-bound by volumeName or claimRef first, then the smallest that fits),
// else one its class's provisioner makes. A WaitForFirstConsumer claim
// waits for its first pod to be bound to a node, and takes only a volume
// that node can use.
func (s *Service) bind(p *pass, key string) {
	ns, name, _ := strings.Cut(key, "/")
	w := s.c.Workloads[projections.WorkloadKey(kindClaim, ns, name)]
	if w == nil || w.Deleted {
		delete(s.unbound, key)
		return
	}
	spec := w.Object.PersistentVolumeClaim()
	if spec == nil || p.claimed[key] {
		return
	}
	if st := w.Decided().Volume; st != nil && st.Phase != manifest.ClaimPending {
		delete(s.unbound, key)
		return // bound, or lost: a claim is bound once
	}
	s.unbound[key] = true // until the fold shows it bound
	claim := Claim{Namespace: ns, Name: name, UID: w.UID, Spec: *spec}
	if spec.StorageClassName == nil {
		// Admission gives an applied claim the default class; one a
		// controller made (a StatefulSet's) gets it here.
		if def := s.defaultClass(); def != "" {
			claim.Spec.StorageClassName = &def
			spec = &claim.Spec
		}
	}
	class, hasClass := s.class(spec.ClassName())
	wait := hasClass && class.Spec.BindingMode() == manifest.VolumeBindingWaitForFirstConsumer
	podName, node := s.consumer(key)
	if wait && node == "" {
		return // bound when its first pod is placed
	}
	if v, vname, ok := s.match(p, claim, node); ok {
		p.claimed[key], p.taken[vname] = true, true
		p.add(s.bindDecision(v, vname, claim, node, fmt.Sprintf("bound to claim %s", key)))
		return
	}
	if !hasClass || spec.VolumeName != "" || spec.Selector != nil {
		return // waits for a matching volume to be made by hand
	}
	prov, ok := s.provisioners[class.Spec.Provisioner]
	if !ok || node == "" {
		return
	}
	n := s.c.Nodes[node]
	if n == nil {
		return
	}
	vname := "pvc-" + w.UID
	if _, exists := s.volume(vname); exists || p.taken[vname] {
		return
	}
	pv, err := prov.Provision(vname, claim, class, n.Info)
	if err != nil {
		return // the claim stays Pending; the node may register a directory later
	}
	obj, err := json.Marshal(manifest.Object{APIVersion: manifest.APICoreV1, Kind: manifest.KindPersistentVolume,
		Metadata: manifest.ObjectMeta{Name: vname, Annotations: map[string]string{"pv.kubernetes.io/provisioned-by": prov.Name()}},
		Spec:     &pv})
	if err != nil {
		return
	}
	msgID := "volume/provision/" + w.UID
	uid := events.DeriveID("uid/" + msgID)
	reason := fmt.Sprintf("provisioned by %s on node %s for claim %s (its first pod %s)", prov.Name(), node, key, podName)
	made := runner.Decision{
		Subject: events.WorkloadSubject(events.ClusterScope, kindPV, vname),
		Event: &events.WorkloadDecided{Kind: kindPV, Namespace: events.ClusterScope, Name: vname, UID: uid, Generation: 1,
			Object: obj, Reason: reason},
		Meta:          events.Meta{ID: events.DeriveID(msgID), Source: Name, Subject: vname},
		MsgID:         msgID,
		ExpectLastSeq: bus.Expect(s.c.WorkloadDecisionSeq(kindPV, events.ClusterScope, vname)),
		Atomic:        msgID,
	}
	var seq uint64
	if b, ok := s.c.Volume(vname); ok {
		seq = b.Seq
	}
	bound := s.bindDecision(volume{spec: &pv, seq: seq}, vname, claim, node, reason)
	bound.Event.(*events.VolumeDecided).VolumeUID = uid
	bound.Event.(*events.VolumeDecided).Provisioned = true
	bound.MsgID = "volume/bind/" + uid + "/" + w.UID
	bound.Meta.ID = events.DeriveID(bound.MsgID)
	bound.Atomic = msgID
	p.claimed[key], p.taken[vname] = true, true
	p.add(made, bound)
}

// match is the volume that fits the claim: the one it names (volumeName)
// or that names it (claimRef), else the smallest Available one of its
// class whose capacity, access modes, labels (selector) and node fit.
func (s *Service) match(p *pass, c Claim, node string) (volume, string, bool) {
	var best volume
	var bestName string
	for _, name := range slices.Sorted(maps.Keys(s.pvs)) {
		if p.taken[name] {
			continue
		}
		v, ok := s.volume(name)
		if !ok || v.binding.Phase != "" {
			continue // gone, or bound or released: Available volumes only
		}
		if ref := v.spec.ClaimRef; ref != nil {
			if ref.Name != c.Name || (ref.Namespace != "" && ref.Namespace != c.Namespace) || (ref.UID != "" && ref.UID != c.UID) {
				continue // pre-bound to another claim
			}
		}
		if c.Spec.VolumeName != "" && c.Spec.VolumeName != name {
			continue
		}
		if !fits(v, c, node) {
			continue
		}
		if c.Spec.VolumeName != "" || v.spec.ClaimRef != nil {
			return v, name, true
		}
		if bestName == "" || capacity(v.spec) < capacity(best.spec) {
			best, bestName = v, name
		}
	}
	return best, bestName, bestName != ""
}

// fits reports a volume of the claim's class, large enough, with every
// access mode the claim asks, matching its selector and usable on node
// ("" any).
func fits(v volume, c Claim, node string) bool {
	if v.spec.StorageClassName != c.Spec.ClassName() || capacity(v.spec) < c.Spec.Request() {
		return false
	}
	for _, m := range c.Spec.AccessModes {
		if !slices.Contains(v.spec.AccessModes, m) {
			return false
		}
	}
	if c.Spec.Selector != nil && !c.Spec.Selector.Matches(v.w.Object.Metadata.Labels) {
		return false
	}
	return node == "" || v.spec.Node() == "" || v.spec.Node() == node
}

func capacity(pv *manifest.PersistentVolumeSpec) int64 {
	q := pv.Capacity[manifest.ResourceStorage]
	return q.Value()
}

// bindDecision binds the volume to the claim, copied to the node the
// volume lives on (or, for one any node can use, the consumer's node).
func (s *Service) bindDecision(v volume, vname string, c Claim, node, reason string) runner.Decision {
	uid := ""
	if v.w != nil {
		uid = v.w.UID
	}
	e := &events.VolumeDecided{Volume: vname, VolumeUID: uid, Phase: manifest.VolumeBound,
		ClaimNamespace: c.Namespace, ClaimName: c.Name, ClaimUID: c.UID, Node: v.spec.Node(),
		Capacity: v.spec.Capacity[manifest.ResourceStorage].String(), AccessModes: v.spec.AccessModes, Reason: reason}
	switch {
	case v.spec.Local != nil:
		e.Path = v.spec.Local.Path
	case v.spec.HostPath != nil:
		e.Path = v.spec.HostPath.Path
	}
	msgID := "volume/bind/" + uid + "/" + c.UID
	d := runner.Decision{Subject: events.StorageSubject(vname), Event: e,
		Meta:  events.Meta{ID: events.DeriveID(msgID), Source: Name, Subject: vname},
		MsgID: msgID, ExpectLastSeq: bus.Expect(v.seq)}
	to := e.Node
	if to == "" {
		to = node
	}
	if to != "" {
		d.CopyTo = []string{events.NodeVolumeSubject(to, vname)}
	}
	return d
}
