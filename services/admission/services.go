package admission

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
)

// Services' addresses, as Kubernetes' API server checks them: a Service
// asking for an explicit clusterIP or nodePort another Service holds is
// refused naming that Service, and a Service's clusterIP is immutable
// once it has one (its type may change). What is held is what the
// endpoints service allocated (Cluster.Allocations, folded from
// gantry.decision.svcalloc) and the explicit values of accepted Services
// it has not allocated yet, including those this pass accepted and those
// being stored (so two Services never both get the same address here).
//
// Example: a (accepted, clusterIP 10.43.0.10, not allocated yet) and b
// asking for 10.43.0.10 → b is refused: `spec.clusterIP: invalid value
// "10.43.0.10": provided IP is already allocated (to service default/a)`.

// svcClaim is what an accepted Service asks for explicitly.
type svcClaim struct {
	key       string // projections.WorkloadKey
	uid       string
	headless  bool
	clusterIP string  // "" when it asks for none (or None)
	nodePorts []int32 // by port index, 0 where none is asked
}

// claimOf is the explicit addresses of a Service object.
func claimOf(o manifest.Object, uid string) (svcClaim, bool) {
	s := o.Service()
	if s == nil {
		return svcClaim{}, false
	}
	c := svcClaim{key: projections.WorkloadKey("service", o.Metadata.Namespace, o.Metadata.Name), uid: uid, headless: s.Headless()}
	if !s.Headless() {
		c.clusterIP = s.ClusterIP
	}
	for _, p := range s.Ports {
		c.nodePorts = append(c.nodePorts, p.NodePort)
	}
	return c, true
}

// claimOfJSON is claimOf for an accepted verdict's canonical object.
func claimOfJSON(raw json.RawMessage, uid string) (svcClaim, bool) {
	o, err := manifest.DecodeObject(raw)
	if err != nil {
		return svcClaim{}, false
	}
	return claimOf(o, uid)
}

// noteService keeps the explicit addresses of an accepted Service (or
// forgets them once it is deleted).
func (s *Service) noteService(e *events.AdmissionAccepted) {
	if e.Kind != "service" {
		return
	}
	key := projections.WorkloadKey(e.Kind, e.Namespace, e.Name)
	if e.Op != events.OpApply {
		delete(s.svcClaims, key)
		return
	}
	if c, ok := claimOfJSON(e.Object, e.UID); ok {
		s.svcClaims[key] = c
	}
}

// holders indexes who holds each address: "ip/10.43.0.10", "port/30080"
// → the keys of the Services holding it, sorted: what the endpoints
// service allocated, what accepted Services ask for, and what this pass
// accepted.
func (s *Service) holders(pass []svcClaim) map[string][]string {
	m := map[string][]string{}
	hold := func(what, key string) {
		if !slices.Contains(m[what], key) {
			m[what] = append(m[what], key)
			slices.Sort(m[what])
		}
	}
	claim := func(c svcClaim) {
		if c.clusterIP != "" {
			hold("ip/"+c.clusterIP, c.key)
		}
		for _, np := range c.nodePorts {
			if np != 0 {
				hold(fmt.Sprintf("port/%d", np), c.key)
			}
		}
	}
	for _, a := range s.c.Allocations() {
		claim(svcClaim{key: a.Key, clusterIP: a.ClusterIP, nodePorts: a.NodePorts})
	}
	for _, c := range s.svcClaims {
		if !s.serviceRefused(c.key, c.uid) { // refused, it holds nothing
			claim(c)
		}
	}
	for _, c := range s.svcAssumed {
		claim(c)
	}
	for _, c := range pass {
		claim(c)
	}
	return m
}

// serviceProblems are the reasons a Service is refused for its addresses:
// an explicit clusterIP or nodePort another Service holds, or a clusterIP
// changed after it was set. o is the Service's accepted state.
func (s *Service) serviceProblems(obj manifest.Object, o *object, pass []svcClaim) []string {
	want, ok := claimOf(obj, o.uid)
	if !ok {
		return nil
	}
	var out []string
	if o.exists {
		out = append(out, s.immutable(want, o)...)
	}
	var held map[string][]string
	other := func(what string) (string, bool) {
		if held == nil {
			held = s.holders(pass)
		}
		for _, k := range held[what] {
			if k != want.key { // its own (an earlier generation's) are no conflict
				return k, true
			}
		}
		return "", false
	}
	if want.clusterIP != "" {
		if k, ok := other("ip/" + want.clusterIP); ok {
			out = append(out, fmt.Sprintf("spec.clusterIP: invalid value %q: provided IP is already allocated (to %s)", want.clusterIP, holderName(k)))
		}
	}
	for i, np := range want.nodePorts {
		if np == 0 {
			continue
		}
		if k, ok := other(fmt.Sprintf("port/%d", np)); ok {
			out = append(out, fmt.Sprintf("spec.ports[%d].nodePort: invalid value %d: provided port is already allocated (to %s)", i, np, holderName(k)))
		}
	}
	return out
}

// immutable refuses changing a Service's clusterIP once it has one, as
// Kubernetes does: the IP it was allocated (or, not yet allocated, asked
// for and not refused), or headless to not headless and back. Leaving
// clusterIP out keeps what it holds.
func (s *Service) immutable(want svcClaim, o *object) []string {
	key := want.key
	prev, known := s.svcClaims[key]
	if known && prev.uid != o.uid {
		known = false
	}
	if known && prev.headless != want.headless {
		from, to := "None", want.clusterIP
		if want.headless {
			from, to = prev.clusterIP, "None"
		}
		if from == "" {
			from = "a cluster IP"
		}
		if to == "" {
			to = "a cluster IP"
		}
		return []string{fmt.Sprintf("spec.clusterIP: field is immutable: the Service has %s, this asks for %s (delete the Service and create it again to change it)", from, to)}
	}
	current := ""
	if a, ok := s.c.Allocations()[o.uid]; ok {
		current = a.ClusterIP
	} else if known && prev.clusterIP != "" && !s.serviceRefused(key, o.uid) {
		current = prev.clusterIP
	}
	if current != "" && want.clusterIP != "" && want.clusterIP != current {
		return []string{fmt.Sprintf("spec.clusterIP: field is immutable: the Service has %s, this asks for %s (delete the Service and create it again to change it)", current, want.clusterIP)}
	}
	return nil
}

// serviceRefused reports a Service whose allocation the endpoints service
// refused: it holds nothing, so a new clusterIP is no change.
func (s *Service) serviceRefused(key, uid string) bool {
	w := s.c.Workloads[key]
	if w == nil || w.UID != uid {
		return false
	}
	st := w.Decided().Service
	return st != nil && st.Refused != ""
}

// holderName is how a refusal names a Service: "service default/a".
func holderName(key string) string {
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			return key[:i] + " " + key[i+1:]
		}
	}
	return key
}

// assumeService keeps the explicit addresses of the Services accepted in
// verdicts being stored, by intent seq, until they are read back.
func (s *Service) assumeService(seq uint64, e *events.AdmissionAccepted) {
	if e.Kind != "service" || e.Op != events.OpApply {
		return
	}
	if c, ok := claimOfJSON(e.Object, e.UID); ok {
		s.svcAssumed[seq] = c
	}
}
