package endpoints

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/runner"
)

// Allocation. A Service that is not headless gets a virtual IP from the
// service CIDR; of a /16, the network address (.0.0), the first address
// (.0.1, reserved as Kubernetes reserves it, for the API) and the broadcast
// address (.255.255) are never given, so 65,533 are. A NodePort or
// LoadBalancer also gets a node port per port, from 30000–32767. An
// explicit spec.clusterIP or nodePort is given if it is free and in range;
// otherwise the Service is refused, and the reason names the Service that
// holds it. A free address is chosen from a hash of the Service's uid,
// probing upward: the same fold always gives the same address.
//
// Every allocation, refusal and release is a ServiceAllocated on
// events.SubjectServiceAlloc. A pass's are stored in one atomic batch whose
// first message expects the subject's newest sequence (the fold's
// AllocSeq): a pass decided from a stale fold, or by a second allocator,
// is refused whole, so the log never holds one address given twice. A
// refusal keeps what the Service held before (a changed clusterIP is
// refused, the old one kept); a release (the Service deleted, or become
// headless) frees everything.

// ParseCIDR parses a service CIDR: an IPv4 prefix of at most /30 ("" is
// DefaultCIDR).
func ParseCIDR(s string) (netip.Prefix, error) {
	if s == "" {
		s = DefaultCIDR
	}
	p, err := netip.ParsePrefix(s)
	switch {
	case err != nil:
		return netip.Prefix{}, fmt.Errorf("service CIDR %q: %w", s, err)
	case !p.Addr().Is4():
		return netip.Prefix{}, fmt.Errorf("service CIDR %q: must be IPv4", s)
	case p.Bits() > 30:
		return netip.Prefix{}, fmt.Errorf("service CIDR %q: must hold at least 4 addresses (/30)", s)
	}
	return p.Masked(), nil
}

// held is what every Service holds, as of the fold's AllocSeq seq.
type held struct {
	seq   uint64
	ips   map[netip.Addr]string // → uid
	ports map[int32]string      // → uid
	byKey map[string][]string   // Service key → uids, sorted
	keyOf map[string]string     // uid → Service key
}

// refreshHeld rebuilds held when the fold's allocations moved.
func (s *Service) refreshHeld() {
	if s.allocs != nil && s.allocs.seq == s.c.AllocSeq {
		return
	}
	h := &held{seq: s.c.AllocSeq, ips: map[netip.Addr]string{}, ports: map[int32]string{}, byKey: map[string][]string{}, keyOf: map[string]string{}}
	for uid, a := range s.c.Allocations() {
		if ip, err := netip.ParseAddr(a.ClusterIP); err == nil {
			h.ips[ip] = uid
		}
		for _, np := range a.NodePorts {
			if np != 0 {
				h.ports[np] = uid
			}
		}
		h.byKey[a.Key] = append(h.byKey[a.Key], uid)
		h.keyOf[uid] = a.Key
	}
	for _, uids := range h.byKey {
		sort.Strings(uids)
	}
	s.allocs = h
}

