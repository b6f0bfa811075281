package ipam_test

import (
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
	"github.com/gantry-sh/gantry/services/ipam"
)

// world is a log and the ipam service folding it.
type world struct {
	t   *testing.T
	l   *pt.Log
	svc *ipam.Service
}

func newWorld(t *testing.T, cidr string, mask int) *world {
	svc, err := ipam.New(cidr, mask)
	if err != nil {
		t.Fatal(err)
	}
	return &world{t: t, l: pt.NewLog(), svc: svc}
}

// ask appends a node's request; settle decides and stores until nothing
// more is decided, returning the answers by node (the last each got).
func (w *world) ask(node, want string) {
	w.svc.Apply(w.l.Append(events.ObsNodeCIDRSubject(node), &events.NodeCIDRRequested{Node: node, Requested: want}))
}

func (w *world) settle() map[string]*events.NodeCIDRAllocated {
	w.t.Helper()
	out := map[string]*events.NodeCIDRAllocated{}
	for range 100 {
		ds := w.svc.Decide(time.Now())
		if len(ds) == 0 {
			return out
		}
		if len(ds) != 1 {
			w.t.Fatalf("%d decisions in one pass, want one (each expects the subject's last sequence)", len(ds))
		}
		d := ds[0]
		r, dup, err := w.l.Publish(d.Subject, d.Event, d.MsgID, d.ExpectLastSeq, d.ExpectOn)
		if err != nil || dup {
			w.t.Fatalf("the log refuses %s: dup %v, %v", d.MsgID, dup, err)
		}
		w.svc.Apply(r)
		e := d.Event.(*events.NodeCIDRAllocated)
		out[e.Node] = e
	}
	w.t.Fatal("still deciding")
	return nil
}

// Given three nodes asking for any, one asking for a given one, and one
// asking for a taken one, expect the first free /24s by name, the given
// one honoured, the taken one refused naming its node; a node asking
// again gets what it has; a replay decides nothing.
func TestAllocatesDistinctCIDRs(t *testing.T) {
	w := newWorld(t, "10.42.0.0/16", 24)
	w.ask("b", "")
	w.ask("a", "")
	w.ask("manual", "10.42.7.0/24")
	got := w.settle()
	if got["a"].PodCIDR != "10.42.0.0/24" || got["b"].PodCIDR != "10.42.1.0/24" || got["manual"].PodCIDR != "10.42.7.0/24" {
		t.Fatalf("allocations a %+v b %+v manual %+v", got["a"], got["b"], got["manual"])
	}
	w.ask("c", "10.42.1.0/24")
	w.ask("d", "")
	got = w.settle()
	if got["c"].Refused != "pod CIDR 10.42.1.0/24 overlaps node b's" || got["c"].PodCIDR != "" {
		t.Errorf("c: %+v", got["c"])
	}
	if got["d"].PodCIDR != "10.42.2.0/24" {
		t.Errorf("d: %+v", got["d"])
	}
	w.ask("a", "") // restarted
	if got = w.settle(); got["a"].PodCIDR != "10.42.0.0/24" {
		t.Errorf("a again: %+v", got["a"])
	}
	fresh, _ := ipam.New("10.42.0.0/16", 24)
	pt.ApplyAll(fresh, w.l.Records...)
	if ds := fresh.Decide(time.Now()); len(ds) != 0 {
		t.Errorf("a replay decides %d", len(ds))
	}
}

// Given a cluster CIDR of two /24s and three nodes, expect the third
// refused: full.
func TestAFullClusterCIDRIsRefused(t *testing.T) {
	w := newWorld(t, "10.42.0.0/23", 24)
	for _, n := range []string{"a", "b", "c"} {
		w.ask(n, "")
	}
	got := w.settle()
	if got["c"].Refused != "the cluster CIDR 10.42.0.0/23 has no free /24 left" {
		t.Errorf("c: %+v", got["c"])
	}
	if _, err := ipam.New("10.42.0.0/16", 12); err == nil {
		t.Error("a node mask wider than the cluster CIDR accepted")
	}
	if _, err := ipam.New("fd00::/64", 80); err == nil {
		t.Error("an IPv6 cluster CIDR accepted")
	}
}
