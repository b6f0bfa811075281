package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/node"
)

func TestAddressesStayInTheCIDRAndAreReused(t *testing.T) {
	rt, err := New(Config{PodCIDR: "10.9.8.0/29"}) // .2 … .6 for pods
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pod := func(i int) node.Pod {
		return node.Pod{Namespace: "default", Name: fmt.Sprint("p", i), UID: fmt.Sprintf("uid-%08d", i)}
	}
	var ips []string
	for i := range 5 {
		ip, err := rt.CreateSandbox(ctx, pod(i))
		if err != nil {
			t.Fatal(err)
		}
		ips = append(ips, ip)
	}
	if want := []string{"10.9.8.2", "10.9.8.3", "10.9.8.4", "10.9.8.5", "10.9.8.6"}; fmt.Sprint(ips) != fmt.Sprint(want) {
		t.Fatalf("ips %v, want %v", ips, want)
	}
	if ip, _ := rt.CreateSandbox(ctx, pod(2)); ip != "10.9.8.4" {
		t.Errorf("existing sandbox: ip %s, want its own 10.9.8.4", ip)
	}
	if _, err := rt.CreateSandbox(ctx, pod(5)); err == nil {
		t.Error("a sixth pod in a /29 got an address")
	}
	if err := rt.RemovePod(ctx, "default", "p3", pod(3).UID); err != nil {
		t.Fatal(err)
	}
	if ip, err := rt.CreateSandbox(ctx, pod(6)); err != nil || ip != "10.9.8.5" {
		t.Errorf("after a removal: ip %s err %v, want the released 10.9.8.5", ip, err)
	}
}

