package endpoints_test

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
	"github.com/gantry-sh/gantry/services/endpoints"
	"github.com/gantry-sh/gantry/services/runner"
)

const ns = "default"

// world is a log, the endpoints service folding it, and a fold of the
// same log to read what was decided.
type world struct {
	t *testing.T
	l *pt.Log
	s *endpoints.Service
	c *projections.Cluster
}

func newWorld(t *testing.T, cidr string) *world {
	t.Helper()
	s, err := endpoints.New(cidr)
	if err != nil {
		t.Fatal(err)
	}
	return &world{t: t, l: pt.NewLog(), s: s, c: projections.NewCluster()}
}

func (w *world) add(rs ...events.Record) {
	for _, r := range rs {
		w.s.Apply(r)
		w.c.Apply(r)
	}
}

// decide runs one pass and stores its decisions as the runner would: an
// atomic group all or none, fenced by its members' expectations.
func (w *world) decide() []runner.Decision {
	w.t.Helper()
	ds := w.s.Decide(w.l.Now)
	w.store(ds)
	return ds
}

func (w *world) store(ds []runner.Decision) {
	w.t.Helper()
	for i := 0; i < len(ds); {
		j := i + 1
		for ds[i].Atomic != "" && j < len(ds) && ds[j].Atomic == ds[i].Atomic {
			j++
		}
		ok := true
		for _, d := range ds[i:j] {
			if d.ExpectLastSeq != nil && w.l.LastSeq(d.Subject) != *d.ExpectLastSeq {
				ok = false
			}
		}
		for _, d := range ds[i:j] {
			if !ok {
				break
			}
			r, dup, err := w.l.Publish(d.Subject, d.Event, d.MsgID, nil, "")
			if err != nil {
				w.t.Fatal(err)
			}
			if !dup {
				w.add(r)
			}
		}
		i = j
	}
}

// settle decides until a pass decides nothing.
func (w *world) settle() {
	w.t.Helper()
	for i := 0; i < 20; i++ {
		if len(w.decide()) == 0 {
			return
		}
	}
	w.t.Fatal("still deciding after 20 passes")
}

func service(name string, mutate ...func(*manifest.ServiceSpec)) manifest.Object {
	tp := manifest.FromInt(8080)
	spec := &manifest.ServiceSpec{Selector: map[string]string{"app": name},
		Ports: []manifest.ServicePort{{Name: "http", Port: 80, TargetPort: &tp}}}
	for _, m := range mutate {
		m(spec)
	}
	o := manifest.Object{APIVersion: manifest.APICoreV1, Kind: manifest.KindService, Metadata: manifest.ObjectMeta{Name: name, Namespace: ns}, Spec: spec}
	o.Defaults()
	return o
}

func (w *world) apply(o manifest.Object, uid string) { w.add(w.l.Accepted(o, uid, 1)) }

func (w *world) status(name string) *manifest.ServiceStatus {
	sw := w.c.Workloads[projections.WorkloadKey("service", ns, name)]
	if sw == nil {
		return nil
	}
	return sw.Decided().Service
}

// pod plans, binds and reports a pod of app, with ip, ready as asked, its
// container declaring ports (name=number).
func (w *world) pod(app, name, ip string, ready bool, ports ...manifest.ContainerPort) events.PodPlanned {
	p := events.PodPlanned{Namespace: ns, Name: name, UID: "uid-" + name, Labels: map[string]string{"app": app},
		Spec: manifest.PodSpec{Containers: []manifest.Container{{Name: "app", Image: "demo:v1", Ports: ports}}}}
	w.add(w.l.Planned(p), w.l.Bound(p, "n1", 1))
	w.report(p, ip, ready)
	return p
}

func (w *world) report(p events.PodPlanned, ip string, ready bool) {
	w.add(w.l.Append(events.ObsPodSubject("n1", ns, p.Name), &events.PodStatusObserved{Namespace: ns, Name: p.Name, UID: p.UID,
		Node: "n1", Epoch: 1, Phase: events.PhaseRunning, PodIP: ip, Containers: pt.Containers(p.Spec, events.ContainerRunning, ready)}))
}

