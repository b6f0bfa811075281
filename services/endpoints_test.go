package services_test

import (
	"net/netip"
	"sort"
	"strings"
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/projections"
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