func TestStartDelay(t *testing.T) {
	rt, err := New(Config{PodCIDR: "10.9.8.0/24", StartDelay: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p := node.Pod{Namespace: "default", Name: "p", UID: "uid-00000001"}
	c := manifest.Container{Name: "web", Image: "img"}
	if _, err := rt.CreateSandbox(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := rt.StartContainer(ctx, p, c); err != nil {
		t.Fatal(err)
	}
	if err := rt.StartContainer(ctx, p, c); err != nil { // asked again while starting
		t.Fatal(err)
	}
	st, _, _ := rt.Pod(ctx, p.UID)
	if len(st.Containers) != 1 || st.Containers[0].Running || st.Containers[0].Exited {
		t.Fatalf("before the delay: %+v, want one created container, not running", st.Containers)
	}
	select {
	case <-rt.Changes():
	case <-time.After(5 * time.Second):
		t.Fatal("no change signalled after the start delay")
	}
	st, _, _ = rt.Pod(ctx, p.UID)
	if !st.Containers[0].Running || st.Containers[0].Restarts != 0 || st.Containers[0].StartedAt.IsZero() {
		t.Fatalf("after the delay: %+v, want running", st.Containers[0])
	}

	// A restart also waits out the delay and counts.
	rt.Exit(p.UID, "web", 1)
	<-rt.Changes()
	if err := rt.StartContainer(ctx, p, c); err != nil {
		t.Fatal(err)
	}
	if st, _, _ = rt.Pod(ctx, p.UID); st.Containers[0].Running || st.Containers[0].Restarts != 1 {
		t.Fatalf("restarting: %+v", st.Containers[0])
	}
	select {
	case <-rt.Changes():
	case <-time.After(5 * time.Second):
		t.Fatal("no change signalled after the restart delay")
	}
	if st, _, _ = rt.Pod(ctx, p.UID); !st.Containers[0].Running {
		t.Fatalf("after the restart delay: %+v", st.Containers[0])
	}

	// A pod removed while starting stays removed.
	q := node.Pod{Namespace: "default", Name: "q", UID: "uid-00000002"}
	if _, err := rt.CreateSandbox(ctx, q); err != nil {
		t.Fatal(err)
	}
	if err := rt.StartContainer(ctx, q, c); err != nil {
		t.Fatal(err)
	}
	if err := rt.RemovePod(ctx, "default", "q", q.UID); err != nil {
		t.Fatal(err)
	}
	rt.mu.Lock()
	pending := len(rt.starting)
	rt.mu.Unlock()
	if pending != 0 {
		t.Fatalf("%d start timers left after the removal", pending)
	}
	rt.started(q.UID, "web") // a timer that fired just before the removal
	if _, ok, _ := rt.Pod(ctx, q.UID); ok {
		t.Fatal("a removed pod came back after its start delay")
	}
}

func TestFleetConfig(t *testing.T) {
	c := FleetConfig{Nodes: 16384, MilliCPU: 1, Memory: 1, MaxPods: 1, Labels: map[string]string{"pool": "x"}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Consume != ConsumeShared || c.NamePrefix != "sim" || c.Heartbeat != node.DefaultHeartbeat {
		t.Errorf("defaults: %+v", c)
	}
	for i, want := range map[int]string{0: "100.64.0.0/24", 1: "100.64.1.0/24", 256: "100.65.0.0/24", 16383: "100.127.255.0/24"} {
		if got := c.PodCIDR(i); got != want {
			t.Errorf("PodCIDR(%d) = %s, want %s", i, got, want)
		}
	}
	if l := c.NodeLabels(4); l[ZoneLabel] != "b" || l["pool"] != "x" {
		t.Errorf("labels of node 4: %v", l)
	}
	c.Labels[ZoneLabel] = "z"
	if l := c.NodeLabels(4); l[ZoneLabel] != "z" {
		t.Errorf("zone set by the labels is overridden: %v", l)
	}
	c.Nodes = 16385
	if err := c.Validate(); err == nil {
		t.Error("16,385 nodes fit in 100.64.0.0/10 /24s")
	}
}

// A restart keeps the ended instance's log as the previous one (one only)
// and starts a new log; before any restart there is no previous log.
func TestPreviousLog(t *testing.T) {
	rt, err := New(Config{PodCIDR: "10.9.8.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p := node.Pod{Namespace: "default", Name: "p", UID: "uid-00000001"}
	c := manifest.Container{Name: "web", Image: "img"}
	if _, err := rt.CreateSandbox(ctx, p); err != nil {
		t.Fatal(err)
	}
	logs := func(opts node.LogOptions) string {
		t.Helper()
		var b strings.Builder
		if err := rt.Logs(ctx, "default", "p", "web", opts, &b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	if err := rt.StartContainer(ctx, p, c); err != nil {
		t.Fatal(err)
	}
	if err := rt.Logs(ctx, "default", "p", "web", node.LogOptions{Previous: true}, io.Discard); !errors.Is(err, node.ErrNoPreviousLog) {
		t.Fatalf("previous log before a restart: %v, want node.ErrNoPreviousLog", err)
	}
	first := "simulated container web of default/p started\nsimulated container web exited with code 1\n"
	second := "simulated container web of default/p started (restart 1)\nsimulated container web exited with code 2\n"
	rt.Exit(p.UID, "web", 1)
	if got := logs(node.LogOptions{}); got != first {
		t.Fatalf("log of the first instance %q, want %q", got, first)
	}
	for i, code := range []int32{2, 3} {
		if err := rt.StartContainer(ctx, p, c); err != nil {
			t.Fatal(err)
		}
		rt.Exit(p.UID, "web", code)
		if i == 0 {
			if got := logs(node.LogOptions{}); got != second {
				t.Fatalf("log after a restart %q, want %q", got, second)
			}
		}
	}
	if got := logs(node.LogOptions{Previous: true}); got != second {
		t.Fatalf("previous log after two restarts %q, want the second instance's %q", got, second)
	}
	if err := rt.RemovePod(ctx, "default", "p", p.UID); err != nil {
		t.Fatal(err)
	}
	if len(rt.prev) != 0 || len(rt.logs) != 0 {
		t.Errorf("logs left after the pod's removal: %d current, %d previous", len(rt.logs), len(rt.prev))
	}
}

// With a ReadyDelay a container runs at once but is held unready until the
// delay has passed; an instance that restarted meanwhile is not made ready
// by its predecessor's timer.
func TestReadyDelay(t *testing.T) {
	var timers []func()
	after := func(_ time.Duration, f func()) func() bool {
		timers = append(timers, f)
		return func() bool { return true }
	}
	rt, err := New(Config{PodCIDR: "10.9.8.0/24", ReadyDelay: time.Second, AfterFunc: after})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p := node.Pod{Namespace: "default", Name: "p", UID: "uid-00000001"}
	c := manifest.Container{Name: "web", Image: "img"}
	if _, err := rt.CreateSandbox(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := rt.StartContainer(ctx, p, c); err != nil {
		t.Fatal(err)
	}
	st, _, _ := rt.Pod(ctx, p.UID)
	if cs := st.Containers[0]; !cs.Running || !cs.Unready {
		t.Fatalf("before the delay: %+v, want running and unready", cs)
	}
	if len(timers) != 1 {
		t.Fatalf("%d timers, want 1", len(timers))
	}
	timers[0]()
	select {
	case <-rt.Changes():
	default:
		t.Fatal("no change signalled when the delay passed")
	}
	st, _, _ = rt.Pod(ctx, p.UID)
	if cs := st.Containers[0]; !cs.Running || cs.Unready {
		t.Fatalf("after the delay: %+v, want running and ready", cs)
	}

	// A restart starts the delay over; the old timer does nothing.
	rt.Exit(p.UID, c.Name, 1)
	st, _, _ = rt.Pod(ctx, p.UID)
	if cs := st.Containers[0]; cs.Unready {
		t.Fatalf("exited: %+v, want no unready mark", cs)
	}
	if err := rt.StartContainer(ctx, p, c); err != nil {
		t.Fatal(err)
	}
	timers[0]()
	st, _, _ = rt.Pod(ctx, p.UID)
	if cs := st.Containers[0]; !cs.Running || !cs.Unready || cs.Restarts != 1 {
		t.Fatalf("restarted, old timer fired: %+v, want running and unready", cs)
	}
	timers[len(timers)-1]()
	st, _, _ = rt.Pod(ctx, p.UID)
	if cs := st.Containers[0]; cs.Unready {
		t.Fatalf("restarted, its own timer fired: %+v, want ready", cs)
	}
}
