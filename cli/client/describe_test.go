package client

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
)

// hasLine reports a line of out matching the pattern (spaces as \s+).
func hasLine(t *testing.T, out, pattern string) {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + strings.ReplaceAll(regexp.QuoteMeta(pattern), " ", `\s+`) + `\s*$`)
	if !re.MatchString(out) {
		t.Errorf("no line %q in\n%s", pattern, out)
	}
}

func TestDescribePod(t *testing.T) {
	p := fixturePod(fixtureT0)
	bound := sealedRecord(t, &events.PodBound{Pod: events.PodPlanned{UID: p.UID}, Node: "node-1", Epoch: 1, Feasible: 1},
		"scheduler", "default/hello-abc12", fixtureT0.Add(time.Second))
	var buf bytes.Buffer
	if err := describePod(&buf, p, "10.0.0.1", []logItem{bound}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, l := range []string{
		"Name: hello-abc12",
		"Namespace: default",
		"Node: node-1/10.0.0.1",
		"Labels: app=hello",
		" pod-template-hash=abc12",
		"Annotations: <none>",
		"Status: Running",
		"IP: 10.42.0.7",
		"Controlled By: Deployment/hello",
		"Containers:",
		"  web:",
		"    Container ID: containerd://c1",
		"    Image: nginx:1.25",
		"    Port: 80/TCP",
		"    State: Running",
		"    Ready: True",
		"    Restart Count: 2",
		"    Limits:",
		"      memory: 128Mi",
		"    Requests:",
		"      cpu: 100m",
		"      MODE: prod",
		"Conditions:",
		"  Type Status",
		"  Ready True",
		"  PodScheduled True",
		"Events:",
		"  TIME TYPE SOURCE MESSAGE",
		"  " + fixtureT0.Add(time.Second).Local().Format(time.RFC3339) + " PodBound scheduler bound to node-1 (epoch 1): 1 node feasible",
	} {
		hasLine(t, out, l)
	}
	// Values line up, as in kubectl.
	if !strings.Contains(out, "Name:           hello-abc12\nNamespace:      default\n") {
		t.Errorf("top-level values are not aligned:\n%s", out)
	}
}

// A crash-looping container shows, as kubectl does, its waiting state and
// how its last run ended; an OOM-killed one says so.
func TestDescribePodLastState(t *testing.T) {
	p := fixturePod(fixtureT0)
	started, finished := fixtureT0.Add(time.Minute), fixtureT0.Add(time.Minute+3*time.Second)
	p.Status.Containers[0] = events.ContainerStatus{Name: "web", ContainerID: "containerd://c1", Image: "nginx:1.25",
		State: events.ContainerWaiting, Reason: "CrashLoopBackOff", RestartCount: 3,
		LastState: &events.TerminatedState{ExitCode: 137, Reason: "OOMKilled", StartedAt: started, FinishedAt: finished}}
	var buf bytes.Buffer
	if err := describePod(&buf, p, "10.0.0.1", nil); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	want := strings.Join([]string{
		"    State:          Waiting",
		"      Reason:       CrashLoopBackOff",
		"    Last State:     Terminated",
		"      Reason:       OOMKilled",
		"      Exit Code:    137",
		"      Started:      " + describeTime(started),
		"      Finished:     " + describeTime(finished),
		"    Ready:          False",
		"    Restart Count:  3",
	}, "\n")
	if !strings.Contains(out, want) {
		t.Errorf("describe lacks\n%s\nin\n%s", want, out)
	}
}

func TestDescribePendingPodAndEmptyEvents(t *testing.T) {
	var buf bytes.Buffer
	if err := describePod(&buf, fixturePendingPod(fixtureT0), "", nil); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	hasLine(t, out, "Node: <none>")
	hasLine(t, out, "Status: Pending")
	hasLine(t, out, "  PodScheduled False")
	hasLine(t, out, "    Ready: False")
	hasLine(t, out, "Events: <none>")
	if strings.Contains(out, "State:") {
		t.Errorf("an unbound pod's containers have no state:\n%s", out)
	}
}

func TestDescribeDeployment(t *testing.T) {
	var buf bytes.Buffer
	rejected := sealedRecord(t, &events.AdmissionRejected{Op: "apply", Kind: "deployment", Namespace: "default", Name: "hello",
		Reasons: []string{"spec.replicas: must be >= 0"}}, "admission", "default/hello", fixtureT0)
	if err := describeWorkload(&buf, fixtureWorkload(fixtureT0), nil, []logItem{rejected}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, l := range []string{
		"Name: hello",
		"Labels: team=web",
		"Selector: app=hello",
		"Replicas: 3 desired | 3 updated | 3 total | 2 available | 1 unavailable",
		"Pod Template:",
		"  Labels: app=hello",
		"  Containers:",
		"    web:",
		"      Image: nginx:1.25",
		"  " + fixtureT0.Local().Format(time.RFC3339) + " AdmissionRejected admission rejected apply of deployment default/hello: spec.replicas: must be >= 0",
	} {
		hasLine(t, out, l)
	}
}

func TestDescribeNode(t *testing.T) {
	now := fixtureT0.Add(time.Hour)
	var buf bytes.Buffer
	pods := []*projections.Pod{fixturePod(fixtureT0)}
	if err := describeNode(&buf, fixtureNode(fixtureT0, now), pods, nil, now); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, l := range []string{
		"Name: node-1",
		"Roles: <none>",
		"Labels: zone=a",
		"  InternalIP: 10.0.0.1",
		"Capacity:",
		"  cpu: 8",
		"  memory: 16Gi",
		"  pods: 110",
		"Allocatable:",
		"  cpu: 7500m",
		"PodCIDR: 10.42.0.0/24",
		"Non-terminated Pods: (1 in total)",
		"  default hello-abc12 100m (1%) 0 (0%) 64Mi (0%) 128Mi (0%) 60m",
		"  cpu 100m (1%) 0 (0%)",
	} {
		hasLine(t, out, l)
	}
	if !strings.Contains(out, "  Ready  True") || !strings.Contains(out, "LastTransitionTime") {
		t.Errorf("node is ready:\n%s", out)
	}
	// Decided NotReady: the condition is Unknown, with the decision's reason.
	buf.Reset()
	n := fixtureNode(fixtureT0, now)
	n.State = &projections.NodeState{Reason: "NodeStatusUnknown", Message: "node agent stopped posting heartbeats (none for 4s)", Since: now,
		Taints: []manifest.Taint{{Key: manifest.TaintNodeUnreachable, Effect: manifest.TaintNoSchedule}, {Key: manifest.TaintNodeUnreachable, Effect: manifest.TaintNoExecute}}}
	if err := describeNode(&buf, n, pods, nil, now); err != nil {
		t.Fatal(err)
	}
	out = buf.String()
	if !strings.Contains(out, "  Ready  Unknown") || !strings.Contains(out, describeTime(now)+"  NodeStatusUnknown  node agent stopped posting heartbeats (none for 4s)") {
		t.Errorf("node decided NotReady:\n%s", out)
	}
	hasLine(t, out, "Taints: node.kubernetes.io/unreachable:NoSchedule")
	hasLine(t, out, " node.kubernetes.io/unreachable:NoExecute")
}

func TestFilterPodLog(t *testing.T) {
	p := fixturePod(fixtureT0)
	at := fixtureT0
	item := func(ev events.Event) logItem { at = at.Add(time.Second); return sealedRecord(t, ev, "x", "", at) }
	before := item(&events.AdmissionRejected{Kind: "deployment", Name: "hello"})
	oldOwner := item(&events.AdmissionAccepted{Kind: "deployment", Name: "hello", UID: "old-dep"})
	accepted := item(&events.AdmissionAccepted{Kind: "deployment", Name: "hello", UID: "dep-uid-1"})
	oldPod := item(&events.PodPlanned{Name: p.Name, UID: "old-pod"})
	planned := item(&events.PodPlanned{Name: p.Name, UID: p.UID})
	rejected := item(&events.AdmissionRejected{Kind: "deployment", Name: "hello"})
	status := item(&events.PodStatusObserved{Name: p.Name, UID: p.UID})
	unreadable := logItem{err: errors.New("bad"), at: at}
	got := filterPodLog([]logItem{before, oldOwner, accepted, oldPod, planned, rejected, status, unreadable}, p)
	want := []logItem{accepted, planned, rejected, status, unreadable}
	if len(got) != len(want) {
		t.Fatalf("kept %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].env.ID != want[i].env.ID {
			t.Errorf("event %d: %s, want %s", i, got[i].env.Type, want[i].env.Type)
		}
	}
}

func TestEventRowOfUnreadable(t *testing.T) {
	it := logItem{stream: events.StreamObservations, seq: 7, subject: "gantry.obs.n.pod.a.b", err: errors.New("boom")}
	got := eventRow(it)
	want := []string{"<unknown>", "?", "", "unreadable event observations/7 on gantry.obs.n.pod.a.b: boom"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
}
