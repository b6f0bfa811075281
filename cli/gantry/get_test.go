package main

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/projections"
)

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-5 * time.Second, "<invalid>"},
		{-time.Second, "0s"},
		{0, "0s"},
		{5 * time.Second, "5s"},
		{119 * time.Second, "119s"},
		{2 * time.Minute, "2m"},
		{3*time.Minute + 12*time.Second, "3m12s"},
		{10 * time.Minute, "10m"},
		{179 * time.Minute, "179m"},
		{3 * time.Hour, "3h"},
		{5*time.Hour + 10*time.Minute, "5h10m"},
		{8 * time.Hour, "8h"},
		{47 * time.Hour, "47h"},
		{48 * time.Hour, "2d"},
		{76 * time.Hour, "3d4h"},
		{4 * 24 * time.Hour, "4d"},
		{8 * 24 * time.Hour, "8d"},
		{400 * 24 * time.Hour, "400d"},
		{2 * 365 * 24 * time.Hour, "2y"},
		{(2*365 + 10) * 24 * time.Hour, "2y10d"},
		{9 * 365 * 24 * time.Hour, "9y"},
	}
	for _, tt := range tests {
		if got := humanDuration(tt.d); got != tt.want {
			t.Errorf("humanDuration(%s) = %q, want %q", tt.d, got, tt.want)
		}
	}
	if got := age(fixtureT0, time.Time{}); got != "<unknown>" {
		t.Errorf("age of zero time = %q", got)
	}
}