// slices are the live EndpointSlices of a Service, by name.
func (w *world) slices(svc string) map[string]*manifest.EndpointSliceSpec {
	out := map[string]*manifest.EndpointSliceSpec{}
	for _, sw := range w.c.Workloads {
		if sw.Kind == "endpointslice" && !sw.Deleted && sw.Owner != nil && sw.Owner.Name == svc {
			out[sw.Name] = sw.Object.EndpointSlice()
		}
	}
	return out
}

func allocs(ds []runner.Decision) []*events.ServiceAllocated {
	var out []*events.ServiceAllocated
	for _, d := range ds {
		if e, ok := d.Event.(*events.ServiceAllocated); ok {
			out = append(out, e)
		}
	}
	return out
}

func TestAllocationIsDeterministicAndInRange(t *testing.T) {
	var ips []string
	for range 2 {
		w := newWorld(t, "")
		w.apply(service("web"), "svc-web")
		w.apply(service("api", func(s *manifest.ServiceSpec) { s.Type = manifest.ServiceTypeNodePort }), "svc-api")
		ds := w.decide()
		as := allocs(ds)
		if len(as) != 2 {
			t.Fatalf("want 2 allocations, got %+v", as)
		}
		// One fenced batch: the first expects the subject's newest sequence.
		if ds[0].ExpectLastSeq == nil || *ds[0].ExpectLastSeq != 0 || ds[0].Atomic == "" || ds[1].Atomic != ds[0].Atomic {
			t.Fatalf("allocations not one fenced group: %+v %+v", ds[0], ds[1])
		}
		api, web := w.status("api"), w.status("web")
		for _, st := range []*manifest.ServiceStatus{api, web} {
			a := netip.MustParseAddr(st.ClusterIP)
			if !netip.MustParsePrefix("10.43.0.0/16").Contains(a) || st.ClusterIP == "10.43.0.0" || st.ClusterIP == "10.43.0.1" {
				t.Fatalf("cluster IP %s out of range", st.ClusterIP)
			}
		}
		if api.ClusterIP == web.ClusterIP {
			t.Fatalf("one IP given twice: %s", api.ClusterIP)
		}
		if len(api.NodePorts) != 1 || api.NodePorts[0] < 30000 || api.NodePorts[0] > 32767 || len(web.NodePorts) != 0 {
			t.Fatalf("node ports: api %v web %v", api.NodePorts, web.NodePorts)
		}
		ips = append(ips, web.ClusterIP, api.ClusterIP)
		// Deciding again from a fold that holds it decides nothing.
		if ds := w.decide(); len(ds) != 0 {
			t.Fatalf("decided again: %+v", ds)
		}
	}
	if ips[0] != ips[2] || ips[1] != ips[3] {
		t.Fatalf("not deterministic: %v", ips)
	}
}

