package client

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
)

// pause sets spec.paused and resume clears it, the object read untouched;
// pausing what is paused, resuming what is not, and a kind without
// rollouts are kubectl's errors.
func TestPausedObject(t *testing.T) {
	dep := helloAt("nginx:1")
	obj, err := pausedObject(dep.Object, true)
	if err != nil || !obj.Deployment().Paused || dep.Object.Deployment().Paused {
		t.Fatalf("pause: paused %v, read %v, err %v", obj.Deployment() != nil && obj.Deployment().Paused, dep.Object.Deployment().Paused, err)
	}
	if obj.Deployment().Template.Spec.Containers[0].Image != "nginx:1" || manifest.TemplateHash(obj.Deployment().Template) != manifest.TemplateHash(dep.Object.Deployment().Template) {
		t.Error("pause changed the pod template")
	}
	if _, err := pausedObject(obj, true); err == nil || err.Error() != "is already paused" {
		t.Errorf("pause twice: %v", err)
	}
	back, err := pausedObject(obj, false)
	if err != nil || back.Deployment().Paused {
		t.Errorf("resume: %v", err)
	}
	if _, err := pausedObject(dep.Object, false); err == nil || err.Error() != "is not paused" {
		t.Errorf("resume what runs: %v", err)
	}
	if _, err := pausedObject(fixtureDS(time.Unix(0, 0)).Object, true); err == nil {
		t.Error("a DaemonSet was paused")
	}
}