// readyAddresses are the addresses of the Ready nodes, sorted: where a
// LoadBalancer is served.
func (s *Service) readyAddresses(now time.Time) []string {
	var out []string
	for _, n := range s.c.Nodes {
		if n.Info.Address != "" && n.Ready(now) {
			out = append(out, n.Info.Address)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// pass is one Decide's work: the addresses held as it goes (the fold's,
// with what it gave and freed), and its allocation decisions.
type pass struct {
	s       *Service
	podsIn  map[string][]*projections.Pod
	allocs  []runner.Decision
	ips     holders[netip.Addr]
	ports   holders[int32]
	takenBy map[string]string // uid → "ns/name", for what this pass gave
}

func newPass(s *Service) *pass {
	return &pass{s: s, podsIn: map[string][]*projections.Pod{}, takenBy: map[string]string{},
		ips:   holders[netip.Addr]{held: s.allocs.ips, taken: map[netip.Addr]string{}, freed: map[netip.Addr]bool{}},
		ports: holders[int32]{held: s.allocs.ports, taken: map[int32]string{}, freed: map[int32]bool{}}}
}

// holders says who holds each address (a virtual IP, a node port): the
// fold's held, overlaid by what the pass gave (taken) and freed.
type holders[K comparable] struct {
	held  map[K]string
	taken map[K]string
	freed map[K]bool
}

func (h holders[K]) holder(k K) (string, bool) {
	if uid, ok := h.taken[k]; ok {
		return uid, true
	}
	if h.freed[k] {
		return "", false
	}
	uid, ok := h.held[k]
	return uid, ok
}

func (h holders[K]) take(k K, uid string) {
	h.taken[k] = uid
	delete(h.freed, k)
}

// free frees k if uid holds it.
func (h holders[K]) free(k K, uid string) {
	if got, ok := h.holder(k); ok && got == uid {
		delete(h.taken, k)
		h.freed[k] = true
	}
}

// holderName is "ns/name" of the Service holding uid's allocation.
func (p *pass) holderName(uid string) string {
	if n, ok := p.takenBy[uid]; ok {
		return n
	}
	_, ns, name := splitKey(p.s.allocs.keyOf[uid])
	return ns + "/" + name
}

// free forgets what a (held by uid) held, for the rest of the pass.
func (p *pass) free(uid string, a projections.Allocation) {
	if ip, err := netip.ParseAddr(a.ClusterIP); err == nil {
		p.ips.free(ip, uid)
	}
	for _, np := range a.NodePorts {
		p.ports.free(np, uid)
	}
}

// release frees what the Service incarnation uid (of key) holds and clears
// its status.
func (p *pass) release(key, uid string, cause events.Envelope) {
	p.free(uid, p.s.c.Allocations()[uid])
	_, ns, name := splitKey(key)
	p.decide(&events.ServiceAllocated{Namespace: ns, Name: name, UID: uid, Released: true}, "released", cause)
}

func (p *pass) decide(e *events.ServiceAllocated, what string, cause events.Envelope) {
	msgID := fmt.Sprintf("svcalloc/%d/%s/%s", p.s.c.AllocSeq, e.UID, what)
	p.allocs = append(p.allocs, runner.Decision{
		Subject: events.SubjectServiceAlloc,
		Event:   e,
		Meta:    cause.Caused(events.DeriveID(msgID), Name, e.Namespace+"/"+e.Name, time.Time{}),
		MsgID:   msgID,
	})
}

// allocDecisions are the pass's allocations as one atomic group, the first
// expecting the allocation subject's newest sequence: it fences them all
// (an expectation on a subject written earlier in the same batch is not
// allowed, and not needed).
func (p *pass) allocDecisions() []runner.Decision {
	if len(p.allocs) == 0 {
		return nil
	}
	p.allocs[0].ExpectLastSeq = bus.Expect(p.s.c.AllocSeq)
	if len(p.allocs) > 1 {
		for i := range p.allocs {
			p.allocs[i].Atomic = fmt.Sprintf("svcalloc/%d", p.s.c.AllocSeq)
		}
	}
	return p.allocs
}

// allocate decides what the live Service w should hold, if that is not
// what it holds and shows.
func (p *pass) allocate(w *projections.Workload) {
	spec := w.Object.Service()
	cur, holds := p.s.c.Allocations()[w.UID]
	st := w.Decided().Service
	key := projections.WorkloadKey(kindService, w.Namespace, w.Name)
	if spec.Headless() {
		if holds || st != nil {
			p.release(key, w.UID, w.Cause())
		}
		return
	}
	want := &events.ServiceAllocated{Namespace: w.Namespace, Name: w.Name, UID: w.UID}
	ip, refused := p.clusterIP(spec, w.UID, cur)
	var ports []int32
	if refused == "" && spec.HasNodePorts() {
		ports, refused = p.nodePorts(spec, w.UID, cur)
	}
	if refused != "" {
		want.ClusterIP, want.NodePorts, want.Refused = cur.ClusterIP, cur.NodePorts, refused
		if holds && st != nil {
			want.Ingress = st.Ingress // still served where it was
		}
	} else {
		want.ClusterIP, want.NodePorts = ip.String(), ports
		if spec.Type == manifest.ServiceTypeLoadBalancer {
			want.Ingress = p.s.ingress
		}
	}
	same := st != nil && st.ClusterIP == want.ClusterIP && slices.Equal(st.NodePorts, want.NodePorts) &&
		slices.Equal(st.Ingress, want.Ingress) && st.Refused == want.Refused
	if refused == "" {
		same = same && holds && cur.ClusterIP == want.ClusterIP && slices.Equal(cur.NodePorts, want.NodePorts)
	}
	if same {
		return
	}
	what := "refused"
	if refused == "" {
		what = want.ClusterIP
		for _, n := range ports {
			what += fmt.Sprintf(":%d", n)
		}
		p.free(w.UID, cur)
		p.ips.take(ip, w.UID)
		for _, n := range ports {
			p.ports.take(n, w.UID)
		}
		p.takenBy[w.UID] = w.Namespace + "/" + w.Name
	}
	p.decide(want, what, w.Cause())
}

// clusterIP is the virtual IP the Service uid gets: the one it asks, if
// free; the one it holds; or a free one, chosen from its uid. Or why not.
func (p *pass) clusterIP(spec *manifest.ServiceSpec, uid string, cur projections.Allocation) (netip.Addr, string) {
	cidr := p.s.cidr
	size := uint32(1) << (32 - cidr.Bits())
	base := binary.BigEndian.Uint32(cidr.Addr().AsSlice())
	if spec.ClusterIP != "" {
		a, err := netip.ParseAddr(spec.ClusterIP)
		if err != nil || !a.Is4() {
			return netip.Addr{}, fmt.Sprintf("spec.clusterIP: invalid value %q: must be an IPv4 address", spec.ClusterIP)
		}
		if a.String() == cur.ClusterIP {
			return a, ""
		}
		if !cidr.Contains(a) {
			return netip.Addr{}, fmt.Sprintf("spec.clusterIP: invalid value %q: not in the service CIDR %s", spec.ClusterIP, cidr)
		}
		switch binary.BigEndian.Uint32(a.AsSlice()) - base {
		case 0, size - 1:
			return netip.Addr{}, fmt.Sprintf("spec.clusterIP: invalid value %q: the network and broadcast addresses of %s are not given", spec.ClusterIP, cidr)
		case 1:
			return netip.Addr{}, fmt.Sprintf("spec.clusterIP: invalid value %q: the first address of %s is reserved", spec.ClusterIP, cidr)
		}
		if h, ok := p.ips.holder(a); ok && h != uid {
			return netip.Addr{}, fmt.Sprintf("spec.clusterIP: invalid value %q: already allocated to Service %s", spec.ClusterIP, p.holderName(h))
		}
		return a, ""
	}
	if a, err := netip.ParseAddr(cur.ClusterIP); err == nil {
		return a, ""
	}
	n := size - 3 // offsets 2 .. size-2
	start := uint32(hash(uid) % uint64(n))
	for i := uint32(0); i < n; i++ {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], base+2+(start+i)%n)
		a := netip.AddrFrom4(b)
		if h, ok := p.ips.holder(a); !ok || h == uid {
			return a, ""
		}
	}
	return netip.Addr{}, fmt.Sprintf("spec.clusterIP: the service CIDR %s is exhausted (all %d addresses are allocated)", cidr, n)
}

// nodePorts are the node ports, by port index, the Service uid gets: the
// one each port asks, if free; the one it holds; or a free one chosen from
// its uid and the port's index. Or why not.
func (p *pass) nodePorts(spec *manifest.ServiceSpec, uid string, cur projections.Allocation) ([]int32, string) {
	out := make([]int32, len(spec.Ports))
	mine := map[int32]bool{}
	for i, sp := range spec.Ports {
		n := sp.NodePort
		path := fmt.Sprintf("spec.ports[%d].nodePort", i)
		switch {
		case n != 0 && (n < manifest.NodePortMin || n > manifest.NodePortMax):
			return nil, fmt.Sprintf("%s: invalid value %d: not in the node port range %d-%d", path, n, manifest.NodePortMin, manifest.NodePortMax)
		case n != 0 && mine[n]:
			return nil, fmt.Sprintf("%s: duplicate value %d", path, n)
		case n != 0:
			if h, ok := p.ports.holder(n); ok && h != uid {
				return nil, fmt.Sprintf("%s: invalid value %d: already allocated to Service %s", path, n, p.holderName(h))
			}
			out[i], mine[n] = n, true
		}
	}
	for i, sp := range spec.Ports { // keep what is held, where not asked otherwise
		if sp.NodePort == 0 && i < len(cur.NodePorts) && cur.NodePorts[i] != 0 && !mine[cur.NodePorts[i]] {
			out[i], mine[cur.NodePorts[i]] = cur.NodePorts[i], true
		}
	}
	const n = manifest.NodePortMax - manifest.NodePortMin + 1
	for i := range spec.Ports {
		if out[i] != 0 {
			continue
		}
		start := int32(hash(fmt.Sprintf("%s/%d", uid, i)) % n)
		for j := int32(0); j < n && out[i] == 0; j++ {
			np := manifest.NodePortMin + (start+j)%n
			if h, ok := p.ports.holder(np); (!ok || h == uid) && !mine[np] {
				out[i], mine[np] = np, true
			}
		}
		if out[i] == 0 {
			return nil, fmt.Sprintf("spec.ports[%d].nodePort: the node port range %d-%d is exhausted", i, manifest.NodePortMin, manifest.NodePortMax)
		}
	}
	return out, ""
}

func hash(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}
