// Package admission decides whether each intent is accepted or rejected:
// strict decoding, validation, existence. Rejected intents stay in the log
// with their reasons; accepted ones become the desired state.
package admission

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/admissionpolicy"
	"github.com/gantry-sh/gantry/events/authz"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/identity"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/events/placement"
	"github.com/gantry-sh/gantry/events/probecheck"
	"github.com/gantry-sh/gantry/events/rolloutcheck"
	"github.com/gantry-sh/gantry/events/sealed"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/runner"
)

// Name of the service, also the source of its events.
const Name = "admission"

// Service holds the intents waiting for a verdict and the current accepted
// state of every object.
type Service struct {
	pending map[uint64]pendingIntent // intent seq → intent without a verdict
	decided map[uint64]bool          // intent seqs with a verdict
	objects map[string]*object       // kind/ns/name → accepted state
	applied map[string]uint64
	// assumed are the intents whose verdicts are being stored (see Assume),
	// by intent seq: neither they nor later intents on their objects are
	// judged until the verdicts are read back (or forgotten).
	assumed map[uint64]bool
	// counts is how many objects exist by "<ns>/<kind>", and quotas the
	// hard limits of each namespace's ResourceQuotas by name: what
	// count/<resource> quotas are checked against (see quota.go).
	counts map[string]int
	quotas map[string]map[string]manifest.ResourceList
	made   map[string]string // objects controllers made, by kind/ns/name: their uid
	// c is the fold of pods and objects that evictions are judged against
	// (their PodDisruptionBudgets), and evicting the pods (by uid) of
	// evictions being stored, by intent seq (see evict.go).
	c        *projections.Cluster
	evicting map[uint64]string
	// svcClaims are the explicit clusterIP and nodePorts of accepted
	// Services, by workload key, and svcAssumed those of Services accepted
	// in verdicts being stored, by intent seq (see services.go).
	svcClaims  map[string]svcClaim
	svcAssumed map[uint64]svcClaim
	// classes names the StorageClasses ever accepted or made (storage.go).
	classes map[string]bool
	// bootClass is the default StorageClass this pass's bootstrap decided
	// and the fold has not read back yet (nil once it has).
	bootClass *projections.Workload

	// Bootstrap makes the Namespaces that exist without being applied
	// (see bootstrap.go), as `gantry up` and `serve` run it.
	Bootstrap bool

	// MaxPodsPerWorkload is the cluster's ceiling on the pods one workload
	// may ask for (zero: none); see ceiling.
	MaxPodsPerWorkload int32

	// Keyring opens Secrets to check them and re-seals them after a
	// rotation (see config.go); nil: a Secret with data is refused.
	Keyring *sealed.Keyring
	stale   map[string]bool // Secrets (by workload key) to look at for a re-seal
	// resealed are the boxes of the re-seals decided, by workload key.
	resealed map[string]resealedBox
	ringKey  string // the keyring's current key when stale was last swept

	// policies and bindings are the admission policies in force, by name
	// (policy.go).
	policies map[string]*policyState
	bindings map[string]admissionpolicy.Binding
	// Authorization is authz.ModeRBAC for a cluster started to enforce RBAC
	// (gantry up --authorization=rbac): bootstrap makes the mode ConfigMap
	// saying so, and Admin, when set, cluster-admin (see authorize.go).
	Authorization string
	Admin         string
	policy        *authz.Policy     // the RBAC objects of the fold
	enforced      bool              // the mode ConfigMap says RBAC
	modeKnown     bool              // the mode ConfigMap was ever folded
	bootRBAC      []manifest.Object // what bootstrapRBAC makes

	// Users, when set, are the users whose signed intents are accepted
	// (signing.go); seen the ids of intents within the window, by time.
	Users identity.Users
	seen  map[string]time.Time
}

type pendingIntent struct {
	seq    uint64
	env    events.Envelope
	ev     events.Event
	forged string // why its signature does not prove its author (signing.go)
}

