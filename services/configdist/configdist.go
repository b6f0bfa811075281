// Package configdist is the service that gives each node the ConfigMaps and
// Secrets its pods use, and nothing else. For every (node, object) a pod
// bound to the node references (volumes, env, envFrom, of its containers and
// init containers), it delivers the object's newest accepted revision on
// events.NodeConfigSubject, or that it does not exist; when no pod of the
// node uses it any more, it withdraws it, so the node forgets it. A Secret is
// opened with the cluster's keyring and re-sealed to the node's own key
// (events.NodeInfo.SealKey): the log holds it sealed only, and a node that
// runs no pod using a Secret never receives it.
//
// The service is level-triggered and remembers what it delivered from the
// log itself (it folds its own ConfigDelivered), so a restart delivers
// nothing twice. A pass examines the (node, object) pairs that changed, and
// every FullEvery all of them; it is bounded (PassBudget decisions).
package configdist

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/events/sealed"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/runner"
)

// Name of the service.
const Name = "configdist"

// A pass decides at most PassBudget deliveries and examines at most
// ExamineBudget pairs; what it leaves is examined next pass.
const (
	PassBudget    = 256
	ExamineBudget = 4096
)

// FullEvery is how often, by default, a pass examines every pair in use or
// delivered rather than only those that changed.
const FullEvery = 30 * time.Second

// object is one ConfigMap or Secret as the log last accepted it: Rev is the
// sequence of that verdict (of its deletion when gone).
type object struct {
	rev    uint64
	exists bool
	cm     *manifest.ConfigMapSpec
	secret *manifest.SecretSpec
}

// ref names a ConfigMap or Secret (kind is its token).
type ref struct{ ns, kind, name string }

// pair is one object as one node sees it.
type pair struct {
	node string
	ref
}

// delivered is the newest ConfigDelivered on a pair's subject: its
// sequence (the next delivery's fence) and what it said.
type delivered struct {
	seq       uint64
	rev       uint64
	exists    bool
	withdrawn bool
	keyID     string // the node key a Secret was sealed to
}

// pod is one pod bound to a node, as far as the service needs it: its
// newest binding and what its spec references.
type pod struct {
	uid, node string
	epoch     int64
	refs      []ref
}

// Service delivers ConfigMaps and Secrets to nodes. Its fold is its own and
// lean (a pod is its node, binding and references), not projections.Cluster.
type Service struct {
	ring    *sealed.Keyring
	applied map[string]uint64 // stream → last applied sequence

	objects map[ref]*object
	pods    map[string]*pod // "<ns>/<name>" → the pod while bound to a node
	// removedEarly holds, by pod uid, the epoch of a removal read before the
	// binding it removes (the streams interleave); the binding consumes it.
	removedEarly map[string]int64
	uses         map[string]map[ref]int  // node → object → pods using it
	users        map[ref]map[string]bool // object → nodes using it
	delivered    map[pair]delivered      // pair → newest delivery
	byNode       map[string]map[ref]bool // node → objects delivered to it (and not withdrawn)
	keys         map[string]sealed.PublicKey
	dirty        map[pair]bool

	// FullEvery is how often a pass examines every pair (zero or less:
	// every pass).
	FullEvery time.Duration
	full      runner.FullPasses
}

// New returns the service; ring opens the Secrets (nil: Secrets are not
// delivered, ConfigMaps are).
func New(ring *sealed.Keyring) *Service {
	return &Service{ring: ring, applied: map[string]uint64{}, objects: map[ref]*object{}, pods: map[string]*pod{},
		removedEarly: map[string]int64{}, uses: map[string]map[ref]int{}, users: map[ref]map[string]bool{},
		delivered: map[pair]delivered{}, byNode: map[string]map[ref]bool{}, keys: map[string]sealed.PublicKey{},
		dirty: map[pair]bool{}, FullEvery: FullEvery}
}

// Name implements runner.Service.
func (s *Service) Name() string { return Name }

