package admission_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/gantry-sh/gantry/events"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
)

// Given a cluster ceiling of 10,000 pods per workload, when a Deployment
// asks for a billion replicas, then admission refuses it with a reason that
// names the field, the figure and the flag; one at the ceiling is accepted,
// and so is any count with no ceiling set.
func TestTheCeilingOnPodsPerWorkload(t *testing.T) {
	const want = "spec.replicas: 1000000000 exceeds the cluster's limit of 10000 pods per workload (gantry up --max-pods-per-workload)"
	cases := []struct {
		name     string
		ceiling  int32
		replicas int32
		reason   string // "": accepted
	}{
		{"a billion replicas over a ceiling of 10,000", 10_000, 1_000_000_000, want},
		{"replicas at the ceiling", 10_000, 10_000, ""},
		{"no ceiling", 0, 1_000_000_000, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.svc.MaxPodsPerWorkload = tc.ceiling
			w.apply(w.l.IntentApplyObject(pt.Deployment(ns, "huge", tc.replicas, "nginx:1.27")))
			ds := w.decide()
			if len(ds) != 1 {
				t.Fatalf("decisions:\n%s", show(ds))
			}
			switch e := ds[0].Event.(type) {
			case *events.AdmissionRejected:
				if tc.reason == "" || !slices.Contains(e.Reasons, tc.reason) {
					t.Fatalf("rejected with %q; want %q", strings.Join(e.Reasons, "; "), tc.reason)
				}
			case *events.AdmissionAccepted:
				if tc.reason != "" {
					t.Fatalf("accepted; want refused: %s", tc.reason)
				}
			default:
				t.Fatalf("unexpected %T", e)
			}
		})
	}
}

// Given a Deployment accepted at 3 replicas and a ceiling of 10,000, when
// it is scaled to a billion, then the scale is refused and the object keeps
// its accepted state.
func TestScalingPastTheCeilingIsRefused(t *testing.T) {
	w := newWorld(t)
	w.svc.MaxPodsPerWorkload = 10_000
	w.apply(w.l.IntentApplyObject(pt.Deployment(ns, "web", 3, "nginx:1.27")))
	for _, d := range w.decide() {
		w.store(d)
	}
	w.apply(w.l.IntentApplyObject(pt.Deployment(ns, "web", 1_000_000_000, "nginx:1.27")))
	ds := w.decide()
	if len(ds) != 1 {
		t.Fatalf("decisions:\n%s", show(ds))
	}
	if e, ok := ds[0].Event.(*events.AdmissionRejected); !ok || !strings.HasPrefix(strings.Join(e.Reasons, ";"), "spec.replicas: 1000000000 exceeds") {
		t.Fatalf("the scale to a billion: %s", show(ds))
	}
}