func TestPodStatusColumn(t *testing.T) {
	with := func(phase string, cs ...events.ContainerStatus) *projections.Pod {
		p := fixturePod(fixtureT0)
		p.Status.Phase = phase
		p.Status.Containers = cs
		return p
	}
	running := events.ContainerStatus{Name: "a", State: events.ContainerRunning, Ready: true}
	waiting := func(reason string) events.ContainerStatus {
		return events.ContainerStatus{Name: "b", State: events.ContainerWaiting, Reason: reason}
	}
	tests := []struct {
		name string
		pod  *projections.Pod
		want string
	}{
		{"unbound", func() *projections.Pod { p := fixturePendingPod(fixtureT0); p.Unschedulable = ""; return p }(), "Pending"},
		{"unschedulable stays Pending", fixturePendingPod(fixtureT0), "Pending"},
		{"bound, no report yet", func() *projections.Pod { p := fixturePod(fixtureT0); p.Status = nil; return p }(), "Pending"},
		{"running", fixturePod(fixtureT0), "Running"},
		{"creating", with(events.PhasePending, waiting("ContainerCreating")), "ContainerCreating"},
		{"image pull", with(events.PhasePending, waiting("ErrImagePull")), "ErrImagePull"},
		{"image pull backoff", with(events.PhasePending, waiting("ImagePullBackOff")), "ImagePullBackOff"},
		{"crash loop", with(events.PhaseRunning, running, waiting("CrashLoopBackOff")), "CrashLoopBackOff"},
		{"first container wins", with(events.PhasePending, waiting("ErrImagePull"), waiting("ContainerCreating")), "ErrImagePull"},
		{"completed", with(events.PhaseSucceeded, events.ContainerStatus{State: events.ContainerTerminated, Reason: "Completed", ExitCode: ptrInt32(0)}), "Completed"},
		{"exit code without reason", with(events.PhaseFailed, events.ContainerStatus{State: events.ContainerTerminated, ExitCode: ptrInt32(2)}), "ExitCode:2"},
		{"completed with a running sidecar", with(events.PhaseRunning, events.ContainerStatus{State: events.ContainerTerminated, Reason: "Completed"}, running), "NotReady"},
		{"pod reason", func() *projections.Pod {
			p := with(events.PhasePending)
			p.Status.Reason = "SandboxCreateError"
			return p
		}(), "SandboxCreateError"},
		{"deleting", func() *projections.Pod { p := fixturePod(fixtureT0); p.Deleting = true; return p }(), "Terminating"},
	}
	for _, tt := range tests {
		if got := podStatusColumn(tt.pod); got != tt.want {
			t.Errorf("%s: status %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestTableRows(t *testing.T) {
	now := fixtureT0.Add(3 * time.Hour)
	pending := fixturePendingPod(fixtureT0)
	tests := []struct {
		name   string
		r      resource
		wide   bool
		withNS bool
		want   []string
	}{
		{"pod", resource{pod: fixturePod(fixtureT0)}, false, false, []string{"hello-abc12", "1/1", "Running", "2", "3h"}},
		{"pod wide", resource{pod: fixturePod(fixtureT0)}, true, true,
			[]string{"default", "hello-abc12", "1/1", "Running", "2", "3h", "10.42.0.7", "node-1"}},
		{"pending pod wide", resource{pod: pending}, true, false, []string{"big-xyz", "0/1", "Pending", "0", "3h", "<none>", "<none>"}},
		{"deployment", resource{workload: fixtureWorkload(fixtureT0)}, false, false, []string{"hello", "2/3", "3", "2", "3h"}},
		{"deployment wide", resource{workload: fixtureWorkload(fixtureT0)}, true, false,
			[]string{"hello", "2/3", "3", "2", "3h", "web", "nginx:1.25", "app=hello"}},
		{"node", resource{node: fixtureNode(fixtureT0, now)}, false, false, []string{"node-1", "Ready", "<none>", "3h", "v0.1.0"}},
		{"lost node wide", resource{node: fixtureNode(fixtureT0, now.Add(-time.Minute))}, true, false,
			[]string{"node-1", "NotReady", "<none>", "3h", "v0.1.0", "10.0.0.1", "containerd", "8", "16Gi", "10.42.0.0/24"}},
		{"never heard from", resource{node: fixtureNode(fixtureT0, time.Time{})}, false, false, []string{"node-1", "NotReady", "<none>", "3h", "v0.1.0"}},
	}
	for _, tt := range tests {
		if got := tableRow(tt.r, now, tt.wide, tt.withNS); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: row %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestTableLayoutIsKubectls(t *testing.T) {
	var buf bytes.Buffer
	tw := newTableWriter(&buf)
	writeRow(tw, tableHeader("pod", false, false))
	writeRow(tw, []string{"hello-abc12", "1/1", "Running", "0", "5s"})
	writeRow(tw, []string{"a", "0/1", "ErrImagePull", "12", "4d"})
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "NAME          READY   STATUS         RESTARTS   AGE\n" +
		"hello-abc12   1/1     Running        0          5s\n" +
		"a             0/1     ErrImagePull   12         4d\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}

	// A watch lays out rows one by one and keeps the columns it had.
	buf.Reset()
	rt := &rememberingTable{out: &buf}
	rt.grow(tableHeader("pod", false, false), []string{"hello-abc12", "1/1", "Running", "0", "5s"})
	rt.write(tableHeader("pod", false, false))
	rt.write([]string{"hello-abc12", "1/1", "Running", "0", "5s"})
	rt.write([]string{"a", "0/1", "ErrImagePull", "12", "4d"})
	want = "NAME          READY   STATUS    RESTARTS   AGE\n" +
		"hello-abc12   1/1     Running   0          5s\n" +
		"a             0/1     ErrImagePull   12         4d\n"
	if buf.String() != want {
		t.Errorf("watch rows: got\n%s\nwant\n%s", buf.String(), want)
	}
}

func TestResourceKeys(t *testing.T) {
	tests := []struct {
		kind, ns, name, key, pattern, all string
	}{
		{"pod", "default", "hello-abc", "default.hello-abc", "default.>", ">"},
		{"deployment", "shop", "web", "deployment.shop.web", "deployment.shop.>", "deployment.>"},
		{"node", "", "node-1", "node-1", ">", ">"},
	}
	for _, tt := range tests {
		rk := resourceKinds[tt.kind]
		if got := rk.key(tt.ns, tt.name); got != tt.key {
			t.Errorf("%s key = %q, want %q", tt.kind, got, tt.key)
		}
		if got := rk.pattern(tt.ns); got != tt.pattern {
			t.Errorf("%s pattern = %q, want %q", tt.kind, got, tt.pattern)
		}
		if got := rk.pattern(""); got != tt.all {
			t.Errorf("%s pattern for all = %q, want %q", tt.kind, got, tt.all)
		}
	}
}

func TestGetParse(t *testing.T) {
	tests := []struct {
		args    []string
		o       getOptions
		kind    string
		name    string
		wantErr string
	}{
		{args: []string{"pods"}, kind: "pod"},
		{args: []string{"deploy", "hello"}, kind: "deployment", name: "hello"},
		{args: []string{"deployment.apps/hello"}, kind: "deployment", name: "hello"},
		{args: []string{"no"}, kind: "node"},
		{args: []string{"pod/x", "y"}, wantErr: "resource/name form"},
		{args: []string{"services"}, wantErr: "unknown resource type"},
		{args: []string{"pods"}, o: getOptions{output: "name"}, wantErr: `output format "name"`},
		{args: []string{"pods", "x"}, o: getOptions{allNamespaces: true}, wantErr: "across all namespaces"},
	}
	for _, tt := range tests {
		o := tt.o
		err := o.parse(tt.args)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%v: error %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || o.kind != tt.kind || o.name != tt.name || o.namespace != "default" {
			t.Errorf("%v: got %+v, %v", tt.args, o, err)
		}
	}
}

func TestLagging(t *testing.T) {
	want := map[string]uint64{events.StreamDecisions: 10, events.StreamObservations: 4}
	tests := []struct {
		got  map[string]uint64
		want string
	}{
		{map[string]uint64{events.StreamDecisions: 10, events.StreamObservations: 4, events.StreamHeartbeats: 99}, ""},
		{map[string]uint64{events.StreamDecisions: 12, events.StreamObservations: 5}, ""},
		{map[string]uint64{events.StreamDecisions: 9, events.StreamObservations: 4}, "GANTRY_DECISIONS applied up to 9 of 10"},
		{map[string]uint64{}, "GANTRY_DECISIONS applied up to 0 of 10"},
		{map[string]uint64{events.StreamDecisions: 10}, "GANTRY_OBSERVATIONS applied up to 0 of 4"},
	}
	for _, tt := range tests {
		if got := lagging(tt.got, want); got != tt.want {
			t.Errorf("lagging(%v) = %q, want %q", tt.got, got, tt.want)
		}
	}
}