// Sources implements runner.Service: the decisions (the objects' verdicts,
// the pods' bindings, its own deliveries) and the nodes' reports (their
// registrations, with their keys; pods removed).
func (s *Service) Sources() []runner.Source {
	return []runner.Source{
		{Stream: events.StreamDecisions, Filters: []string{events.SubjectDecisionAll, events.SubjectNodeConfigAll}},
		{Stream: events.StreamObservations, Filters: []string{events.SubjectObsPodAll, events.SubjectObsNodeAll}},
	}
}

// Apply implements runner.Service. Records at or below the applied
// sequence of their stream are ignored, so replay is idempotent.
func (s *Service) Apply(r events.Record) {
	if r.Seq <= s.applied[r.Stream] {
		return
	}
	s.applied[r.Stream] = r.Seq
	switch e := r.Event.(type) {
	case *events.ConfigDelivered:
		s.applyDelivered(r, e)
	case *events.AdmissionAccepted:
		if e.Kind == events.ConfigKindConfigMap || e.Kind == events.ConfigKindSecret {
			s.applyObject(r, e)
		}
	case *events.NodeRegistered:
		s.applyKey(e.Node)
	case *events.PodBound:
		s.applyBound(e)
	case *events.PodDeleted:
		// A forced deletion is finished without the node (a lost node,
		// delete --force); otherwise the pod runs until its node removes it.
		if p := s.pods[projections.Key(e.Namespace, e.Name)]; p != nil && p.uid == e.UID && e.Force {
			s.forget(projections.Key(e.Namespace, e.Name))
		}
	case *events.PodRemoved:
		s.applyRemoved(e)
	}
}

// applyBound notes a pod's binding: the node it runs on now, and what it
// uses there.
func (s *Service) applyBound(e *events.PodBound) {
	key := projections.Key(e.Pod.Namespace, e.Pod.Name)
	if ep, ok := s.removedEarly[e.Pod.UID]; ok && e.Epoch <= ep {
		delete(s.removedEarly, e.Pod.UID) // its node removed it already
		return
	}
	old := s.pods[key]
	if old != nil && old.uid == e.Pod.UID && old.epoch > e.Epoch {
		return // an older binding
	}
	p := &pod{uid: e.Pod.UID, node: e.Node, epoch: e.Epoch}
	for _, r := range e.Pod.Spec.ConfigRefs() {
		p.refs = append(p.refs, ref{ns: e.Pod.Namespace, kind: r.Kind, name: r.Name})
	}
	if old != nil {
		s.unuse(old)
	}
	s.pods[key] = p
	s.use(p)
}

// applyRemoved: the pod's node removed it (deleted, or stopped on its
// own): it no longer runs there.
func (s *Service) applyRemoved(e *events.PodRemoved) {
	key := projections.Key(e.Namespace, e.Name)
	p := s.pods[key]
	switch {
	case p != nil && p.uid == e.UID && e.Epoch >= p.epoch:
		s.forget(key)
	case p == nil || p.uid != e.UID:
		s.removedEarly[e.UID] = max(s.removedEarly[e.UID], e.Epoch)
	}
}

// forget drops the pod at key.
func (s *Service) forget(key string) {
	if p := s.pods[key]; p != nil {
		s.unuse(p)
		delete(s.pods, key)
	}
}

// applyDelivered remembers the service's own delivery.
func (s *Service) applyDelivered(r events.Record, e *events.ConfigDelivered) {
	p := pair{node: e.Node, ref: ref{ns: e.Namespace, kind: e.Kind, name: e.Name}}
	d := delivered{seq: r.Seq, rev: e.Revision, exists: e.Exists, withdrawn: e.Withdrawn}
	if e.Sealed != nil {
		d.keyID = e.Sealed.KeyID
	}
	s.delivered[p] = d
	if d.withdrawn {
		unindex(s.byNode, p.node, p.ref)
	} else {
		index(s.byNode, p.node, p.ref)
	}
	s.dirty[p] = true
}