type object struct {
	exists     bool
	uid        string
	generation int64
	canonical  json.RawMessage
	lastSeq    uint64 // last sequence on the object's admission subject
}

// New returns an empty admission service.
func New() *Service {
	return &Service{pending: map[uint64]pendingIntent{}, decided: map[uint64]bool{},
		objects: map[string]*object{}, applied: map[string]uint64{}, assumed: map[uint64]bool{},
		counts: map[string]int{}, quotas: map[string]map[string]manifest.ResourceList{}, made: map[string]string{},
		c: projections.NewCluster(), evicting: map[uint64]string{},
		svcClaims: map[string]svcClaim{}, svcAssumed: map[uint64]svcClaim{}, classes: map[string]bool{},
		policy: authz.NewPolicy()}
}

// Name implements runner.Service.
func (s *Service) Name() string { return Name }

// Sources implements runner.Service.
func (s *Service) Sources() []runner.Source {
	return []runner.Source{
		{Stream: events.StreamIntents},
		{Stream: events.StreamDecisions, Filters: []string{events.SubjectAdmissionAll, events.SubjectNodeDecisionAll, events.SubjectWorkloadAll,
			events.SubjectPodDecAll, events.SubjectNodeStateAll,
			// Services' addresses, as the endpoints service allocated them.
			events.SubjectServiceAlloc,
			// The keyring's rotations: Secrets are re-sealed to the new key.
			events.SubjectKeyring}},
		// Pods' reports: whether a pod is healthy, for the budgets an
		// eviction is judged against.
		{Stream: events.StreamObservations, Filters: []string{events.SubjectObsPodAll}},
	}
}

// Apply implements runner.Service.
func (s *Service) Apply(r events.Record) {
	if r.Seq <= s.applied[r.Stream] {
		return
	}
	s.applied[r.Stream] = r.Seq
	if r.Stream != events.StreamIntents {
		s.c.Apply(r)
		switch e := r.Event.(type) {
		case *events.AdmissionAccepted:
			s.noteRBAC(e.Kind, e.Namespace, e.Name)
		case *events.WorkloadDecided:
			s.noteRBAC(e.Kind, e.Namespace, e.Name)
		case *events.WorkloadDeleted:
			s.noteRBAC(e.Kind, e.Namespace, e.Name)
		}
	}
	switch e := r.Event.(type) {
	case *events.IntentApplied, *events.IntentDeleted, *events.IntentCordon, *events.IntentEvict:
		p := pendingIntent{seq: r.Seq, env: r.Envelope, ev: e}
		s.verify(&p)
		if !s.decided[r.Seq] {
			s.pending[r.Seq] = p
		}
	case *events.AdmissionAccepted:
		s.verdict(e.IntentSeq)
		if e.Op == events.OpEvict {
			s.object(e.Kind, e.Namespace, e.Name).lastSeq = r.Seq
			return
		}
		o := s.object(e.Kind, e.Namespace, e.Name)
		o.lastSeq = r.Seq
		o.uid, o.generation = e.UID, e.Generation
		s.exists(o, e.Kind, e.Namespace, e.Name, e.Op == events.OpApply)
		o.canonical = e.Object
		s.noteQuota(e)
		s.noteService(e)
		s.noteClass(e.Kind, e.Name)
		s.notePolicy(e)
	case *events.AdmissionRejected:
		s.verdict(e.IntentSeq)
		if e.Op != opCordon {
			// A node's sequence is its decision subject's (NodeCordoned);
			// a refused cordon is on the admission subject.
			s.object(e.Kind, e.Namespace, e.Name).lastSeq = r.Seq
		}
	case *events.WorkloadDecided:
		s.decidedObject(e.Kind, e.Namespace, e.Name, e.UID, true)
		s.noteClass(e.Kind, e.Name)
	case *events.WorkloadDeleted:
		s.decidedObject(e.Kind, e.Namespace, e.Name, e.UID, false)
		// A controller deleted a user's object (its Namespace was deleted):
		// applying it again makes a new one.
		if o := s.objects[e.Kind+"/"+e.Namespace+"/"+e.Name]; o != nil && o.uid == e.UID {
			s.exists(o, e.Kind, e.Namespace, e.Name, false)
			if e.Kind == "resourcequota" {
				delete(s.quotas[e.Namespace], e.Name)
			}
			if e.Kind == "service" {
				delete(s.svcClaims, projections.WorkloadKey(e.Kind, e.Namespace, e.Name))
			}
		}
	case *events.NodeCordoned:
		s.verdict(e.IntentSeq)
		s.object("node", events.ClusterScope, e.Node).lastSeq = r.Seq
	}
}

