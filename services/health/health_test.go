package health_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
	"github.com/gantry-sh/gantry/services/health"
)

// harness is a health service over an in-memory log: decide publishes the
// pass's decisions as the runner would and folds what the log stored.
type harness struct {
	t    *testing.T
	l    *pt.Log
	s    *health.Service
	seen int // records of l folded into s
}

// grace is the tests' Grace (the worked numbers below are in it).
const grace = 4 * time.Second

func newHarness(t *testing.T) *harness {
	s := health.New()
	s.Grace = grace
	return &harness{t: t, l: pt.NewLog(), s: s}
}

// fold applies what the log holds that s has not seen.
func (h *harness) fold() {
	pt.ApplyAll(h.s, h.l.Records[h.seen:]...)
	h.seen = len(h.l.Records)
}

// at moves the log's clock to Start+d.
func (h *harness) at(d time.Duration) { h.l.Now = pt.Start.Add(d) }

func (h *harness) beat(node string) { h.l.Heartbeat(pt.NodeInfo(node, 1000, 1<<30, 110)) }

// decide runs one pass at the log's now, stores its decisions and folds
// them; it returns them as "node Ready|NotReady".
func (h *harness) decide() []string {
	h.t.Helper()
	h.fold()
	var out []string
	for _, d := range h.s.Decide(h.l.Now) {
		e := d.Event.(*events.NodeStateDecided)
		if _, dup, err := h.l.Publish(d.Subject, e, d.MsgID, d.ExpectLastSeq, ""); err != nil || dup {
			h.t.Fatalf("publish %s: dup %v, %v", d.MsgID, dup, err)
		}
		state := "Ready"
		if !e.Ready {
			state = fmt.Sprintf("NotReady (%s: %s)", e.Reason, e.Message)
		}
		// A NotReady node is tainted unreachable (NoSchedule, NoExecute); a Ready one is not.
		if want := map[bool]string{true: "[]", false: "[{node.kubernetes.io/unreachable  NoSchedule} {node.kubernetes.io/unreachable  NoExecute}]"}[e.Ready]; fmt.Sprint(e.Taints) != want {
			h.t.Errorf("%s %s: taints %v, want %s", e.Node, state, e.Taints, want)
		}
		out = append(out, e.Node+" "+state)
	}
	h.fold()
	return out
}

// restart replaces the service with a new one that replays the log.
func (h *harness) restart() {
	h.s, h.seen = health.New(), 0
	h.s.Grace = grace
	h.fold()
}

