package scheduler

import (
	"fmt"
	"math/rand"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
)

// checkIndex compares the Service's incremental index with one built from
// scratch from the fold: every pod bound and not ended counted on its node
// (deleting ones too), the pending pods, and nothing else.
func checkIndex(t *testing.T, step int, s *Service) {
	t.Helper()
	type want struct {
		cpu, mem, pods int64
		ext            map[string]int64
		keys           []string
	}
	wants := map[string]*want{}
	var pending []string
	for key, p := range s.c.Pods {
		if p.Terminal() {
			continue
		}
		if p.Node == "" {
			pending = append(pending, key)
			continue
		}
		w := wants[p.Node]
		if w == nil {
			w = &want{ext: map[string]int64{}}
			wants[p.Node] = w
		}
		for r, v := range p.Spec.ResourceRequests() {
			switch r {
			case events.ResourceCPU:
				w.cpu += v
			case events.ResourceMemory:
				w.mem += v
			case events.ResourcePods:
			default:
				w.ext[r] += v
			}
		}
		w.pods++
		w.keys = append(w.keys, key)
	}
	for name, n := range s.nodes {
		w := wants[name]
		if w == nil {
			w = &want{ext: map[string]int64{}}
		}
		var keys []string
		for _, q := range n.bound {
			keys = append(keys, q.key)
			if q.deleting != s.c.Pods[q.key].Deleting {
				t.Fatalf("step %d: %s deleting %v, the fold says %v", step, q.key, q.deleting, s.c.Pods[q.key].Deleting)
			}
		}
		sort.Strings(keys)
		sort.Strings(w.keys)
		if n.usedCPU != w.cpu || n.usedMem != w.mem || n.pods != w.pods || !slices.Equal(keys, w.keys) {
			t.Fatalf("step %d: node %s counts cpu %d mem %d pods %d %v; the fold says %d %d %d %v",
				step, name, n.usedCPU, n.usedMem, n.pods, keys, w.cpu, w.mem, w.pods, w.keys)
		}
		for _, e := range n.ext {
			if e.used != w.ext[e.name] {
				t.Fatalf("step %d: node %s %s used %d, want %d", step, name, e.name, e.used, w.ext[e.name])
			}
		}
		if fn := s.c.Nodes[name]; fn != nil && (n.Unschedulable != fn.Unschedulable || !n.known) {
			t.Fatalf("step %d: node %s cordon %v known %v", step, name, n.Unschedulable, n.known)
		}
	}
	for name := range wants {
		if s.nodes[name] == nil {
			t.Fatalf("step %d: node %s holds pods the index does not know", step, name)
		}
	}
	var got []string
	for key := range s.pending {
		got = append(got, key)
	}
	sort.Strings(got)
	sort.Strings(pending)
	if !slices.Equal(got, pending) {
		t.Fatalf("step %d: pending %v, the fold says %v", step, got, pending)
	}
	anti := 0
	for _, pi := range s.infos {
		if pi.node != nil && len(pi.antiRequired) > 0 {
			anti++
		}
	}
	if anti != len(s.antiPods) {
		t.Fatalf("step %d: %d pods with anti-affinity listed, %d counted", step, len(s.antiPods), anti)
	}
	// The groups index: every bound pod counted once in its group on its
	// node, live or deleting as it is.
	groups := map[string]map[*NodeState]groupCount{}
	for _, n := range s.nodes {
		for _, q := range n.bound {
			g := groups[q.groupKey()]
			if g == nil {
				g = map[*NodeState]groupCount{}
				groups[q.groupKey()] = g
			}
			c := g[n]
			if q.deleting {
				c.deleting++
			} else {
				c.live++
			}
			g[n] = c
		}
	}
	if len(groups) != len(s.groups) {
		t.Fatalf("step %d: %d groups indexed, %d bound", step, len(s.groups), len(groups))
	}
	for key, g := range groups {
		got := s.groups[key]
		if got == nil || len(got.on) != len(g) {
			t.Fatalf("step %d: group %s indexed on %v, bound on %v", step, key, got, g)
		}
		for n, c := range g {
			if gc := got.on[n]; gc == nil || *gc != c {
				t.Fatalf("step %d: group %s on %s: indexed %+v, bound %+v", step, key, n.Name, gc, c)
			}
		}
	}
}

