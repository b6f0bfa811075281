package events_test

import (
	"testing"

	"github.com/gantry-sh/gantry/events"
)

func TestFilterCovers(t *testing.T) {
	for _, c := range []struct {
		filter, subject string
		want            bool
	}{
		{"gantry.decision.>", "gantry.decision.pod.default.web-1", true},
		{"gantry.decision.>", "gantry.decision", false},
		{"gantry.decision.>", "gantry.decisions.x", false},
		{"gantry.obs.*.pod.>", "gantry.obs.n1.pod.default.web", true},
		{"gantry.obs.*.pod.>", "gantry.obs.n1.node", false},
		{"gantry.obs.*.node", "gantry.obs.n1.node", true},
		{"gantry.obs.*.node", "gantry.obs.n1.node.x", false},
		{"gantry.obs.*.node", "gantry.obs.node", false},
		{"gantry.hb.*", "gantry.hb.n1", true},
		{"a.b", "a.b", true},
		{"a.b", "a", false},
		{"a", "a.b", false},
		{">", "a.b.c", true},
		{"*", "a", true},
		{"*", "a.b", false},
		// filters over filters
		{"gantry.decision.>", "gantry.decision.admission.>", true},
		{"gantry.decision.admission.>", "gantry.decision.>", false},
		{"gantry.obs.*.pod.>", "gantry.obs.n1.pod.>", true},
		{"gantry.obs.n1.pod.>", "gantry.obs.*.pod.>", false},
		{"a.*", "a.>", false},
		{"a.>", "a.*", true},
		// a node's state is not a node decision (admission's cordon fence)
		{events.SubjectNodeStateAll, events.NodeStateSubject("n1"), true},
		{events.SubjectNodeDecisionAll, events.NodeStateSubject("n1"), false},
		{events.SubjectNodeStateAll, events.NodeDecisionSubject("n1"), false},
	} {
		if got := events.FilterCovers(c.filter, c.subject); got != c.want {
			t.Errorf("FilterCovers(%q, %q) = %v, want %v", c.filter, c.subject, got, c.want)
		}
	}
}

func TestPodOfDecisionSubject(t *testing.T) {
	for _, c := range []struct {
		subject, ns, pod string
		ok               bool
	}{
		{events.PodDecisionSubject("default", "web-1"), "default", "web-1", true},
		{"gantry.decision.pod.default", "", "", false},
		{events.NodePodSubject("n1", "default", "web-1"), "", "", false},
		{"gantry.decision.admission.default.Deployment().web", "", "", false},
	} {
		ns, pod, ok := events.PodOfDecisionSubject(c.subject)
		if ns != c.ns || pod != c.pod || ok != c.ok {
			t.Errorf("PodOfDecisionSubject(%q) = %q, %q, %v; want %q, %q, %v", c.subject, ns, pod, ok, c.ns, c.pod, c.ok)
		}
	}
}
