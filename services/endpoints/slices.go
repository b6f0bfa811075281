package endpoints

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/poddecision"
	"github.com/gantry-sh/gantry/services/runner"
)

// EndpointSlices. A Service with a selector has, as endpoints, the pods of
// its namespace the selector picks that have an IP and have not ended.
// Each endpoint's ports are the Service's ports with targetPort resolved
// (a number, or the number of the pod's container port of that name; a
// pod without it is left out, and the Service's PortsResolved condition
// says so). Endpoints with the same resolved ports share slices of at most
// manifest.MaxEndpointsPerSlice, named <service>-<n>.
//
// Conditions, as Kubernetes' v1: serving = the pod is Ready; ready =
// serving and not terminating; terminating = its deletion is decided. A
// pod leaves ready the moment its deletion is decided, so nodes stop
// sending it new connections while it still drains.
//
// Slices are kept stable, as Kubernetes' controller keeps them: an
// endpoint stays in the slice it is in while its ports do not change, a
// new one goes to the first slice of its ports with room, then to a slice
// left empty, then to a new one; a slice left empty is deleted. So one
// pod's change rewrites one slice of 100, not every slice after it. A
// slice is decided only when its content changes.

// ConditionPortsResolved is the Service condition that says whether every
// pod its selector picks declares the container ports its targetPorts name.
const ConditionPortsResolved = "PortsResolved"

// member is one pod behind a Service: its endpoint and resolved ports.
type member struct {
	pod    *projections.Pod
	ep     manifest.Endpoint
	ports  []manifest.EndpointPort
	sig    string
	placed bool
}

// slice is one slice being decided: an existing one (w) or a new one.
type slice struct {
	name  string
	w     *projections.Workload
	sig   string
	ports []manifest.EndpointPort
	eps   []manifest.Endpoint
}

// examine decides for the Service of key: its allocation (collected in the
// pass), its slices and its PortsResolved condition, at most limit
// decisions of the latter two.
func (p *pass) examine(key string, limit int) []runner.Decision {
	c := p.s.c
	_, ns, name := splitKey(key)
	w := c.Workloads[key]
	live := w != nil && !w.Deleted && w.Object.Service() != nil
	for _, uid := range p.s.allocs.byKey[key] {
		if !live || uid != w.UID {
			cause := events.Envelope{}
			if w != nil && w.UID == uid {
				cause = w.Cause()
			}
			p.release(key, uid, cause)
		}
	}
	if live {
		p.allocate(w)
	}
	if w == nil {
		delete(p.s.services[ns], key)
	}
	var out []runner.Decision
	var mine []*projections.Workload
	for _, sk := range slices.Sorted(maps.Keys(p.s.sliceOf[key])) {
		sl := c.Workloads[sk]
		if sl == nil || sl.Owner == nil || sl.Owner.Name != name {
			delete(p.s.sliceOf[key], sk) // forgotten, or another's now
			continue
		}
		if sl.Deleted {
			continue
		}
		if !live || sl.Owner.UID != w.UID || len(w.Object.Service().Selector) == 0 {
			why := "its Service was deleted"
			if live {
				why = "its Service no longer selects pods"
			}
			out = append(out, poddecision.DeleteObject(sl, why, sl.Cause(), Name))
			continue
		}
		mine = append(mine, sl)
	}
	if len(p.s.sliceOf[key]) == 0 {
		delete(p.s.sliceOf, key)
	}
	if !live || len(w.Object.Service().Selector) == 0 {
		return capped(out, limit)
	}
	members, missing := p.members(w)
	out = append(out, p.assign(w, mine, members)...)
	if d, ok := p.condition(w, missing); ok {
		out = append(out, d)
	}
	return capped(out, limit)
}

func capped(ds []runner.Decision, limit int) []runner.Decision {
	if len(ds) > limit {
		return ds[:limit]
	}
	return ds
}

