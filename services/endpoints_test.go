package services_test

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services"
)

// fold folds the decisions and the pods' reports stored so far.
func (c *cluster) fold() *projections.Cluster {
	c.t.Helper()
	f := projections.NewCluster()
	for _, r := range c.records(events.StreamDecisions, events.SubjectDecisionAll) {
		f.Apply(r)
	}
	for _, r := range c.records(events.StreamObservations, events.SubjectObsPodAll) {
		f.Apply(r)
	}
	return f
}

// endpointIPs are the addresses of a Service's live EndpointSlices, ready
// ones and the others, sorted.
func endpointIPs(f *projections.Cluster, svc string) (ready, notReady []string) {
	for _, w := range f.Workloads {
		if w.Kind != "endpointslice" || w.Deleted || w.Owner == nil || w.Owner.Name != svc || w.Object.EndpointSlice() == nil {
			continue
		}
		for _, e := range w.Object.EndpointSlice().Endpoints {
			if e.Conditions.Ready {
				ready = append(ready, e.Addresses...)
			} else {
				notReady = append(notReady, e.Addresses...)
			}
		}
	}
	sort.Strings(ready)
	sort.Strings(notReady)
	return ready, notReady
}

const helloService = `apiVersion: v1
kind: Service
metadata:
  name: hello
spec:
  type: NodePort
  selector: {app: hello}
  ports:
    - name: http
      port: 80
      targetPort: 8080
`

func TestServiceGetsAnAddressAndItsPodsAsEndpoints(t *testing.T) {
	c := startCluster(t, "node-a", "node-b")
	if _, ok := c.verdict(c.apply(deployment("hello", 3, "gantry.local/hello:v1"))).(*events.AdmissionAccepted); !ok {
		t.Fatal("deployment refused")
	}
	if v, ok := c.verdict(c.apply(helloService)).(*events.AdmissionAccepted); !ok {
		t.Fatalf("service refused: %#v", v)
	}
	var want []string
	c.eventually("the slices to list the 3 running pods, ready", func() bool {
		want = want[:0]
		for _, p := range running(c.pods(), "hello") {
			want = append(want, p.Status.PodIP)
		}
		sort.Strings(want)
		ready, notReady := endpointIPs(c.fold(), "hello")
		return len(want) == 3 && strings.Join(ready, ",") == strings.Join(want, ",") && len(notReady) == 0
	})
	f := c.fold()
	st := f.Workloads[projections.WorkloadKey("service", "default", "hello")].Decided().Service
	if st == nil || !netip.MustParsePrefix("10.43.0.0/16").Contains(netip.MustParseAddr(st.ClusterIP)) ||
		len(st.NodePorts) != 1 || st.NodePorts[0] < 30000 || st.NodePorts[0] > 32767 {
		t.Fatalf("service status %+v", st)
	}

	// Scaled to 1: the slices follow.
	c.apply(deployment("hello", 1, "gantry.local/hello:v1"))
	c.eventually("the slices to shrink to 1 endpoint", func() bool {
		ready, notReady := endpointIPs(c.fold(), "hello")
		return len(ready) == 1 && len(notReady) == 0
	})

	// Deleted: its slices go and its addresses are released.
	c.submit(events.IntentSubject("default", "service", "hello"), &events.IntentDeleted{Kind: "service", Namespace: "default", Name: "hello"})
	c.eventually("the slices and the allocation to go", func() bool {
		f := c.fold()
		ready, notReady := endpointIPs(f, "hello")
		return len(ready)+len(notReady) == 0 && len(f.Allocations()) == 0
	})
}

// Two endpoints services deciding at once (two control planes with no
// lease, or one restarted while its last pass is stored) never give one
// address twice: every allocation is fenced on the one subject.
func TestTwoAllocatorsNeverGiveAnAddressTwice(t *testing.T) {
	cfg := services.Config{ServiceCIDR: "10.43.0.0/27"} // 29 addresses
	c, ctx := startPlane(t, []string{"admission"}, cfg)
	const n = 20
	var last string
	for i := range n {
		last = c.apply(strings.ReplaceAll(helloService, "name: hello", fmt.Sprintf("name: s%d", i)))
	}
	c.verdict(last)
	// Both start on a log of 20 Services: each decides them in one pass,
	// one atomic batch fenced by its first message; one batch is stored.
	cfg.Runner.Resync = 100 * time.Millisecond
	for range 2 {
		p, err := services.Start(ctx, c.conn, []string{"endpoints"}, cfg, c.log)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.WaitReady(ctx, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	c.eventually("every Service to get an address", func() bool {
		f := c.fold()
		got := 0
		for i := range n {
			w := f.Workloads[projections.WorkloadKey("service", "default", fmt.Sprintf("s%d", i))]
			if w != nil && w.Decided().Service != nil && w.Decided().Service.ClusterIP != "" && w.Decided().Service.Refused == "" {
				got++
			}
		}
		return got == n
	})
	// Replay the allocations: none gives what another holds.
	ips, ports := map[string]string{}, map[int32]string{}
	recs := c.records(events.StreamDecisions, events.SubjectServiceAlloc)
	if len(recs) != n {
		t.Errorf("%d allocations stored for %d Services: one pass's batch should be stored once", len(recs), n)
	}
	for _, r := range recs {
		e := r.Event.(*events.ServiceAllocated)
		for ip, uid := range ips {
			if uid == e.UID && (e.Released || e.Refused == "") {
				delete(ips, ip)
			}
		}
		for np, uid := range ports {
			if uid == e.UID && (e.Released || e.Refused == "") {
				delete(ports, np)
			}
		}
		if e.Released || e.Refused != "" {
			continue
		}
		if uid, ok := ips[e.ClusterIP]; ok {
			t.Fatalf("seq %d: %s given to %s while %s holds it", r.Seq, e.ClusterIP, e.UID, uid)
		}
		ips[e.ClusterIP] = e.UID
		for _, np := range e.NodePorts {
			if uid, ok := ports[np]; ok {
				t.Fatalf("seq %d: node port %d given to %s while %s holds it", r.Seq, np, e.UID, uid)
			}
			ports[np] = e.UID
		}
	}
	if len(ips) != n {
		t.Fatalf("%d addresses held, want %d", len(ips), n)
	}
}