func TestNodeStateIsDecidedOnChange(t *testing.T) {
	const silent = "n1 NotReady (NodeStatusUnknown: node agent stopped posting heartbeats (none for 4s))"
	for _, c := range []struct {
		name  string
		steps func(h *harness) [][]string // decisions of each pass
		want  [][]string
	}{{
		name: "a first heartbeat is decided Ready once",
		steps: func(h *harness) [][]string {
			h.beat("n1")
			first := h.decide()
			h.at(10 * time.Second)
			h.beat("n1")
			return [][]string{first, h.decide()}
		},
		want: [][]string{{"n1 Ready"}, nil},
	}, {
		// Heartbeat at 12:00:00: still Ready at 12:00:03.9, NotReady once at 12:00:04.
		name: "silence past Grace is decided NotReady once",
		steps: func(h *harness) [][]string {
			h.beat("n1")
			a := h.decide()
			h.at(3900 * time.Millisecond)
			b := h.decide()
			h.at(4 * time.Second)
			c := h.decide()
			h.at(5 * time.Minute)
			return [][]string{a, b, c, h.decide()}
		},
		want: [][]string{{"n1 Ready"}, nil, {silent}, nil},
	}, {
		name: "a heartbeat after silence is decided Ready again",
		steps: func(h *harness) [][]string {
			h.beat("n1")
			a := h.decide()
			h.at(time.Minute)
			b := h.decide()
			h.beat("n1")
			return [][]string{a, b, h.decide()}
		},
		want: [][]string{{"n1 Ready"}, {silent}, {"n1 Ready"}},
	}, {
		name: "a registration is hearing from the node; one long ago is NotReady",
		steps: func(h *harness) [][]string {
			h.l.Registered(pt.NodeInfo("n1", 1000, 1<<30, 110))
			h.at(time.Hour)
			h.l.Registered(pt.NodeInfo("n2", 1000, 1<<30, 110))
			return [][]string{h.decide()}
		},
		want: [][]string{{silent, "n2 Ready"}},
	}, {
		name: "a restarted service that replays decides nothing new",
		steps: func(h *harness) [][]string {
			h.beat("n1")
			h.beat("n2")
			a := h.decide()
			h.at(2 * time.Second)
			h.beat("n2")
			h.at(4 * time.Second)
			h.beat("n2")
			h.at(4500 * time.Millisecond)
			b := h.decide()
			h.restart()
			return [][]string{a, b, h.decide()}
		},
		want: [][]string{{"n1 Ready", "n2 Ready"}, {silent}, nil},
	}, {
		// n1 beats every second but the service read its beats 3 s late
		// (the newest it has read is from 12:00:02 at 12:00:05): measured on
		// the log's clock (12:00:03) it is not silent; n2, silent since
		// 12:00:00 while n1 beat on, is NotReady (looked at again within LogSlack/4) once the log shows 4 s of
		// n1 beating past n2's last heartbeat.
		name: "a service behind the log decides no beating node NotReady",
		steps: func(h *harness) [][]string {
			h.beat("n1")
			h.beat("n2")
			a := h.decide()
			for i := 1; i <= 2; i++ {
				h.at(time.Duration(i) * time.Second)
				h.beat("n1")
			}
			h.at(5 * time.Second)
			b := h.decide()
			for i := 3; i <= 5; i++ {
				h.at(time.Duration(i) * time.Second)
				h.beat("n1")
			}
			h.at(5500 * time.Millisecond)
			return [][]string{a, b, h.decide()}
		},
		want: [][]string{{"n1 Ready", "n2 Ready"}, nil, {"n2 NotReady (NodeStatusUnknown: node agent stopped posting heartbeats (none for 4s))"}},
	}} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			got := c.steps(h)
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("passes:\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

// Deciding twice before the first pass is read back gives the same
// decision, message id and fence: the log keeps one.
func TestDecisionIsFencedAndIdempotent(t *testing.T) {
	h := newHarness(t)
	h.beat("n1")
	h.fold()
	a, b := h.s.Decide(h.l.Now), h.s.Decide(h.l.Now)
	if len(a) != 1 || len(b) != 1 || a[0].MsgID != b[0].MsgID || *a[0].ExpectLastSeq != 0 ||
		a[0].Subject != events.NodeStateSubject("n1") || a[0].Meta.ID != events.DeriveID(a[0].MsgID) {
		t.Fatalf("decisions %+v then %+v", a, b)
	}
	if _, dup, err := h.l.Publish(a[0].Subject, a[0].Event, a[0].MsgID, a[0].ExpectLastSeq, ""); err != nil || dup {
		t.Fatal(dup, err)
	}
	if _, dup, _ := h.l.Publish(b[0].Subject, b[0].Event, b[0].MsgID, nil, ""); !dup {
		t.Error("the same decision stored twice")
	}
	h.fold()
	h.at(time.Minute)
	d := h.s.Decide(h.l.Now)
	if len(d) != 1 || *d[0].ExpectLastSeq != h.l.LastSeq(events.NodeStateSubject("n1")) || !strings.HasSuffix(d[0].MsgID, "/false") {
		t.Errorf("NotReady: %+v", d)
	}
}

// After a restart of the whole log the heartbeats (kept in memory) are
// gone; a node decided Ready is given Grace from the first pass before it
// is decided NotReady, as Kubernetes' node lifecycle controller does.
func TestRestartGivesReadyNodesGrace(t *testing.T) {
	h := newHarness(t)
	h.beat("n1")
	h.decide()
	var kept []events.Record
	for _, r := range h.l.Records {
		if r.Stream != events.StreamHeartbeats {
			kept = append(kept, r)
		}
	}
	h.s = health.New()
	for _, r := range kept {
		h.s.Apply(r)
	}
	h.at(10 * time.Minute)
	if d := h.s.Decide(h.l.Now); len(d) != 0 {
		t.Fatalf("decided at once after a restart: %+v", d)
	}
	h.at(10*time.Minute + health.DefaultGrace)
	if d := h.s.Decide(h.l.Now); len(d) != 1 || d[0].Event.(*events.NodeStateDecided).Ready {
		t.Fatalf("a node silent since the restart: %+v", d)
	}
}

// A pass decides at most Budget; the rest are decided by the next passes.
func TestBudget(t *testing.T) {
	h := newHarness(t)
	h.s.Budget = 2
	for i := range 5 {
		h.beat(fmt.Sprintf("n%d", i))
	}
	var passes []int
	for range 4 {
		passes = append(passes, len(h.decide()))
	}
	if fmt.Sprint(passes) != "[2 2 1 0]" {
		t.Errorf("decisions per pass %v", passes)
	}
}

// 5,000 nodes beating: a pass between deadlines examines none of them.
func BenchmarkDecide5000Ready(b *testing.B) {
	h := &harness{t: &testing.T{}, l: pt.NewLog(), s: health.New()}
	for i := range 5000 {
		h.beat(fmt.Sprintf("n%04d", i))
	}
	h.decide()
	b.ResetTimer()
	for range b.N {
		h.s.Decide(h.l.Now.Add(time.Second))
	}
}