// Random histories: the index always agrees with the fold, replaying a
// record twice changes nothing, and a pass leaves the index as it found it.
func TestIndexFollowsTheFold(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for trial := 0; trial < 30; trial++ {
		s := New()
		l := pt.NewLog()
		apply := func(r events.Record) {
			s.Apply(r)
			s.Apply(r) // a duplicate is a no-op
		}
		var pods []events.PodPlanned
		bound := map[string]string{}
		epoch := map[string]int64{}
		nodes := []string{"n1", "n2", "n3"}
		for step := 0; step < 200; step++ {
			switch rng.Intn(9) {
			case 0:
				name := nodes[rng.Intn(len(nodes))]
				info := pt.NodeInfo(name, int64(1+rng.Intn(4))*1000, 4<<30, 10)
				if rng.Intn(2) == 0 {
					info.Allocatable["example.com/gpu"] = int64(rng.Intn(3))
				}
				apply(l.Heartbeat(info))
			case 1:
				name := nodes[rng.Intn(len(nodes))]
				apply(l.Append(events.NodeDecisionSubject(name), &events.NodeCordoned{Node: name, Unschedulable: rng.Intn(2) == 0}))
			case 2, 3:
				dep := pt.Deployment("default", "d", 1, "nginx")
				dep.Deployment().Template.Spec = pt.Requests(dep.Deployment().Template.Spec, "100m", "64Mi")
				if rng.Intn(3) == 0 {
					dep.Deployment().Template.Spec.Containers[0].Resources.Requests["example.com/gpu"] = manifest.MustQuantity("1")
				}
				if rng.Intn(3) == 0 {
					dep.Deployment().Template.Spec.Affinity = &manifest.Affinity{PodAntiAffinity: &manifest.PodAntiAffinity{
						RequiredDuringSchedulingIgnoredDuringExecution: []manifest.PodAffinityTerm{{LabelSelector: &manifest.LabelSelector{}, TopologyKey: manifest.HostnameTopologyKey}}}}
				}
				// A name may come back as a new incarnation.
				n := rng.Intn(12)
				p := pt.PodFor(dep, "w", fmt.Sprintf("p%d", n), fmt.Sprintf("uid-%d-%d", n, step))
				pods = append(pods, p)
				apply(l.Planned(p))
			case 4, 5:
				if len(pods) > 0 {
					p := pods[rng.Intn(len(pods))]
					epoch[p.UID]++
					node := nodes[rng.Intn(len(nodes))]
					bound[p.UID] = node
					apply(l.Bound(p, node, epoch[p.UID]))
				}
			case 6:
				if len(pods) > 0 {
					p := pods[rng.Intn(len(pods))]
					apply(l.Deleted(p, bound[p.UID], epoch[p.UID], "scaled down"))
				}
			case 7:
				if len(pods) > 0 {
					p := pods[rng.Intn(len(pods))]
					if node := bound[p.UID]; node != "" {
						if rng.Intn(2) == 0 {
							apply(l.Removed(node, p, epoch[p.UID]))
						} else {
							apply(l.Status(node, p, epoch[p.UID], []string{events.PhaseRunning, events.PhaseFailed}[rng.Intn(2)], true))
						}
					}
				}
			case 8:
				l.Advance(time.Duration(rng.Intn(30)) * time.Second)
				ds := s.Decide(l.Now)
				checkIndex(t, step, s)
				for _, d := range ds { // store some of them
					if rng.Intn(2) == 0 {
						if r, dup, err := l.Publish(d.Subject, d.Event, d.MsgID, d.ExpectLastSeq, d.ExpectOn); err == nil && !dup {
							if b, ok := d.Event.(*events.PodBound); ok {
								bound[b.Pod.UID], epoch[b.Pod.UID] = b.Node, b.Epoch
							}
							apply(r)
						}
					}
				}
			}
			checkIndex(t, step, s)
		}
	}
}

// BenchmarkFilterScore5000 is one pod's filter and score pass over 5,000
// nodes holding 20 pods each: stopping after max(100, 5%) feasible nodes
// (the default), scanning every node, and a pod that fits nowhere (every
// node scanned, every reason counted).
func BenchmarkFilterScore5000(b *testing.B) {
	for _, bc := range []struct {
		name string
		pct  int
		cpu  string
	}{
		{"default", 0, "500m"},
		{"all-nodes", 100, "500m"},
		{"fits-nowhere", 0, "64"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := New(Config{PercentageOfNodesToScore: bc.pct})
			l := pt.NewLog()
			dep := pt.Deployment("default", "bg", 1, "nginx")
			dep.Deployment().Template.Spec = pt.Requests(dep.Deployment().Template.Spec, "100m", "128Mi")
			for i := 0; i < 5000; i++ {
				name := fmt.Sprintf("node-%04d", i)
				s.Apply(l.Heartbeat(pt.NodeInfo(name, int64(2000+(i%4)*2000), int64(4+i%8)<<30, 110)))
				for k := 0; k < 20; k++ {
					p := pt.PodFor(dep, fmt.Sprintf("w%d", k), fmt.Sprintf("bg-%d-%d", i, k), fmt.Sprintf("uid-%d-%d", i, k))
					s.Apply(l.Planned(p))
					s.Apply(l.Bound(p, name, 1))
				}
			}
			web := pt.Deployment("default", "web", 1, "nginx")
			web.Deployment().Template.Spec = pt.Requests(web.Deployment().Template.Spec, bc.cpu, "256Mi")
			s.Apply(l.Planned(pt.PodFor(web, "w-web", "web-1", "uid-web-1")))
			pi := s.pending[projections.Key("default", "web-1")]
			s.sortOrder()
			cy := &s.cy
			cy.begin(s, l.Now)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				cy.prepare(pi)
				cy.scan(pi)
			}
		})
	}
}
