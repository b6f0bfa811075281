package node_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/bus/bustest"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/node"
	"github.com/gantry-sh/gantry/node/svcview"
)

// recorder is a ServiceSyncer that keeps every view it is handed, and can
// be told to fail.
type recorder struct {
	mu    sync.Mutex
	views [][]svcview.Service
	fail  bool
}

func (r *recorder) Sync(v []svcview.Service) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		r.fail = false
		return context.DeadlineExceeded // any error
	}
	r.views = append(r.views, v)
	return nil
}

func (r *recorder) last() ([]svcview.Service, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.views) == 0 {
		return nil, 0
	}
	return r.views[len(r.views)-1], len(r.views)
}

// publish appends ev on subject as a decision of the control plane.
func publish(t *testing.T, conn *bus.Conn, subject string, ev events.Event) {
	t.Helper()
	env, err := events.Seal(ev, events.Meta{ID: events.DeriveID(subject + time.Now().String()), Source: "test", Time: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.PublishOne(context.Background(), conn.JS, bus.Outgoing{Subject: subject, Envelope: env}); err != nil {
		t.Fatal(err)
	}
}

// Given a Service accepted, its address allocated and an EndpointSlice of
// two pods (one ready), expect every syncer handed a view with the
// Service's virtual IP and both endpoints, their readiness as decided; a
// syncer that fails is handed the view again; a slice changed later is
// handed on.
func TestWatchServicesHandsOnTheView(t *testing.T) {
	conn, _ := bustest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc := manifest.Object{APIVersion: "v1", Kind: manifest.KindService, Metadata: manifest.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: &manifest.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []manifest.ServicePort{{Name: "http", Port: 80}}}}
	svc.Defaults()
	raw, _ := json.Marshal(svc)
	publish(t, conn, events.AdmissionSubject("default", "service", "web"), &events.AdmissionAccepted{Op: events.OpApply,
		Kind: "service", Namespace: "default", Name: "web", UID: "svc-1", Generation: 1, Object: raw})
	publish(t, conn, events.SubjectServiceAlloc, &events.ServiceAllocated{Namespace: "default", Name: "web", UID: "svc-1", ClusterIP: "10.43.0.10"})
	slice := func(readyB bool) json.RawMessage {
		o := manifest.Object{APIVersion: manifest.APIDiscoveryV1, Kind: manifest.KindEndpointSlice,
			Metadata: manifest.ObjectMeta{Name: "web-1", Namespace: "default", Labels: map[string]string{manifest.LabelServiceName: "web"}},
			Spec: &manifest.EndpointSliceSpec{AddressType: manifest.AddressTypeIPv4, Ports: []manifest.EndpointPort{{Name: "http", Protocol: "TCP", Port: 8080}},
				Endpoints: []manifest.Endpoint{
					{Addresses: []string{"10.42.0.5"}, NodeName: "n1", Conditions: manifest.EndpointConditions{Ready: true, Serving: true}},
					{Addresses: []string{"10.42.0.6"}, NodeName: "n1", Conditions: manifest.EndpointConditions{Ready: readyB, Serving: readyB}},
				}}}
		b, _ := json.Marshal(o)
		return b
	}
	owner := &events.OwnerRef{Kind: "service", Name: "web", UID: "svc-1"}
	publish(t, conn, events.WorkloadSubject("default", "endpointslice", "web-1"), &events.WorkloadDecided{Kind: "endpointslice",
		Namespace: "default", Name: "web-1", UID: "es-1", Generation: 1, Owner: owner, Object: slice(false)})

	ok, failing := &recorder{}, &recorder{fail: true}
	done := make(chan error, 1)
	go func() { done <- node.WatchServices(ctx, conn.JS, zerolog.Nop(), ok, failing) }()
	await := func(r *recorder, what string, cond func([]svcview.Service) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			v, _ := r.last()
			if cond(v) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: last view %+v", what, v)
			}
			time.Sleep(10 * time.Millisecond) // polling interval
		}
	}
	first := func(v []svcview.Service) bool {
		return len(v) == 1 && v[0].ClusterIP == "10.43.0.10" && len(v[0].Endpoints) == 2 &&
			v[0].Endpoints[0].Ready && !v[0].Endpoints[1].Ready && v[0].Endpoints[0].Ports["http"] == 8080
	}
	await(ok, "the first view", first)
	await(failing, "the view handed again after a failed sync", first)

	publish(t, conn, events.WorkloadSubject("default", "endpointslice", "web-1"), &events.WorkloadDecided{Kind: "endpointslice",
		Namespace: "default", Name: "web-1", UID: "es-1", Generation: 2, Owner: owner, Object: slice(true)})
	await(ok, "the slice's change", func(v []svcview.Service) bool {
		return len(v) == 1 && len(v[0].Endpoints) == 2 && v[0].Endpoints[1].Ready
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Given three nodes' pod CIDRs and addresses, expect this node's routes to
// the other two through their addresses, and none to a node without an
// address, with an address that does not parse, or with this node's own.
func TestPlanRoutes(t *testing.T) {
	got := node.PlanRoutes("a", map[string]node.NodeNet{
		"a": {CIDR: "10.42.0.0/24", Address: "192.168.1.10"},
		"b": {CIDR: "10.42.1.0/24", Address: "192.168.1.11"},
		"c": {CIDR: "10.42.2.0/24", Address: "192.168.1.12"},
		"d": {CIDR: "10.42.3.0/24"},
		"e": {CIDR: "10.42.4.0/24", Address: "not an address"},
		"f": {CIDR: "10.42.5.0/24", Address: "192.168.1.10"},
	})
	if len(got) != 2 || got[0].Node != "b" || got[0].Via.String() != "192.168.1.11" || got[0].CIDR.String() != "10.42.1.0/24" ||
		got[1].Node != "c" || got[1].Via.String() != "192.168.1.12" {
		t.Fatalf("routes %+v", got)
	}
}

// routeRecorder is a RouteSyncer that keeps the plans it is handed.
type routeRecorder struct {
	mu    sync.Mutex
	plans [][]node.PodRoute
}

func (r *routeRecorder) SyncRoutes(p []node.PodRoute) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.plans = append(r.plans, p)
	return nil
}

// Given two nodes registered and given pod CIDRs in the log, expect the
// watcher to hand node a's syncer the route to b's pods, and a third node
// added later to be added.
func TestWatchRoutesFollowsTheNodes(t *testing.T) {
	conn, _ := bustest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	register := func(name, addr, cidr string) {
		publish(t, conn, events.ObsNodeSubject(name), &events.NodeRegistered{Node: events.NodeInfo{Name: name, Address: addr}})
		publish(t, conn, events.SubjectNodeCIDRAlloc, &events.NodeCIDRAllocated{Node: name, PodCIDR: cidr})
	}
	register("a", "192.168.1.10", "10.42.0.0/24")
	register("b", "192.168.1.11", "10.42.1.0/24")
	rec := &routeRecorder{}
	done := make(chan error, 1)
	go func() { done <- node.WatchRoutes(ctx, conn.JS, zerolog.Nop(), "a", rec) }()
	await := func(n int) []node.PodRoute {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			rec.mu.Lock()
			var last []node.PodRoute
			if len(rec.plans) > 0 {
				last = rec.plans[len(rec.plans)-1]
			}
			rec.mu.Unlock()
			if len(last) == n {
				return last
			}
			if time.Now().After(deadline) {
				t.Fatalf("last plan %+v, want %d routes", last, n)
			}
			time.Sleep(10 * time.Millisecond) // polling interval
		}
	}
	if got := await(1); got[0].Node != "b" {
		t.Fatalf("plan %+v", got)
	}
	register("c", "192.168.1.12", "10.42.2.0/24")
	if got := await(2); got[1].Node != "c" {
		t.Fatalf("plan %+v", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