func TestExplicitAddressesHonouredOrRefused(t *testing.T) {
	w := newWorld(t, "")
	asks := func(ip string, np int32) func(*manifest.ServiceSpec) {
		return func(s *manifest.ServiceSpec) {
			s.ClusterIP = ip
			if np != 0 {
				s.Type = manifest.ServiceTypeNodePort
				s.Ports[0].NodePort = np
			}
		}
	}
	w.apply(service("a", asks("10.43.0.10", 30080)), "svc-a")
	w.settle()
	if st := w.status("a"); st.ClusterIP != "10.43.0.10" || st.NodePorts[0] != 30080 || st.Refused != "" {
		t.Fatalf("explicit not honoured: %+v", st)
	}
	for _, c := range []struct {
		name, ip string
		np       int32
		want     string
	}{
		{"b", "10.43.0.10", 0, `spec.clusterIP: invalid value "10.43.0.10": already allocated to Service default/a`},
		{"c", "", 30080, `spec.ports[0].nodePort: invalid value 30080: already allocated to Service default/a`},
		{"d", "10.44.0.5", 0, `not in the service CIDR 10.43.0.0/16`},
		{"e", "10.43.0.1", 0, `the first address of 10.43.0.0/16 is reserved`},
	} {
		w.apply(service(c.name, asks(c.ip, c.np)), "svc-"+c.name)
		w.settle()
		st := w.status(c.name)
		if st == nil || !strings.Contains(st.Refused, c.want) || st.ClusterIP != "" {
			t.Errorf("%s: want refused %q, got %+v", c.name, c.want, st)
		}
		if held := w.c.Allocations()["svc-"+c.name]; held.ClusterIP != "" {
			t.Errorf("%s: a refused Service holds %+v", c.name, held)
		}
	}
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("refusals decided again: %+v", ds)
	}
	// a deleted: its addresses are released, and b, refused, gets its IP.
	w.add(w.l.AcceptedDelete("service", ns, "a", "svc-a", 2))
	w.settle()
	if _, ok := w.c.Allocations()["svc-a"]; ok {
		t.Fatal("deleted Service still holds its addresses")
	}
	if st := w.status("b"); st == nil || st.ClusterIP != "10.43.0.10" || st.Refused != "" {
		t.Fatalf("b not given the released IP: %+v", st)
	}
	if st := w.status("c"); st == nil || st.NodePorts[0] != 30080 || st.Refused != "" {
		t.Fatalf("c not given the released node port: %+v", st)
	}
}

func TestExhaustedCIDRAndReuseAfterRelease(t *testing.T) {
	w := newWorld(t, "10.43.0.0/29") // .2 to .6
	for i := range 6 {
		w.apply(service(fmt.Sprintf("s%d", i)), fmt.Sprintf("svc-%d", i))
	}
	w.settle()
	seen := map[string]string{}
	var refused []string
	for i := range 6 {
		st := w.status(fmt.Sprintf("s%d", i))
		switch {
		case st.Refused != "":
			refused = append(refused, st.Refused)
		case seen[st.ClusterIP] != "":
			t.Fatalf("%s given twice", st.ClusterIP)
		default:
			seen[st.ClusterIP] = fmt.Sprint(i)
		}
	}
	if len(seen) != 5 || len(refused) != 1 || !strings.Contains(refused[0], "the service CIDR 10.43.0.0/29 is exhausted") {
		t.Fatalf("given %v, refused %v", seen, refused)
	}
	// One becomes headless: it releases its IP, and the refused one gets it.
	var headless string
	for i := range 6 {
		if seen[w.status(fmt.Sprintf("s%d", i)).ClusterIP] == fmt.Sprint(i) {
			headless = fmt.Sprint(i)
			break
		}
	}
	w.apply(service("s"+headless, func(s *manifest.ServiceSpec) { s.ClusterIP = manifest.ClusterIPNone }), "svc-"+headless)
	w.settle()
	if st := w.status("s" + headless); st != nil {
		t.Fatalf("headless still allocated: %+v", st)
	}
	for i := range 6 {
		if st := w.status(fmt.Sprintf("s%d", i)); fmt.Sprint(i) != headless && (st == nil || st.Refused != "") {
			t.Fatalf("s%d still refused after a release: %+v", i, st)
		}
	}
}

func TestCrashedAllocatorCannotGiveAnAddressTwice(t *testing.T) {
	w := newWorld(t, "10.43.0.0/29")
	w.apply(service("a"), "svc-a")
	// A second allocator, with the same fold, decides at the same time.
	other, _ := endpoints.New("10.43.0.0/29")
	for _, r := range w.l.Records {
		other.Apply(r)
	}
	w.decide()
	w.apply(service("b"), "svc-b")
	other.Apply(w.l.Records[len(w.l.Records)-1])
	stale := other.Decide(w.l.Now) // from a fold without a's allocation
	if len(allocs(stale)) != 2 {
		t.Fatalf("the stale allocator decided %+v", allocs(stale))
	}
	n := len(w.l.Records)
	w.store(stale)
	if len(w.l.Records) != n {
		t.Fatalf("a stale allocation was stored: %+v", allocs(stale))
	}
	// Restarted: it replays the log, and decides what is left once.
	restarted, _ := endpoints.New("10.43.0.0/29")
	w.s = restarted
	for _, r := range w.l.Records {
		w.s.Apply(r)
	}
	w.settle()
	if a, b := w.status("a"), w.status("b"); a.ClusterIP == b.ClusterIP || b.ClusterIP == "" {
		t.Fatalf("a %+v b %+v", a, b)
	}
}