// applyObject folds a ConfigMap's or a Secret's verdict; every node using
// it is examined again.
func (s *Service) applyObject(r events.Record, e *events.AdmissionAccepted) {
	k := ref{ns: e.Namespace, kind: e.Kind, name: e.Name}
	o := &object{rev: r.Seq}
	switch {
	case e.Op == events.OpDelete:
	case e.Op != events.OpApply:
		return
	case e.Unchanged && s.objects[k] != nil && s.objects[k].exists:
		return // the same content: the same revision
	default:
		var obj manifest.Object
		if err := json.Unmarshal(e.Object, &obj); err != nil {
			return // admission accepts only objects that decode
		}
		o.exists, o.cm, o.secret = true, obj.ConfigMap(), obj.Secret()
	}
	s.objects[k] = o
	for n := range s.users[k] {
		s.dirty[pair{node: n, ref: k}] = true
	}
}

// applyKey notes a node's key; a new one makes its Secrets be sealed again.
func (s *Service) applyKey(info events.NodeInfo) {
	if info.SealKey == "" {
		return
	}
	k, err := sealed.ParsePublicKey(info.SealKey)
	if err != nil || k.ID == s.keys[info.Name].ID {
		return
	}
	s.keys[info.Name] = k
	for r := range s.uses[info.Name] {
		s.dirty[pair{node: info.Name, ref: r}] = true
	}
}

// use counts what p uses on its node; an object a node starts using is
// examined.
func (s *Service) use(p *pod) {
	m := s.uses[p.node]
	if m == nil {
		m = map[ref]int{}
		s.uses[p.node] = m
	}
	for _, r := range p.refs {
		if m[r]++; m[r] == 1 {
			index(s.users, r, p.node)
			s.dirty[pair{node: p.node, ref: r}] = true
		}
	}
}

// unuse takes back use(p); an object a node stops using is examined.
func (s *Service) unuse(p *pod) {
	m := s.uses[p.node]
	for _, r := range p.refs {
		if m[r]--; m[r] <= 0 {
			delete(m, r)
			unindex(s.users, r, p.node)
			s.dirty[pair{node: p.node, ref: r}] = true
		}
	}
	if len(m) == 0 {
		delete(s.uses, p.node)
	}
}

// Decide implements runner.Service: for each pair examined, the delivery
// that brings the node up to date, if any. A worked example: a pod on node
// A uses ConfigMap web (accepted at sequence 7): A is given web revision 7;
// web is applied again (sequence 12): A is given revision 12; the pod is
// deleted and forgotten: A is told web is withdrawn. Node B, which runs no
// pod using web, is never told anything of it.
func (s *Service) Decide(now time.Time) []runner.Decision {
	s.full.Every = s.FullEvery
	if s.full.Full(now) {
		for n, m := range s.uses {
			for r := range m {
				s.dirty[pair{node: n, ref: r}] = true
			}
		}
		for n, m := range s.byNode {
			for r := range m {
				s.dirty[pair{node: n, ref: r}] = true
			}
		}
	}
	if len(s.dirty) == 0 {
		return nil
	}
	pairs := slices.SortedFunc(maps.Keys(s.dirty), comparePairs)
	var out []runner.Decision
	for i, p := range pairs {
		if i >= ExamineBudget || len(out) >= PassBudget {
			break
		}
		d, ok := s.decide(p)
		if !ok {
			delete(s.dirty, p) // up to date, or not deliverable now (a full pass tries again)
			continue
		}
		out = append(out, d) // stays dirty until its delivery is read back
	}
	return out
}

