package admission_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
)

// canary is Deployment x with a canary strategy: setWeight 10, a pause
// until promoted, then an analysis of the given CEL.
func canary(cel string) manifest.Object {
	o := pt.Deployment(ns, "x", 4, "nginx:1.27")
	w := int32(10)
	o.Deployment().Strategy = &manifest.DeploymentStrategy{Type: manifest.CanaryStrategy, Canary: &manifest.CanarySpec{
		Steps: []manifest.CanaryStep{{SetWeight: &w}, {Pause: &manifest.CanaryPause{}}, {Analysis: &manifest.CanaryAnalysis{CEL: cel}}}}}
	return o
}

// TestCanaryAnalysisCompiled: admission compiles every canary analysis and
// refuses a bad one in the log, naming its field path and CEL's reason.
func TestCanaryAnalysisCompiled(t *testing.T) {
	const path = "spec.strategy.canary.steps[2].analysis.cel: "
	cases := []struct {
		name, cel string
		want      string // "" accepts; else the one reason, as a prefix
	}{
		{"the issue's example", "pods.ready_ratio == 1.0 && pods.restarts == 0", ""},
		{"an unknown field", "pods.redy == 4", path + "1:5: undefined field 'redy'"},
		{"a syntax error", "pods.ready ==", path + "1:14: Syntax error: "},
		{"not a bool", "pods.ready_ratio", path + "canary analysis must return a bool, not double"},
		{"a runaway", "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25].all(a, " +
			"[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25].all(b, " +
			"[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25].all(c, a + b + c > pods.ready)))",
			path + "canary analysis too expensive: estimated cost "},
		// Validation names an empty analysis; it is not compiled too.
		{"empty", " ", path + "required: a CEL expression that must hold"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.apply(w.l.IntentApplyObject(canary(tc.cel)))
			ds := w.decide()
			if len(ds) != 1 {
				t.Fatalf("decisions:\n%s", show(ds))
			}
			if tc.want == "" {
				if a := acceptedOf(t, ds[0]); a.Generation != 1 {
					t.Errorf("accepted at generation %d", a.Generation)
				}
				return
			}
			r := rejectedOf(t, ds[0])
			if len(r.Reasons) != 1 || !strings.HasPrefix(r.Reasons[0], tc.want) {
				t.Errorf("reasons = %q, want one starting %q", r.Reasons, tc.want)
			}
		})
	}
}

// TestReapplyAfterAFailedRollout: given a Deployment accepted and a rollout
// decision about it, when the same object is applied again, expect a new
// generation when the rollout of the accepted generation failed (a new
// attempt), and an unchanged apply otherwise.
func TestReapplyAfterAFailedRollout(t *testing.T) {
	x := pt.Deployment(ns, "x", 2, "nginx:1.27")
	cases := []struct {
		name string
		// rollout is the status decided after generation 1 was accepted
		// (nil: none), for the uid given.
		rollout func(uid string) (string, *manifest.RolloutStatus)
		gen     int64
		same    bool
	}{
		{"no rollout decided", nil, 1, true},
		{"the rollout of generation 1 failed", func(uid string) (string, *manifest.RolloutStatus) {
			return uid, &manifest.RolloutStatus{FailedGeneration: 1, FailedRevision: 2, RolledBackTo: 1, Reason: manifest.ReasonProgressDeadlineExceeded}
		}, 2, false},
		{"a rollout stable, none failed", func(uid string) (string, *manifest.RolloutStatus) {
			return uid, &manifest.RolloutStatus{StableRevision: 1, StableHash: "abc"}
		}, 1, true},
		{"a failure of an earlier generation", func(uid string) (string, *manifest.RolloutStatus) {
			return uid, &manifest.RolloutStatus{FailedGeneration: 0, Reason: manifest.ReasonProgressDeadlineExceeded}
		}, 1, true},
		{"a failure of another incarnation's uid", func(string) (string, *manifest.RolloutStatus) {
			return "another-uid", &manifest.RolloutStatus{FailedGeneration: 1}
		}, 1, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.apply(w.l.IntentApplyObject(x))
			first := acceptedOf(t, w.settle()[0])
			if tc.rollout != nil {
				uid, st := tc.rollout(first.UID)
				w.apply(w.l.Append(events.WorkloadSubject(ns, "deployment", "x"), &events.WorkloadStatusDecided{
					Kind: "deployment", Namespace: ns, Name: "x", UID: uid, Rollout: st}))
			}
			w.apply(w.l.IntentApplyObject(x))
			ds := w.decide()
			if len(ds) != 1 {
				t.Fatalf("decisions:\n%s", show(ds))
			}
			a := acceptedOf(t, ds[0])
			if a.Generation != tc.gen || a.Unchanged != tc.same || a.UID != first.UID || !reflect.DeepEqual(a.Object, first.Object) {
				t.Errorf("accepted = generation %d unchanged %v uid %q; want %d %v %q, the same object",
					a.Generation, a.Unchanged, a.UID, tc.gen, tc.same, first.UID)
			}
			// The new attempt is accepted; applying the same object again is
			// unchanged at its generation.
			w.store(ds[0])
			w.apply(w.l.IntentApplyObject(x))
			if a := acceptedOf(t, w.decide()[0]); !a.Unchanged || a.Generation != tc.gen {
				t.Errorf("then: accepted = generation %d unchanged %v; want %d unchanged", a.Generation, a.Unchanged, tc.gen)
			}
		})
	}
}