func TestLoadBalancerIsServedOnReadyNodes(t *testing.T) {
	w := newWorld(t, "")
	n1, n2 := pt.NodeInfo("n1", 1000, 1<<30, 0), pt.NodeInfo("n2", 1000, 1<<30, 0)
	n1.Address, n2.Address = "192.0.2.1", "192.0.2.2"
	w.add(w.l.Heartbeat(n1), w.l.Heartbeat(n2))
	w.apply(service("lb", func(s *manifest.ServiceSpec) { s.Type = manifest.ServiceTypeLoadBalancer }), "svc-lb")
	w.settle()
	if st := w.status("lb"); fmt.Sprint(st.Ingress) != "[192.0.2.1 192.0.2.2]" || len(st.NodePorts) != 1 {
		t.Fatalf("ingress %+v", st)
	}
	w.add(w.l.Append(events.NodeStateSubject("n2"), &events.NodeStateDecided{Node: "n2", Ready: false}))
	w.settle()
	if st := w.status("lb"); fmt.Sprint(st.Ingress) != "[192.0.2.1]" {
		t.Fatalf("ingress after n2 NotReady: %+v", st)
	}
}

func TestSlicesCarryReadyServingTerminating(t *testing.T) {
	w := newWorld(t, "")
	w.apply(service("web"), "svc-web")
	w.pod("web", "web-a", "10.42.0.2", true)
	w.pod("web", "web-b", "10.42.0.3", false)
	c := w.pod("web", "web-c", "10.42.0.4", true)
	w.pod("other", "other-a", "10.42.0.5", true)
	w.pod("web", "web-noip", "", true)
	w.add(w.l.Deleted(c, "n1", 1, "scaled down"))
	w.settle()
	sl := w.slices("web")
	es := sl["web-0"]
	if len(sl) != 1 || es == nil {
		t.Fatalf("slices %v", sl)
	}
	got := map[string]manifest.EndpointConditions{}
	for _, e := range es.Endpoints {
		got[e.TargetRef.Name] = e.Conditions
		if e.NodeName != "n1" || e.Hostname != "" || e.TargetRef.Kind != "Pod" { // no spec.hostname and subdomain: none
			t.Errorf("endpoint %+v", e)
		}
	}
	want := map[string]manifest.EndpointConditions{
		"web-a": {Ready: true, Serving: true},
		"web-b": {},
		"web-c": {Serving: true, Terminating: true},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("conditions %v, want %v", got, want)
	}
	if fmt.Sprint(es.Ports) != "[{http TCP 8080}]" || es.AddressType != "IPv4" {
		t.Fatalf("ports %+v", es.Ports)
	}
	sw := w.c.Workloads[projections.WorkloadKey("endpointslice", ns, "web-0")]
	if sw.Object.Metadata.Labels[manifest.LabelServiceName] != "web" || sw.Owner.UID != "svc-web" {
		t.Fatalf("slice meta %+v owner %+v", sw.Object.Metadata, sw.Owner)
	}
	// Nothing changed: nothing decided.
	w.report(events.PodPlanned{Namespace: ns, Name: "web-a", UID: "uid-web-a",
		Spec: manifest.PodSpec{Containers: []manifest.Container{{Name: "app", Image: "demo:v1"}}}}, "10.42.0.2", true)
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("decided with nothing changed: %+v", ds)
	}
	// b becomes ready: one slice decided.
	w.report(events.PodPlanned{Namespace: ns, Name: "web-b", UID: "uid-web-b",
		Spec: manifest.PodSpec{Containers: []manifest.Container{{Name: "app", Image: "demo:v1"}}}}, "10.42.0.3", true)
	if ds := w.decide(); len(ds) != 1 {
		t.Fatalf("want one slice decided, got %+v", ds)
	}
	// c removed by its node: it leaves the slice.
	w.add(w.l.Removed("n1", c, 1))
	w.settle()
	if es := w.slices("web")["web-0"]; len(es.Endpoints) != 2 {
		t.Fatalf("after removal: %+v", es.Endpoints)
	}
}

