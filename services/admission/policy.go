package admission

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/admissionpolicy"
	"github.com/gantry-sh/gantry/events/celcheck"
	"github.com/gantry-sh/gantry/events/manifest"
)

// Admission policies (ValidatingAdmissionPolicy, bound by a
// ValidatingAdmissionPolicyBinding) are judged here: a policy is compiled
// and cost-checked when it is applied, and every later apply or delete of
// any other kind is matched against the bound policies and evaluated. The
// policies in force are those accepted in the log; an intent that follows
// a policy's or a binding's waits for its verdict (see Decide), so the
// change applies from the next intent on, on every replica of admission.

const (
	policyToken  = "validatingadmissionpolicy"
	bindingToken = "validatingadmissionpolicybinding"
)

// isPolicyKind reports the kinds of policies and bindings: they are never
// judged by policies themselves (a bad policy could otherwise forbid its
// own repair), as in Kubernetes.
func isPolicyKind(kind string) bool { return kind == policyToken || kind == bindingToken }

// policyState is a policy in force: its canonical object and generation,
// and its compiled form once an intent needed it.
type policyState struct {
	generation int64
	canonical  json.RawMessage
	compiled   *admissionpolicy.Policy
	err        error
}

// compiledPolicies caches compiled policies by their canonical object, so
// a policy compiled to check it is not compiled again to enforce it.
var compiledPolicies = celcheck.NewCache(256, 1<<20, compilePolicy)

func compilePolicy(canonical string) (*admissionpolicy.Policy, error) {
	o, err := admissionpolicy.SpecOf(json.RawMessage(canonical))
	if err != nil || o.ValidatingAdmissionPolicy() == nil {
		return nil, fmt.Errorf("not a ValidatingAdmissionPolicy: %v", err)
	}
	p, errs := admissionpolicy.Compile(o.Metadata.Name, *o.ValidatingAdmissionPolicy())
	if len(errs) > 0 {
		return nil, errs
	}
	return p, nil
}

// checkPolicy compiles an applied policy's expressions and estimates their
// cost: one that does not compile, returns the wrong type or could cost
// too much is refused naming its field.
func checkPolicy(obj manifest.Object) []string {
	spec := obj.ValidatingAdmissionPolicy()
	if spec == nil {
		return nil
	}
	canonical, err := json.Marshal(obj)
	if err != nil {
		return []string{fmt.Sprintf("encode object: %v", err)}
	}
	if _, err := compiledPolicies.Get(string(canonical)); err != nil {
		return reasonsOf(err)
	}
	return nil
}

// notePolicy keeps the policies and bindings in force as their verdicts
// are read back.
func (s *Service) notePolicy(e *events.AdmissionAccepted) {
	if !isPolicyKind(e.Kind) {
		return
	}
	if s.policies == nil {
		s.policies, s.bindings = map[string]*policyState{}, map[string]admissionpolicy.Binding{}
	}
	switch {
	case e.Op == events.OpDelete && e.Kind == policyToken:
		delete(s.policies, e.Name)
	case e.Op == events.OpDelete:
		delete(s.bindings, e.Name)
	case e.Kind == policyToken:
		if st := s.policies[e.Name]; st == nil || st.generation != e.Generation {
			s.policies[e.Name] = &policyState{generation: e.Generation, canonical: e.Object}
		}
	default:
		o, err := admissionpolicy.SpecOf(e.Object)
		if b := o.ValidatingAdmissionPolicyBinding(); err == nil && b != nil {
			s.bindings[e.Name] = admissionpolicy.Binding{Name: e.Name, Spec: *b}
		}
	}
}

// policyOutcome is what the bound policies decided of an intent: the
// denials that refuse it, with the first denial's reason as the
// rejection's code, and the warnings and audit records of the rest.
type policyOutcome struct {
	denials, warnings, audits []string
	code                      string
}

// policyVerdict judges an apply (object set) or a delete (object nil) of
// kind/ns/name against the bound policies.
func (s *Service) policyVerdict(p pendingIntent, kind, ns, name string, object json.RawMessage, o *object) (v policyOutcome) {
	if len(s.bindings) == 0 || isPolicyKind(kind) {
		return v
	}
	k, ok := manifest.KindOfToken(kind)
	if !ok {
		return v
	}
	r := &admissionpolicy.Request{Kind: k, Name: name, UserName: p.env.Actor, Object: object}
	switch {
	case object == nil:
		r.Operation, r.OldObject = manifest.OperationDelete, o.canonical
	case o.exists:
		r.Operation, r.OldObject = manifest.OperationUpdate, o.canonical
	default:
		r.Operation = manifest.OperationCreate
	}
	if ns != events.ClusterScope {
		r.Namespace, r.NamespaceObject = ns, s.namespaceObject(ns)
	}
	budget := admissionpolicy.NewBudget()
	// Bindings in name order: the same verdict on every replay.
	names := make([]string, 0, len(s.bindings))
	for n := range s.bindings {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		b := s.bindings[n]
		st := s.policies[b.Spec.PolicyName]
		if st == nil {
			continue // a binding of a policy not (or no longer) there binds nothing
		}
		if st.compiled == nil && st.err == nil {
			st.compiled, st.err = compiledPolicies.Get(string(st.canonical))
		}
		if st.err != nil {
			// A policy stored that no longer compiles (a newer Gantry's
			// stricter checks) follows its failurePolicy, as Kubernetes.
			if spec, err := admissionpolicy.SpecOf(st.canonical); err == nil && spec.ValidatingAdmissionPolicy() != nil &&
				spec.ValidatingAdmissionPolicy().Failure() == manifest.FailurePolicyIgnore {
				continue
			}
			v.denials = append(v.denials, fmt.Sprintf("ValidatingAdmissionPolicy '%s' with binding '%s' denied request: policy does not compile: %v",
				b.Spec.PolicyName, n, st.err))
			continue
		}
		if !admissionpolicy.Matches(st.compiled.Spec.MatchConstraints, r, true) || !admissionpolicy.Matches(b.Spec.MatchResources, r, false) {
			continue
		}
		out := admissionpolicy.Evaluate(st.compiled, b, r, budget)
		if v.code == "" && len(out.Denials) > 0 {
			v.code = out.Reason
		}
		v.denials = append(v.denials, out.Denials...)
		v.warnings = append(v.warnings, out.Warnings...)
		v.audits = append(v.audits, out.Audits...)
	}
	return v
}

// namespaceObject is a namespace's object as policies see it, with the
// label kubernetes.io/metadata.name that Kubernetes gives every namespace.
func (s *Service) namespaceObject(ns string) json.RawMessage {
	var obj map[string]any
	if o := s.objects["namespace/"+events.ClusterScope+"/"+ns]; o != nil && o.exists {
		_ = json.Unmarshal(o.canonical, &obj)
	}
	if obj == nil {
		obj = map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}
	}
	meta, _ := obj["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{"name": ns}
		obj["metadata"] = meta
	}
	labels, _ := meta["labels"].(map[string]any)
	if labels == nil {
		labels = map[string]any{}
		meta["labels"] = labels
	}
	labels["kubernetes.io/metadata.name"] = ns
	b, _ := json.Marshal(obj)
	return b
}
