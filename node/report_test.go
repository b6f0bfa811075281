package node_test

import (
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/node"
)

func TestStatusID(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	later := at.Add(time.Minute)
	base := func() *events.PodStatusObserved {
		return &events.PodStatusObserved{Namespace: "default", Name: "web-1", UID: "uid-1", Node: "n1", Epoch: 1,
			Phase: events.PhaseRunning, PodIP: "10.42.0.2",
			Containers: []events.ContainerStatus{{Name: "web", Image: "img", State: events.ContainerRunning, Ready: true, StartedAt: &at}}}
	}
	id := func(name string, st *events.PodStatusObserved, after string) string {
		t.Helper()
		s, err := node.StatusID(name, st, after)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	want := id("n1", base(), "")
	if again := id("n1", base(), ""); again != want {
		t.Fatalf("the same status twice: %s and %s", want, again)
	}
	cases := []struct {
		name  string
		node  string
		after string
		edit  func(*events.PodStatusObserved)
		same  bool
	}{
		{name: "same status, made again", node: "n1", edit: func(*events.PodStatusObserved) {}, same: true},
		{name: "phase", node: "n1", edit: func(s *events.PodStatusObserved) { s.Phase = events.PhasePending }},
		{name: "pod IP", node: "n1", edit: func(s *events.PodStatusObserved) { s.PodIP = "10.42.0.3" }},
		{name: "epoch", node: "n1", edit: func(s *events.PodStatusObserved) { s.Epoch = 2 }},
		{name: "uid", node: "n1", edit: func(s *events.PodStatusObserved) { s.UID = "uid-2" }},
		{name: "node", node: "n2", edit: func(*events.PodStatusObserved) {}},
		{name: "restart count", node: "n1", edit: func(s *events.PodStatusObserved) { s.Containers[0].RestartCount = 1 }},
		{name: "container started again", node: "n1", edit: func(s *events.PodStatusObserved) { s.Containers[0].StartedAt = &later }},
		{name: "reason", node: "n1", edit: func(s *events.PodStatusObserved) { s.Reason = "SandboxCreateError" }},
		// The same status after another one (Running, Pending, Running) is
		// news, not a retry of the first.
		{name: "after another report", node: "n1", after: "0b7a5c9e-0000-0000-0000-000000000000", edit: func(*events.PodStatusObserved) {}},
	}
	for _, tc := range cases {
		st := base()
		tc.edit(st)
		got := id(tc.node, st, tc.after)
		if (got == want) != tc.same {
			t.Errorf("%s: id %s, first %s; want same=%v", tc.name, got, want, tc.same)
		}
	}
}

func TestRemovalID(t *testing.T) {
	a := node.RemovalID("n1", "uid-1", 1)
	if a != node.RemovalID("n1", "uid-1", 1) {
		t.Error("the same removal has two ids")
	}
	for _, other := range []string{node.RemovalID("n1", "uid-1", 2), node.RemovalID("n1", "uid-2", 1), node.RemovalID("n2", "uid-1", 1)} {
		if other == a {
			t.Errorf("removals of different pods, epochs or nodes share id %s", a)
		}
	}
}