func (s *Service) verdict(intentSeq uint64) {
	s.decided[intentSeq] = true
	delete(s.pending, intentSeq)
	delete(s.assumed, intentSeq)
	delete(s.evicting, intentSeq)
	delete(s.svcAssumed, intentSeq)
}

// Assume implements runner.Assumer: the runner stores a pass of verdicts in
// the background and may call Decide again before reading them back, so
// intents on other objects are judged meanwhile (at 500 pods/s a pass of
// verdicts took 7 ms to store at the median, 62 ms at the 99th percentile).
// Intents on an object whose verdict is on its way wait for it, as before,
// so each verdict still expects the object's newest admission sequence.
func (s *Service) Assume(ds []runner.Decision) {
	for _, d := range ds {
		if seq, ok := intentSeq(d.Event); ok && d.Assumed {
			s.assumed[seq] = true
			if e, ok := d.Event.(*events.AdmissionAccepted); ok && e.Op == events.OpEvict {
				s.evicting[seq] = e.UID
			} else if ok {
				s.assumeService(seq, e)
			}
		}
	}
}

// Forget implements runner.Assumer: a verdict the log did not store; its
// intent is judged again.
func (s *Service) Forget(d runner.Decision) {
	if seq, ok := intentSeq(d.Event); ok {
		delete(s.assumed, seq)
		delete(s.evicting, seq)
		delete(s.svcAssumed, seq)
	}
}

// intentSeq is the intent a verdict judges.
func intentSeq(e events.Event) (uint64, bool) {
	switch e := e.(type) {
	case *events.AdmissionAccepted:
		return e.IntentSeq, true
	case *events.AdmissionRejected:
		return e.IntentSeq, true
	case *events.NodeCordoned:
		return e.IntentSeq, true
	}
	return 0, false
}

func (s *Service) object(kind, ns, name string) *object {
	k := kind + "/" + ns + "/" + name
	o := s.objects[k]
	if o == nil {
		o = &object{}
		s.objects[k] = o
	}
	return o
}