func TestTargetPortByName(t *testing.T) {
	w := newWorld(t, "")
	w.apply(service("web", func(s *manifest.ServiceSpec) {
		tp := manifest.FromString("http")
		s.Ports[0].TargetPort = &tp
	}), "svc-web")
	w.pod("web", "web-a", "10.42.0.2", true, manifest.ContainerPort{Name: "http", ContainerPort: 8080})
	w.pod("web", "web-b", "10.42.0.3", true, manifest.ContainerPort{Name: "http", ContainerPort: 9090})
	w.pod("web", "web-c", "10.42.0.4", true, manifest.ContainerPort{Name: "metrics", ContainerPort: 9100})
	w.settle()
	sl := w.slices("web")
	if len(sl) != 2 {
		t.Fatalf("want a slice per resolved port, got %v", sl)
	}
	ports := map[int32][]string{}
	for _, es := range sl {
		for _, e := range es.Endpoints {
			ports[es.Ports[0].Port] = append(ports[es.Ports[0].Port], e.TargetRef.Name)
		}
	}
	if fmt.Sprint(ports) != "map[8080:[web-a] 9090:[web-b]]" {
		t.Fatalf("by port: %v", ports)
	}
	cond := w.c.Workloads[projections.WorkloadKey("service", ns, "web")].Decided().Condition(endpoints.ConditionPortsResolved)
	if cond == nil || cond.Status != manifest.ConditionFalse || !strings.Contains(cond.Message, `no container port named "http"`) {
		t.Fatalf("condition %+v", cond)
	}
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("decided again: %+v", ds)
	}
}

func TestManyEndpointsAreSplitAndKeptStable(t *testing.T) {
	w := newWorld(t, "")
	w.apply(service("web"), "svc-web")
	var pods []events.PodPlanned
	for i := range 250 {
		pods = append(pods, w.pod("web", fmt.Sprintf("web-%03d", i), fmt.Sprintf("10.42.%d.%d", i/200, i%200+2), true))
	}
	w.settle()
	sl := w.slices("web")
	var sizes []int
	for _, n := range []string{"web-0", "web-1", "web-2"} {
		if sl[n] == nil {
			t.Fatalf("slices %v", sl)
		}
		sizes = append(sizes, len(sl[n].Endpoints))
	}
	if len(sl) != 3 || fmt.Sprint(sizes) != "[100 100 50]" {
		t.Fatalf("sizes %v of %d slices", sizes, len(sl))
	}
	// One pod deleted: one slice changes.
	w.add(w.l.Deleted(pods[10], "n1", 1, "scaled down"), w.l.Removed("n1", pods[10], 1))
	if ds := w.decide(); len(ds) != 1 {
		t.Fatalf("want one slice decided, got %d", len(ds))
	}
}

func TestDeletedServiceLosesSlicesAndAddresses(t *testing.T) {
	w := newWorld(t, "")
	w.apply(service("web"), "svc-web")
	w.pod("web", "web-a", "10.42.0.2", true)
	w.settle()
	if len(w.slices("web")) != 1 {
		t.Fatal("no slice")
	}
	w.add(w.l.AcceptedDelete("service", ns, "web", "svc-web", 2))
	ds := w.decide()
	var kinds []string
	for _, d := range ds {
		kinds = append(kinds, d.Event.Type())
	}
	if fmt.Sprint(kinds) != "[gantry.service.allocated.v1 gantry.workload.deleted.v1]" {
		t.Fatalf("decided %v", kinds)
	}
	w.settle()
	if len(w.slices("web")) != 0 || len(w.c.Allocations()) != 0 {
		t.Fatalf("left: slices %v allocations %v", w.slices("web"), w.c.Allocations())
	}
	if w.c.Workloads[projections.WorkloadKey("service", ns, "web")] != nil {
		t.Fatal("deleted Service not forgotten once its slices are gone")
	}
}

