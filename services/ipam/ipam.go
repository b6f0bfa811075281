// Package ipam is the service that gives each node its pod CIDR: a subnet
// of the cluster CIDR, so that a node does not need to be told one that
// no other node has (Kubernetes' node IPAM controller, range allocator).
package ipam

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/services/runner"
)

// Name of the service.
const Name = "ipam"

// Defaults: k3s' cluster CIDR, cut in /24s (254 pods a node, above the
// 110 a node runs by default).
const (
	DefaultClusterCIDR  = "10.42.0.0/16"
	DefaultNodeMaskSize = 24
)

// Service allocates pod CIDRs.
type Service struct {
	cluster netip.Prefix
	bits    int
	// requests are each node's newest request; answered the sequence of
	// the newest request answered for each; alloc what each was given;
	// taken the node of each CIDR given; seq the newest sequence on
	// events.SubjectNodeCIDRAlloc (the fence).
	requests map[string]request
	answered map[string]uint64
	alloc    map[string]netip.Prefix
	taken    map[netip.Prefix]string
	seq      uint64
}

// request is a node's request: the CIDR it asked for ("" any), and the
// request's sequence in the observations.
type request struct {
	want string
	seq  uint64
}

// New returns an ipam service for cluster CIDR cidr, cut in subnets of
// nodeMask bits.
func New(cidr string, nodeMask int) (*Service, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() {
		return nil, fmt.Errorf("cluster CIDR %q: must be an IPv4 prefix such as %s", cidr, DefaultClusterCIDR)
	}
	if nodeMask < p.Bits() || nodeMask > 30 {
		return nil, fmt.Errorf("node mask /%d: must be between /%d (the cluster CIDR's) and /30", nodeMask, p.Bits())
	}
	return &Service{cluster: p.Masked(), bits: nodeMask, requests: map[string]request{}, answered: map[string]uint64{},
		alloc: map[string]netip.Prefix{}, taken: map[netip.Prefix]string{}}, nil
}

// Name implements runner.Service.
func (s *Service) Name() string { return Name }

// Sources implements runner.Service.
func (s *Service) Sources() []runner.Source {
	return []runner.Source{
		{Stream: events.StreamObservations, Filters: []string{events.SubjectObsNodeCIDRAll}},
		{Stream: events.StreamDecisions, Filters: []string{events.SubjectNodeCIDRAlloc}},
	}
}

// Apply implements runner.Service.
func (s *Service) Apply(r events.Record) {
	switch e := r.Event.(type) {
	case *events.NodeCIDRRequested:
		s.requests[e.Node] = request{want: e.Requested, seq: r.Seq}
	case *events.NodeCIDRAllocated:
		s.seq = r.Seq
		s.answered[e.Node] = max(s.answered[e.Node], e.RequestSeq)
		if e.Refused != "" {
			return
		}
		p, err := netip.ParsePrefix(e.PodCIDR)
		if err != nil {
			return
		}
		if old, ok := s.alloc[e.Node]; ok {
			delete(s.taken, old)
		}
		s.alloc[e.Node], s.taken[p.Masked()] = p.Masked(), e.Node
	}
}

// Decide implements runner.Service: one answer a pass (each expects the
// subject's newest sequence, so a pass's second would be refused by the
// log), to the first node by name whose newest request is not answered
// yet. A node that has a CIDR and asks for none, or for the one it has,
// gets it again (a restarted node).
func (s *Service) Decide(time.Time) []runner.Decision {
	names := make([]string, 0, len(s.requests))
	for n, r := range s.requests {
		if s.answered[n] < r.seq {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	return []runner.Decision{s.decide(names[0], s.requests[names[0]])}
}

// decide allocates node's CIDR: the one it asked for when it is valid and
// no other node's (inside the cluster CIDR or not: a node may be given one
// by hand), else, without a request, the first free subnet of the cluster
// CIDR; else a refusal with the reason.
func (s *Service) decide(node string, req request) runner.Decision {
	want := req.want
	e := &events.NodeCIDRAllocated{Node: node, RequestSeq: req.seq}
	if have, ok := s.alloc[node]; ok && (want == "" || samePrefix(want, have)) {
		e.PodCIDR = have.String()
	} else if want != "" {
		p, err := netip.ParsePrefix(want)
		switch {
		case err != nil || !p.Addr().Is4():
			e.Refused = fmt.Sprintf("pod CIDR %q is not an IPv4 prefix", want)
		case s.overlaps(p.Masked(), node) != "":
			e.Refused = fmt.Sprintf("pod CIDR %s overlaps node %s's", p.Masked(), s.overlaps(p.Masked(), node))
		default:
			e.PodCIDR = p.Masked().String()
		}
	} else if p, ok := s.free(node); ok {
		e.PodCIDR = p.String()
	} else {
		e.Refused = fmt.Sprintf("the cluster CIDR %s has no free /%d left", s.cluster, s.bits)
	}
	msgID := fmt.Sprintf("nodecidr/%s/%d", node, req.seq)
	return runner.Decision{
		Subject:       events.SubjectNodeCIDRAlloc,
		Event:         e,
		Meta:          events.Meta{ID: events.DeriveID(msgID), Source: Name, Subject: node},
		MsgID:         msgID,
		ExpectLastSeq: bus.Expect(s.seq),
	}
}

// overlaps names the node (other than node) whose CIDR overlaps p, or "".
func (s *Service) overlaps(p netip.Prefix, node string) string {
	for q, n := range s.taken {
		if n != node && q.Overlaps(p) {
			return n
		}
	}
	return ""
}

// free is the first subnet of the cluster CIDR no node's CIDR overlaps.
func (s *Service) free(node string) (netip.Prefix, bool) {
	base := binary.BigEndian.Uint32(s.cluster.Addr().AsSlice())
	size := uint32(1) << (32 - s.bits)
	count := uint64(1) << (s.bits - s.cluster.Bits())
	for i := uint64(0); i < count; i++ {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], base+uint32(i)*size)
		p := netip.PrefixFrom(netip.AddrFrom4(b), s.bits)
		if s.overlaps(p, node) == "" {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// samePrefix reports a written prefix that is p.
func samePrefix(written string, p netip.Prefix) bool {
	q, err := netip.ParsePrefix(written)
	return err == nil && q.Masked() == p
}