// members are the pods behind the Service w, by name, and, by port index,
// whether some picked pod lacks the container port its targetPort names.
func (p *pass) members(w *projections.Workload) ([]*member, map[int]bool) {
	spec := w.Object.Service()
	pods, ok := p.podsIn[w.Namespace]
	if !ok {
		pods = p.s.c.PodsIn(w.Namespace)
		p.podsIn[w.Namespace] = pods
	}
	var out []*member
	missing := map[int]bool{}
	for _, pod := range pods {
		if !selects(spec.Selector, pod.Labels) || pod.Node == "" || pod.Status == nil || pod.Status.PodIP == "" || pod.Terminal() {
			continue
		}
		ports, lacks := resolvePorts(spec, pod.Spec)
		if lacks >= 0 {
			missing[lacks] = true
			continue
		}
		// As Kubernetes: an endpoint has a hostname (and the pod a DNS name
		// <hostname>.<service>.<ns>.svc) when the pod names one and its
		// subdomain is this Service (a StatefulSet's pods, serviceName).
		hostname := ""
		if pod.Spec.Hostname != "" && pod.Spec.Subdomain == w.Name {
			hostname = pod.Spec.Hostname
		}
		ready := pod.Ready()
		out = append(out, &member{pod: pod, ports: ports, sig: signature(ports), ep: manifest.Endpoint{
			Addresses:  []string{pod.Status.PodIP},
			Conditions: manifest.EndpointConditions{Ready: ready && !pod.Deleting, Serving: ready, Terminating: pod.Deleting},
			Hostname:   hostname, NodeName: pod.Node,
			TargetRef: &manifest.ObjectReference{Kind: manifest.KindPod, Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		}})
	}
	return out, missing
}

// resolvePorts is the Service's ports with targetPort resolved against the
// pod's containers, or the index of the first port it cannot resolve (-1:
// none).
func resolvePorts(spec *manifest.ServiceSpec, pod manifest.PodSpec) ([]manifest.EndpointPort, int) {
	out := make([]manifest.EndpointPort, 0, len(spec.Ports))
	for i, sp := range spec.Ports {
		proto := sp.Protocol
		if proto == "" {
			proto = manifest.ProtocolTCP
		}
		port := sp.Port
		if tp := sp.TargetPort; tp != nil && tp.IsString {
			n, ok := namedPort(pod, tp.Str, proto)
			if !ok {
				return nil, i
			}
			port = n
		} else if tp != nil {
			port = tp.Int
		}
		out = append(out, manifest.EndpointPort{Name: sp.Name, Protocol: proto, Port: port})
	}
	return out, -1
}

// namedPort is the number of the pod's container port called name, of
// protocol proto.
func namedPort(pod manifest.PodSpec, name, proto string) (int32, bool) {
	for _, c := range pod.Containers {
		for _, cp := range c.Ports {
			cproto := cp.Protocol
			if cproto == "" {
				cproto = manifest.ProtocolTCP
			}
			if cp.Name == name && cproto == proto {
				return cp.ContainerPort, true
			}
		}
	}
	return 0, false
}

func signature(ports []manifest.EndpointPort) string {
	var b strings.Builder
	for _, pt := range ports {
		fmt.Fprintf(&b, "%s/%s/%d,", pt.Name, pt.Protocol, pt.Port)
	}
	return b.String()
}

// assign places the members in the Service's slices (see the comment at
// the top of the file) and decides the slices whose content changed.
func (p *pass) assign(w *projections.Workload, existing []*projections.Workload, members []*member) []runner.Decision {
	byUID := make(map[string]*member, len(members))
	for _, m := range members {
		byUID[m.pod.UID] = m
	}
	var sls []*slice
	for _, ew := range existing { // by name
		es := ew.Object.EndpointSlice()
		if es == nil {
			continue
		}
		sl := &slice{name: ew.Name, w: ew, ports: es.Ports, sig: signature(es.Ports)}
		for _, e := range es.Endpoints {
			if e.TargetRef == nil {
				continue
			}
			if m := byUID[e.TargetRef.UID]; m != nil && !m.placed && m.sig == sl.sig {
				sl.eps = append(sl.eps, m.ep)
				m.placed = true
			}
		}
		sls = append(sls, sl)
	}
	rest := make([]*member, 0, len(members))
	for _, m := range members {
		if !m.placed {
			rest = append(rest, m)
		}
	}
	sort.SliceStable(rest, func(i, j int) bool { return rest[i].sig < rest[j].sig })
	next := 0
	for _, m := range rest {
		var to *slice
		for _, sl := range sls { // a slice of its ports with room
			if sl.sig == m.sig && len(sl.eps) > 0 && len(sl.eps) < manifest.MaxEndpointsPerSlice {
				to = sl
				break
			}
		}
		for _, sl := range sls { // else one left empty
			if to == nil && len(sl.eps) == 0 {
				to, sl.sig, sl.ports = sl, m.sig, m.ports
			}
		}
		if to == nil { // else a new one
			for ; ; next++ {
				name := fmt.Sprintf("%s-%d", w.Name, next)
				if p.s.c.Workloads[projections.WorkloadKey(kindSlice, w.Namespace, name)] == nil && !named(sls, name) {
					to = &slice{name: name, sig: m.sig, ports: m.ports}
					sls = append(sls, to)
					break
				}
			}
		}
		to.eps = append(to.eps, m.ep)
	}
	var out []runner.Decision
	for _, sl := range sls {
		if len(sl.eps) == 0 {
			if sl.w != nil {
				out = append(out, poddecision.DeleteObject(sl.w, "no endpoints left in it", w.Cause(), Name))
			}
			continue
		}
		if d, ok := p.decideSlice(w, sl); ok {
			out = append(out, d)
		}
	}
	return out
}

func named(sls []*slice, name string) bool {
	for _, sl := range sls {
		if sl.name == name {
			return true
		}
	}
	return false
}

// decideSlice decides sl, owned by the Service w, unless the fold's copy
// already says the same.
func (p *pass) decideSlice(w *projections.Workload, sl *slice) (runner.Decision, bool) {
	sort.Slice(sl.eps, func(i, j int) bool { return sl.eps[i].TargetRef.Name < sl.eps[j].TargetRef.Name })
	spec := manifest.EndpointSliceSpec{AddressType: manifest.AddressTypeIPv4, Endpoints: sl.eps, Ports: sl.ports}
	labels := map[string]string{manifest.LabelServiceName: w.Name, "endpointslice.kubernetes.io/managed-by": manifest.EndpointSliceManagedBy}
	gen := int64(1)
	uid := ""
	if sl.w != nil {
		if old := sl.w.Object.EndpointSlice(); old != nil && sameJSON(*old, spec) && sameJSON(sl.w.Object.Metadata.Labels, labels) {
			return runner.Decision{}, false
		}
		gen, uid = sl.w.Generation+1, sl.w.UID
	} else {
		uid = events.DeriveID(fmt.Sprintf("endpointslice/%s/%s/%d", w.UID, sl.name, p.s.c.WorkloadDecisionSeq(kindSlice, w.Namespace, sl.name)))
	}
	obj := manifest.Object{APIVersion: manifest.APIDiscoveryV1, Kind: manifest.KindEndpointSlice,
		Metadata: manifest.ObjectMeta{Name: sl.name, Namespace: w.Namespace, Labels: labels}, Spec: &spec}
	raw, err := json.Marshal(obj)
	if err != nil {
		return runner.Decision{}, false // cannot happen for these types
	}
	ready := 0
	for _, e := range sl.eps {
		if e.Conditions.Ready {
			ready++
		}
	}
	msgID := fmt.Sprintf("endpointslice/%s/%d", uid, gen)
	return runner.Decision{
		Subject: events.WorkloadSubject(w.Namespace, kindSlice, sl.name),
		Event: &events.WorkloadDecided{Kind: kindSlice, Namespace: w.Namespace, Name: sl.name, UID: uid, Generation: gen,
			Owner: &events.OwnerRef{Kind: kindService, Name: w.Name, UID: w.UID}, Object: raw,
			Reason: fmt.Sprintf("endpoints of service %s: %d, %d ready", w.Name, len(sl.eps), ready)},
		Meta:          w.Cause().Caused(events.DeriveID(msgID), Name, w.Namespace+"/"+sl.name, time.Time{}),
		MsgID:         msgID,
		ExpectLastSeq: bus.Expect(p.s.c.WorkloadDecisionSeq(kindSlice, w.Namespace, sl.name)),
	}, true
}

func sameJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// condition decides the Service's PortsResolved condition when it changes:
// False, naming the targetPorts some picked pods do not declare; True again
// once none is missing (never decided True before it was False).
func (p *pass) condition(w *projections.Workload, missing map[int]bool) (runner.Decision, bool) {
	spec := w.Object.Service()
	cur := w.Decided().Condition(ConditionPortsResolved)
	want := manifest.Condition{Type: ConditionPortsResolved, Status: manifest.ConditionTrue, Reason: "Resolved",
		Message: "every pod selected declares the ports the Service's targetPorts name"}
	if len(missing) > 0 {
		var msgs []string
		for i, sp := range spec.Ports {
			if missing[i] {
				msgs = append(msgs, fmt.Sprintf("spec.ports[%d].targetPort: pods selected declare no container port named %q", i, sp.TargetPort.Str))
			}
		}
		want.Status, want.Reason = manifest.ConditionFalse, "NamedPortNotFound"
		want.Message = strings.Join(msgs, "; ") + "; they are left out of the endpoints"
	}
	switch {
	case cur == nil && want.Status == manifest.ConditionTrue:
		return runner.Decision{}, false
	case cur != nil && cur.Status == want.Status && cur.Message == want.Message:
		return runner.Decision{}, false
	}
	want.LastTransitionTime = p.s.now.UTC()
	if cur != nil && cur.Status == want.Status {
		want.LastTransitionTime = cur.LastTransitionTime // only the message changed
	}
	msgID := fmt.Sprintf("service-status/%s/%d", w.UID, w.LastDecisionSeq)
	return runner.Decision{
		Subject: events.WorkloadSubject(w.Namespace, kindService, w.Name),
		Event: &events.WorkloadStatusDecided{Kind: kindService, Namespace: w.Namespace, Name: w.Name, UID: w.UID,
			Conditions: []manifest.Condition{want}, Message: want.Message},
		Meta:          w.Cause().Caused(events.DeriveID(msgID), Name, w.Namespace+"/"+w.Name, time.Time{}),
		MsgID:         msgID,
		ExpectLastSeq: bus.Expect(w.LastDecisionSeq),
	}, true
}