func TestBadCIDR(t *testing.T) {
	for _, c := range []string{"10.43.0.0", "fd00::/64", "10.43.0.0/31"} {
		if _, err := endpoints.New(c); err == nil {
			t.Errorf("%s accepted", c)
		}
	}
	_, err := endpoints.ParseCIDR("nope")
	if err == nil || errors.Unwrap(err) == nil {
		t.Errorf("err %v", err)
	}
}

func TestNodePortsDroppedAreReleased(t *testing.T) {
	w := newWorld(t, "")
	np := func(s *manifest.ServiceSpec) { s.Type = manifest.ServiceTypeNodePort }
	w.apply(service("web", np), "svc-web")
	w.settle()
	st := w.status("web")
	if len(st.NodePorts) != 1 {
		t.Fatalf("%+v", st)
	}
	w.add(w.l.Accepted(service("web"), "svc-web", 2))
	w.settle()
	after := w.status("web")
	if after.ClusterIP != st.ClusterIP || len(after.NodePorts) != 0 || len(w.c.Allocations()["svc-web"].NodePorts) != 0 {
		t.Fatalf("before %+v after %+v", st, after)
	}
}

func TestPassesAreIncrementalAndBounded(t *testing.T) {
	w := newWorld(t, "")
	for i := range endpoints.AllocsPerPass + 20 {
		w.apply(service(fmt.Sprintf("s%03d", i)), fmt.Sprintf("svc-%03d", i))
	}
	if as := allocs(w.decide()); len(as) != endpoints.AllocsPerPass {
		t.Fatalf("first pass allocated %d, want the bound %d", len(as), endpoints.AllocsPerPass)
	}
	w.settle()
	for i := range endpoints.AllocsPerPass + 20 {
		if st := w.status(fmt.Sprintf("s%03d", i)); st == nil || st.ClusterIP == "" {
			t.Fatalf("s%03d not allocated: %+v", i, st)
		}
	}
	// A pod of one Service changes: that Service alone is examined.
	before := w.s.Examined()
	w.pod("s007", "s007-a", "10.42.0.9", true)
	if ds := w.decide(); len(ds) != 1 {
		t.Fatalf("decided %+v", ds)
	}
	if n := w.s.Examined() - before; n != 1 {
		t.Fatalf("examined %d Services for one pod", n)
	}
}

// A pod with spec.hostname and spec.subdomain naming the Service (a
// StatefulSet's pod) gets its hostname on its endpoint, so the DNS answers
// <hostname>.<service>; one in another subdomain does not, as in
// Kubernetes.
func TestEndpointHostnameFromSubdomain(t *testing.T) {
	w := newWorld(t, "")
	w.apply(service("web"), "svc-web")
	for _, p := range []events.PodPlanned{
		{Namespace: ns, Name: "web-0", UID: "uid-web-0", Labels: map[string]string{"app": "web"},
			Spec: manifest.PodSpec{Hostname: "web-0", Subdomain: "web", Containers: []manifest.Container{{Name: "app", Image: "demo:v1"}}}},
		{Namespace: ns, Name: "web-1", UID: "uid-web-1", Labels: map[string]string{"app": "web"},
			Spec: manifest.PodSpec{Hostname: "web-1", Subdomain: "db", Containers: []manifest.Container{{Name: "app", Image: "demo:v1"}}}},
	} {
		w.add(w.l.Planned(p), w.l.Bound(p, "n1", 1))
		w.report(p, map[string]string{"web-0": "10.42.0.2", "web-1": "10.42.0.3"}[p.Name], true)
	}
	w.settle()
	got := map[string]string{}
	for _, sl := range w.slices("web") {
		for _, e := range sl.Endpoints {
			got[e.TargetRef.Name] = e.Hostname
		}
	}
	if got["web-0"] != "web-0" || got["web-1"] != "" || len(got) != 2 {
		t.Fatalf("hostnames %v", got)
	}
}