// Decide gives a verdict to the oldest pending intent of each object. Intents
// on one object are judged one at a time, in log order: the next waits until
// the previous verdict is back in the log, so each verdict expects the
// object's newest admission sequence.
func (s *Service) Decide(now time.Time) []runner.Decision {
	seqs := make([]uint64, 0, len(s.pending))
	for seq := range s.pending {
		seqs = append(seqs, seq)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	busy := map[string]bool{}
	nsBusy := map[string]bool{}    // namespaces with an earlier intent not yet judged and read back
	countBusy := map[string]bool{} // "<ns>/<kind>" with an earlier intent, when a quota counts the kind
	rbacBusy := false              // an earlier intent on an RBAC object or the mode, not yet judged and read back
	var out []runner.Decision
	if s.Bootstrap {
		out = s.bootstrap()
		// Intents wait for the bootstrap roles and bindings, as for any.
		rbacBusy = bootstrapsAuthorization(out)
	}
	s.forget(now)                // intents' ids past the window (signing.go)
	s.noteStale()                // Secrets whose box a rotation left behind (config.go)
	s.c.ClearDirty()             // admission reads the fold; nothing here writes it out
	var evicting map[string]bool // this pass's evictions and those being stored, by pod uid
	var services []svcClaim      // the explicit addresses of the Services this pass accepted
	policyBusy := false          // an earlier policy or binding waits for its verdict (policy.go)

	for _, seq := range seqs {
		p := s.pending[seq]
		kind, ns, name := target(p.ev)
		key := kind + "/" + ns + "/" + name
		if policyBusy {
			continue // judged by the policies in force once that verdict is back
		}
		policyBusy = isPolicyKind(kind)
		if kind == "namespace" {
			nsBusy[name] = true
		}

		counted := ns + "/" + kind
		if busy[key] || nsBusy[ns] || countBusy[counted] || rbacBusy {
			continue // an object in a namespace being made waits for its verdict
		}
		// What follows a change of who may do what waits for its verdict,
		// so it is judged by the policy the log says came before it.
		rbacBusy = changesAuthorization(kind, ns, name)
		busy[key] = true
		if kind == "resourcequota" || kind == "poddisruptionbudget" {
			// What follows it in its namespace waits for its verdict, as
			// what follows a Namespace does: a quota applied with the
			// objects it caps counts them, and a budget applied before a
			// drain covers its evictions.
			nsBusy[ns] = true
		}
		if s.countQuota(ns, kind) {
			// Objects a count/<resource> quota counts are judged one at a
			// time in their namespace, so two cannot both take the last.
			countBusy[counted] = true
		}
		if s.assumed[seq] {
			continue // its verdict is on its way
		}
		if why := s.forgery(p, now); why != "" {
			out = append(out, s.refusal(p, kind, ns, name, events.RejectUnauthorized, why))
			continue
		}
		if d, refused := s.authorize(p, kind, ns, name); refused {
			out = append(out, d)
			continue
		}
		if e, ok := p.ev.(*events.IntentEvict); ok {
			if evicting == nil {
				evicting = s.evictingNow()
			}
			out = append(out, s.evict(p, e, evicting)...)
			continue
		}
		d := s.judge(p, kind, ns, name, services)
		if a, ok := d.Event.(*events.AdmissionAccepted); ok && kind == "service" && a.Op == events.OpApply {
			if c, ok := claimOfJSON(a.Object, a.UID); ok {
				services = append(services, c)
			}
		}
		d.Assumed = true
		out = append(out, d)
	}
	return append(out, s.reseal()...)
}

// VerdictMsgID is the message id of the verdict on the intent stored at seq
// with envelope id: both, so that a sequence reused after an accepted loss of
// intents (gantry up --accept-log-loss) is a new verdict, not a duplicate the
// log drops for two minutes.
func VerdictMsgID(seq uint64, intentID string) string {
	return fmt.Sprintf("admit/%d/%s", seq, intentID)
}

func target(e events.Event) (kind, ns, name string) {
	switch e := e.(type) {
	case *events.IntentApplied:
		return e.Kind, e.Namespace, e.Name
	case *events.IntentDeleted:
		return e.Kind, e.Namespace, e.Name
	case *events.IntentCordon:
		return "node", events.ClusterScope, e.Node
	case *events.IntentEvict:
		return "pod", e.Namespace, e.Name
	}
	return "", "", ""
}

// judge gives the verdict on one intent; services are the Services
// accepted earlier in this pass (their addresses are taken).
func (s *Service) judge(p pendingIntent, kind, ns, name string, services []svcClaim) runner.Decision {
	o := s.object(kind, ns, name)
	msgID := VerdictMsgID(p.seq, p.env.ID)
	d := runner.Decision{
		Subject:       events.AdmissionSubject(ns, kind, name),
		Meta:          p.env.Caused(events.DeriveID(msgID), Name, ns+"/"+name, time.Time{}),
		MsgID:         msgID,
		ExpectLastSeq: bus.Expect(o.lastSeq),
	}
	rejectCode := func(op, code string, reasons ...string) runner.Decision {
		d.Event = &events.AdmissionRejected{IntentSeq: p.seq, IntentID: p.env.ID, Op: op,
			Kind: kind, Namespace: ns, Name: name, Reasons: reasons, Code: code}
		return d
	}
	reject := func(op string, reasons ...string) runner.Decision { return rejectCode(op, "", reasons...) }
	switch e := p.ev.(type) {
	case *events.IntentCordon:
		return s.cordon(p, e, o)
	case *events.IntentDeleted:
		if _, ok := manifest.KindOfToken(kind); !ok {
			return rejectCode(events.OpDelete, events.RejectUnsupportedKind, unsupportedToken(kind))
		}
		if !o.exists {
			return rejectCode(events.OpDelete, events.RejectNotFound, fmt.Sprintf("%s %q not found in namespace %q", kind, name, ns))
		}
		if kind == "namespace" && slices.Contains(manifest.DefaultNamespaces, name) {
			return reject(events.OpDelete, fmt.Sprintf("namespaces %q is forbidden: this namespace may not be deleted", name))
		}
		switch e.Propagation {
		case "", events.PropagateBackground, events.PropagateForeground, events.PropagateOrphan:
		default:
			return reject(events.OpDelete, fmt.Sprintf("propagationPolicy: unsupported value %q: must be one of %s, %s, %s",
				e.Propagation, events.PropagateBackground, events.PropagateForeground, events.PropagateOrphan))
		}
		if g := e.GracePeriodSeconds; g != nil && (*g < 0 || *g > manifest.MaxGracePeriodSeconds) {
			return reject(events.OpDelete, fmt.Sprintf("gracePeriodSeconds: must be between 0 and %d, got %d", manifest.MaxGracePeriodSeconds, *g))
		}
		pv := s.policyVerdict(p, kind, ns, name, nil, o)
		if len(pv.denials) > 0 {
			r := rejectCode(events.OpDelete, pv.code, pv.denials...)
			r.Event.(*events.AdmissionRejected).Warnings, r.Event.(*events.AdmissionRejected).Audit = pv.warnings, pv.audits
			return r
		}
		d.Event = &events.AdmissionAccepted{IntentSeq: p.seq, IntentID: p.env.ID, Op: events.OpDelete,
			Kind: kind, Namespace: ns, Name: name, UID: o.uid, Generation: o.generation, Propagation: e.Propagation,
			GracePeriodSeconds: e.GracePeriodSeconds, Force: e.Force, Warnings: pv.warnings, Audit: pv.audits}
		return d
	case *events.IntentApplied:
		if reason, ok := unsupportedKind(e); !ok {
			return rejectCode(events.OpApply, events.RejectUnsupportedKind, reason)
		}
		if reason, code := s.namespaceProblem(kind, ns); reason != "" {
			return rejectCode(events.OpApply, code, reason)
		}
		if _, made := s.made[kind+"/"+ns+"/"+name]; e.Create && (o.exists || made) {
			plural := kind
			if k, ok := manifest.KindOfToken(kind); ok {
				plural = k.QuotaResource() // jobs.batch, as kubectl names it
			}
			return rejectCode(events.OpApply, events.RejectAlreadyExists, fmt.Sprintf("%s %q already exists", plural, name))
		}
		obj, reasons := Check(e)
		if len(reasons) == 0 && (kind == "secret" || kind == "configmap") {
			obj, reasons = s.checkConfig(obj, s.acceptedConfig(kind, ns, name, o))
		}
		reasons = append(reasons, s.ceiling(obj)...)
		if kind == "persistentvolumeclaim" && len(reasons) == 0 {
			reasons = append(reasons, s.claimProblems(&obj, o)...)
		}
		if kind == "service" && len(reasons) == 0 {
			reasons = append(reasons, s.serviceProblems(obj, o, services)...)
		}
		if !o.exists && len(reasons) == 0 {
			if why := s.quotaRefusal(kind, ns, name); why != "" {
				return reject(events.OpApply, why)
			}
		}
		if len(reasons) > 0 {
			return reject(events.OpApply, reasons...)
		}
		canonical, err := json.Marshal(obj)
		if err != nil {
			return reject(events.OpApply, fmt.Sprintf("encode object: %v", err))
		}
		pv := s.policyVerdict(p, kind, ns, name, canonical, o)
		if len(pv.denials) > 0 {
			r := rejectCode(events.OpApply, pv.code, pv.denials...)
			r.Event.(*events.AdmissionRejected).Warnings, r.Event.(*events.AdmissionRejected).Audit = pv.warnings, pv.audits
			return r
		}
		acc := &events.AdmissionAccepted{IntentSeq: p.seq, IntentID: p.env.ID, Op: events.OpApply,
			Kind: kind, Namespace: ns, Name: name, Object: canonical, Warnings: pv.warnings, Audit: pv.audits}
		switch {
		case !o.exists:
			acc.UID = events.DeriveID("uid/" + p.env.ID)
			acc.Generation = 1
		case bytes.Equal(canonical, o.canonical) && !s.rolloutFailed(kind, ns, name, o):
			acc.UID, acc.Generation, acc.Unchanged = o.uid, o.generation, true
		default:
			if kind == "pod" && !samePodSpec(o.canonical, canonical) {
				return reject(events.OpApply, "spec: pod updates may not change the spec; delete the pod and create it again")
			}
			if why := roleRefChanged(o.canonical, obj); why != "" {
				return reject(events.OpApply, why)
			}
			acc.UID, acc.Generation = o.uid, o.generation+1
		}
		d.Event = acc
		return d
	}
	return reject("", "unknown intent")
}

// rolloutFailed reports a Deployment whose rollout of its accepted
// generation failed: applying the same object again is a new generation,
// and a new attempt, not an unchanged apply.
func (s *Service) rolloutFailed(kind, ns, name string, o *object) bool {
	w := s.c.Workloads[projections.WorkloadKey(kind, ns, name)]
	return w != nil && !w.Deleted && w.UID == o.uid && w.Decided().Rollout.Failed(o.generation)
}

// namespaceProblem refuses an object in a namespace that does not exist,
// or that was deleted, in Kubernetes' words. default, kube-system and
// kube-public always exist; cluster-scoped objects have no namespace.
func (s *Service) namespaceProblem(kind, ns string) (reason, code string) {
	if ns == events.ClusterScope || slices.Contains(manifest.DefaultNamespaces, ns) {
		return "", ""
	}
	o := s.objects["namespace/"+events.ClusterScope+"/"+ns]
	switch {
	case o != nil && o.exists:
		return "", ""
	case o != nil && o.uid != "":
		return fmt.Sprintf("unable to create new content in namespace %s because it is being terminated", ns), ""
	}
	return fmt.Sprintf("namespaces %q not found", ns), events.RejectNotFound
}

// unsupportedKind checks the intent's kind is one Gantry supports. The CLI
// appends an intent for any well-formed kind, so that the refusal of one
// Gantry does not know (ReplicaSet, Service) is in the log with its actor;
// the reason names the kind as the manifest wrote it when it can be read.
func unsupportedKind(e *events.IntentApplied) (reason string, ok bool) {
	if _, ok := manifest.KindOfToken(e.Kind); ok {
		return "", true
	}
	var header struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if json.Unmarshal(e.Object, &header) != nil || strings.ToLower(header.Kind) != e.Kind {
		return unsupportedToken(e.Kind), false
	}
	return manifest.UnsupportedKind(header.APIVersion, header.Kind).Error(), false
}

// unsupportedToken is the refusal of a kind known only by its token (a
// delete names no apiVersion).
func unsupportedToken(kind string) string {
	return fmt.Sprintf("kind: %q is not supported; supported: %s", kind, manifest.SupportedKinds())
}

// Check decodes and validates an applied intent, returning the object with
// defaults filled in, or the reasons it is refused (one per field).
func Check(e *events.IntentApplied) (manifest.Object, []string) {
	obj, err := manifest.DecodeObject(e.Object)
	if err != nil {
		return obj, reasonsOf(err)
	}
	obj.Defaults()
	var reasons []string
	if got := strings.ToLower(obj.Kind); got != e.Kind {
		reasons = append(reasons, fmt.Sprintf("kind: %q does not match the intent's kind %q", obj.Kind, e.Kind))
	}
	if obj.Metadata.Name != e.Name {
		reasons = append(reasons, fmt.Sprintf("metadata.name: %q does not match the intent's name %q", obj.Metadata.Name, e.Name))
	}
	if k := obj.Info(); k != nil && k.ClusterScoped {
		if e.Namespace != events.ClusterScope {
			reasons = append(reasons, fmt.Sprintf("metadata.namespace: a %s is cluster-scoped: the intent's namespace must be %q, not %q", obj.Kind, events.ClusterScope, e.Namespace))
		}
	} else if obj.Metadata.Namespace != e.Namespace {
		reasons = append(reasons, fmt.Sprintf("metadata.namespace: %q does not match the intent's namespace %q", obj.Metadata.Namespace, e.Namespace))
	}
	if errs := manifest.Validate(obj); len(errs) > 0 {
		reasons = append(reasons, reasonsOf(errs)...)
	}
	reasons = append(reasons, checkPlacement(obj)...)
	reasons = append(reasons, checkProbes(obj)...)
	reasons = append(reasons, checkAnalyses(obj)...)
	if len(reasons) == 0 {
		reasons = checkPolicy(obj)
	}
	return obj, reasons
}

// rules caches compiled placement rules: compiling is deterministic, and a
// workload's rule is judged again on every apply.
var rules placement.Cache

// checkPlacement compiles the pod's placement rule (annotation
// gantry.dev/placement on the pod template of a Deployment, on the Pod
// itself) so that a rule that does not compile, or could cost too much, is
// refused here rather than found unschedulable on every node.
func checkPlacement(obj manifest.Object) []string {
	annotations, path := obj.Metadata.Annotations, "metadata.annotations"
	if k := obj.Info(); k != nil && k.Template != nil {
		annotations, path = k.Template(obj).Metadata.Annotations, k.TemplatePath+".metadata.annotations"
	}
	expr, ok := annotations[manifest.AnnotationPlacement]
	if !ok {
		return nil
	}
	if _, err := rules.Get(expr); err != nil {
		return []string{fmt.Sprintf("%s[%s]: %v", path, manifest.AnnotationPlacement, err)}
	}
	return nil
}

// probeChecks caches compiled probe checks, as rules does placement rules.
var probeChecks = probecheck.NewCache(0)

// checkProbes compiles the CEL checks of the pod's httpGet probes, so that
// one that does not compile, does not return a bool or could cost too much
// is refused here with its field path, rather than failing the probe on
// every node.
func checkProbes(obj manifest.Object) []string {
	var out []string
	for _, c := range obj.ProbeChecks() {
		if _, err := probeChecks.Get(c.Expr); err != nil {
			out = append(out, fmt.Sprintf("%s: %v", c.Path, err))
		}
	}
	return out
}

// analyses caches compiled canary analyses, as probeChecks does probe
// checks.
var analyses = rolloutcheck.NewCache(0)

// checkAnalyses compiles a Deployment's canary analyses, so that one that
// does not compile, does not return a bool or could cost too much is
// refused here with its field path, rather than failing the rollout at its
// step.
func checkAnalyses(obj manifest.Object) []string {
	var out []string
	for _, c := range obj.AnalysisChecks() {
		if strings.TrimSpace(c.Expr) == "" || len(c.Expr) > manifest.MaxAnalysisLength {
			continue // validation refused it already
		}
		if _, err := analyses.Get(c.Expr); err != nil {
			out = append(out, fmt.Sprintf("%s: %v", c.Path, err))
		}
	}
	return out
}

func reasonsOf(err error) []string {
	if fe, ok := err.(manifest.FieldErrors); ok {
		out := make([]string, len(fe))
		for i, f := range fe {
			out[i] = f.Error()
		}
		return out
	}
	return []string{err.Error()}
}

// samePodSpec reports whether two canonical pods differ only in metadata.
func samePodSpec(a, b json.RawMessage) bool {
	var x, y struct {
		Spec json.RawMessage `json:"spec"`
	}
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return bytes.Equal(x.Spec, y.Spec)
}