// pause, resume and promote against NATS: the intent written is the
// Deployment with spec.paused flipped (the promote annotation set) and
// nothing else, kubectl's words on stdout; kubectl's errors for a second
// pause and for kinds that do not pause; promote refuses a non-canary.
func TestRolloutPauseResumePromoteAgainstNATS(t *testing.T) {
	c := newReadCluster(t)
	created := time.Now().Add(-time.Hour)
	c.seedWorkloads(t, created)
	applied := c.acceptingApplies(t, "dep-uid-1", 3)

	code, out, errOut := c.gantry("rollout", "pause", "deploy/hello")
	if code != 0 || out != "deployment.apps/hello paused\n" || errOut != "" {
		t.Fatalf("pause: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	got := applied()
	if len(got) != 1 || got[0].Kind != "deployment" || got[0].Name != "hello" {
		t.Fatalf("intents %+v", got)
	}
	var obj manifest.Object
	if err := json.Unmarshal(got[0].Object, &obj); err != nil || obj.Deployment() == nil || !obj.Deployment().Paused {
		t.Fatalf("the Deployment written: %v\n%s", err, got[0].Object)
	}
	want := fixtureWorkload(created).Object
	want.Deployment().Paused = true
	if wb, _ := json.Marshal(want); string(wb) != string(got[0].Object) {
		t.Errorf("more than spec.paused changed:\n got %s\nwant %s", got[0].Object, wb)
	}

	paused := fixtureWorkload(created)
	paused.Object.Deployment().Paused = true
	c.put(t, bus.BucketWorkloads, "deployment.default.hello", paused)
	c.progress(t, 0)
	if code, _, errOut := c.gantry("rollout", "pause", "deploy/hello"); code != 1 || errOut != "error: deployments.apps \"hello\" is already paused\n" {
		t.Errorf("pause twice: exit %d, stderr %q", code, errOut)
	}
	if code, out, errOut := c.gantry("rollout", "resume", "deployment", "hello"); code != 0 || out != "deployment.apps/hello resumed\n" {
		t.Errorf("resume: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if got := applied(); len(got) != 2 || strings.Contains(string(got[1].Object), `"paused"`) {
		t.Errorf("resume: intents %+v", got)
	}
	if code, _, errOut := c.gantry("rollout", "resume", "ds/agent"); code != 1 || errOut != "error: daemonsets.apps \"agent\" resuming is not supported: only deployments.apps\n" {
		t.Errorf("daemonset: exit %d, stderr %q", code, errOut)
	}

	// promote: refused for a Deployment that is no canary, nothing appended.
	c.put(t, bus.BucketWorkloads, "deployment.default.hello", fixtureWorkload(created))
	c.progress(t, 0) // the projector has applied the verdicts
	if code, _, errOut := c.gantry("rollout", "promote", "deploy/hello"); code != 1 || errOut != "error: deployments.apps \"hello\" is not a canary: promote needs spec.strategy.type Canary\n" {
		t.Errorf("promote: exit %d, stderr %q", code, errOut)
	}
	c.put(t, bus.BucketWorkloads, "deployment.default.hello", canaryHello(1))
	c.progress(t, 0)
	if code, out, errOut := c.gantry("rollout", "promote", "deploy/hello"); code != 0 || out != "deployment.apps/hello promoted (canary step 1)\n" {
		t.Errorf("promote: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	wantAnn := `"rollout.gantry.sh/promote":"` + manifest.TemplateHash(canaryHello(1).Object.Deployment().Template) + `/1"`
	if got := applied(); len(got) != 3 || !strings.Contains(string(got[2].Object), wantAnn) {
		t.Errorf("promote: %d intents, wantAnn the third with %s", len(got), wantAnn)
	}
}

// canaryHello is deployment hello as a canary of four steps, its rollout
// of the current template at step.
func canaryHello(step int32) *projections.Workload {
	w := helloAt("nginx:2")
	ten := int32(10)
	w.Object.Deployment().Strategy = &manifest.DeploymentStrategy{Type: manifest.CanaryStrategy, Canary: &manifest.CanarySpec{
		Steps: []manifest.CanaryStep{{SetWeight: &ten}, {Pause: &manifest.CanaryPause{}},
			{Analysis: &manifest.CanaryAnalysis{CEL: "pods.restarts == 0"}}, {Pause: &manifest.CanaryPause{Duration: "60s"}}}}}
	w.Status.Rollout = &manifest.RolloutStatus{StableRevision: 1, CanaryHash: manifest.TemplateHash(w.Object.Deployment().Template), CanaryStep: step}
	return w
}

// promote sets rollout.gantry.sh/promote to the step the canary waits at
// (a pause), keeping the other annotations; it refuses a Deployment that
// is no canary, a rollout of an older template, a step that is no pause,
// and a rollout past its steps.
func TestPromoteObject(t *testing.T) {
	w := canaryHello(1)
	w.Object.Metadata.Annotations = map[string]string{"team": "web"}
	obj, step, err := promoteObject(w)
	if err != nil || step != 1 || obj.Metadata.Annotations[manifest.PromoteAnnotation] != manifest.TemplateHash(w.Object.Deployment().Template)+"/1" || obj.Metadata.Annotations["team"] != "web" {
		t.Fatalf("step %d, annotations %v, err %v", step, obj.Metadata.Annotations, err)
	}
	if _, ok := w.Object.Metadata.Annotations[manifest.PromoteAnnotation]; ok {
		t.Error("the object read was changed")
	}
	if _, step, err := promoteObject(canaryHello(3)); err != nil || step != 3 {
		t.Errorf("a pause with a duration ends early: step %d, err %v", step, err)
	}

	older := canaryHello(1)
	older.Status.Rollout.CanaryHash = "oldhash"
	noStatus := canaryHello(1)
	noStatus.Status.Rollout = nil
	for name, tc := range map[string]struct {
		w    *projections.Workload
		want string
	}{
		"rolling update": {helloAt("nginx:2"), "is not a canary: promote needs spec.strategy.type Canary"},
		"no rollout yet": {noStatus, "is not paused at a canary step: its rollout of the current template has not begun"},
		"older template": {older, "is not paused at a canary step: its rollout of the current template has not begun"},
		"set weight":     {canaryHello(0), "is not paused at a canary step: step 0 is setWeight 10"},
		"analysis":       {canaryHello(2), `is not paused at a canary step: step 2 is analysis "pods.restarts == 0"`},
		"all done":       {canaryHello(4), "is not paused at a canary step: all 4 steps are done"},
	} {
		if _, _, err := promoteObject(tc.w); err == nil || err.Error() != tc.want {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

// acceptingApplies stands in for admission, accepting every apply intent
// as object uid at generation; applied returns those seen so far.
func (c *readCluster) acceptingApplies(t *testing.T, uid string, generation int64) (applied func() []events.IntentApplied) {
	t.Helper()
	var mu sync.Mutex
	var got []events.IntentApplied
	c.admitting(t, func(id string, ev events.Event) *events.AdmissionAccepted {
		ia, ok := ev.(*events.IntentApplied)
		if !ok {
			return nil
		}
		mu.Lock()
		got = append(got, *ia)
		mu.Unlock()
		return &events.AdmissionAccepted{IntentID: id, Op: events.OpApply, Kind: ia.Kind, Namespace: ia.Namespace, Name: ia.Name,
			UID: uid, Generation: generation, Object: ia.Object}
	})
	return func() []events.IntentApplied {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
}