// decide is the delivery one pair needs, if any.
func (s *Service) decide(p pair) (runner.Decision, bool) {
	last, sent := s.delivered[p]
	e := &events.ConfigDelivered{Node: p.node, Namespace: p.ns, Kind: p.kind, Name: p.name}
	if s.uses[p.node][p.ref] == 0 {
		if !sent || last.withdrawn {
			return runner.Decision{}, false
		}
		e.Withdrawn = true
		return s.decision(p, last, e), true
	}
	o := s.objects[p.ref]
	if o != nil {
		e.Revision = o.rev
	}
	if o == nil || !o.exists {
		if sent && !last.withdrawn && !last.exists && last.rev == e.Revision {
			return runner.Decision{}, false
		}
		return s.decision(p, last, e), true
	}
	e.Exists = true
	switch p.kind {
	case events.ConfigKindConfigMap:
		if sent && !last.withdrawn && last.exists && last.rev == o.rev {
			return runner.Decision{}, false
		}
		e.Data = configMapData(o.cm)
	case events.ConfigKindSecret:
		key, ok := s.keys[p.node]
		if !ok || s.ring == nil {
			return runner.Decision{}, false // the node has no key yet, or the cluster none
		}
		if sent && !last.withdrawn && last.exists && last.rev == o.rev && last.keyID == key.ID {
			return runner.Decision{}, false
		}
		box, err := s.reseal(o.secret, key)
		if err != nil {
			return runner.Decision{}, false
		}
		e.Sealed = &box
	default:
		return runner.Decision{}, false
	}
	return s.decision(p, last, e), true
}

// decision stores e on the pair's subject, fenced by its newest delivery.
// The message id names the pair, that fence and what is said, so a runner
// that decides again after a crash writes the same message.
func (s *Service) decision(p pair, last delivered, e *events.ConfigDelivered) runner.Decision {
	state := "absent"
	switch {
	case e.Withdrawn:
		state = "withdrawn"
	case e.Sealed != nil:
		state = "sealed-" + e.Sealed.KeyID
	case e.Exists:
		state = "exists"
	}
	msgID := fmt.Sprintf("cfg/%s/%s/%s/%s/%d/%d/%s", p.node, p.ns, p.kind, p.name, last.seq, e.Revision, state)
	return runner.Decision{
		Subject:       events.NodeConfigSubject(p.node, p.ns, p.kind, p.name),
		Event:         e,
		Meta:          events.Meta{ID: events.DeriveID(msgID), Source: Name, Subject: p.ns + "/" + p.name},
		MsgID:         msgID,
		ExpectLastSeq: bus.Expect(last.seq),
	}
}

// configMapData is a ConfigMap's data and binaryData as one map.
func configMapData(cm *manifest.ConfigMapSpec) map[string][]byte {
	if cm == nil {
		return nil
	}
	out := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
	for k, v := range cm.Data {
		out[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		out[k] = v
	}
	return out
}

// reseal opens a Secret's data with the cluster's keyring and seals it to
// the node's key. A Secret the CLI did not seal (no Sealed; admission
// refuses those) has its data sealed as it is, so the delivery is sealed
// whatever the log holds.
func (s *Service) reseal(sec *manifest.SecretSpec, to sealed.PublicKey) (sealed.Box, error) {
	var plain []byte
	switch {
	case sec != nil && sec.Sealed != nil:
		b, err := s.ring.Open(sec.Sealed.Box)
		if err != nil {
			return sealed.Box{}, err
		}
		plain = b
	default:
		data := map[string][]byte{}
		if sec != nil {
			for k, v := range sec.Data {
				data[k] = v
			}
			for k, v := range sec.StringData {
				data[k] = []byte(v)
			}
		}
		b, err := json.Marshal(data)
		if err != nil {
			return sealed.Box{}, err
		}
		plain = b
	}
	return sealed.Seal(to, plain)
}

func comparePairs(a, b pair) int {
	return cmp.Or(cmp.Compare(a.node, b.node), cmp.Compare(a.ns, b.ns), cmp.Compare(a.kind, b.kind), cmp.Compare(a.name, b.name))
}

func index[K, V comparable](m map[K]map[V]bool, k K, v V) {
	s := m[k]
	if s == nil {
		s = map[V]bool{}
		m[k] = s
	}
	s[v] = true
}

func unindex[K, V comparable](m map[K]map[V]bool, k K, v V) {
	if s := m[k]; s != nil {
		delete(s, v)
		if len(s) == 0 {
			delete(m, k)
		}
	}
}
