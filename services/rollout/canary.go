package rollout

import (
	"fmt"

	"github.com/gantry-sh/gantry/events/manifest"
)

// A canary rollout runs strategy.canary.steps in order, one step per
// decision (RolloutStatus.CanaryStep, from StepStartedAt), so the log
// tells each step:
//
//   - setWeight w: the new revision gets ⌈replicas × w / 100⌉ replicas and
//     the old ones keep the rest, moved within maxSurge and maxUnavailable
//     as a rolling update moves them; done when the new ones are all
//     available and the old ones are down to the rest.
//   - pause {duration}: done once the duration has passed since the step
//     began, or once `gantry rollout promote` set the annotation
//     rollout.gantry.sh/promote to this template's hash and this step's
//     index (or more); without a duration, only then.
//   - analysis {cel}: the expression, over the new revision's pods' health
//     (events/rolloutcheck), is evaluated once the step begins: true, the
//     step is done; false or an error, the rollout fails (AnalysisFailed)
//     and is rolled back like any failed rollout.
//
// Before the first setWeight the new revision has 0 replicas; after the
// last step it gets all of them, as a rolling update. A Deployment's first
// revision has no steps: there is nothing to weigh it against.
//
// Worked example: 10 replicas, steps setWeight 10, pause 60s, analysis,
// setWeight 50 → step 0: 1 new, 9 old; step 1 waits 60 s; step 2 judges
// the 1 new pod; step 3: 5 new, 5 old; then 10 new, 0 old.

// isCanary reports a canary rollout under way: the strategy is Canary, the
// current template is not the stable one, and there is a stable one to
// share the replicas with (a Deployment's first revision, with nothing to
// compare it to, rolls as a rolling update does, as in Argo Rollouts), and
// it has not failed.
func (r *roll) isCanary() bool {
	return r.spec.StrategyType() == manifest.CanaryStrategy && !r.failed &&
		r.st.StableHash != "" && r.st.StableHash != r.hash
}

// canaryCap is how many replicas the current step gives the new revision.
func (r *roll) canaryCap() int32 {
	steps := r.spec.Strategy.Canary.Steps
	step := int(r.canaryStep())
	if step >= len(steps) {
		return r.want
	}
	weight := int32(0)
	for _, st := range steps[:step+1] {
		if st.SetWeight != nil {
			weight = *st.SetWeight
		}
	}
	return int32((int64(weight)*int64(r.want) + 99) / 100)
}

// canaryStep is the step of the current template's canary: the decided
// one, or 0 for a template not begun.
func (r *roll) canaryStep() int32 {
	if r.st.CanaryHash != r.hash {
		return 0
	}
	return r.st.CanaryStep
}

// canary begins a new template's canary at step 0, and moves to the next
// step when the current one is done. A failing analysis is a failure.
func (r *roll) canary() *failure {
	if !r.isCanary() || r.paused {
		return nil
	}
	if r.st.CanaryHash != r.hash {
		r.st.CanaryHash, r.st.CanaryStep = r.hash, 0
		r.st.StepStartedAt = ptr(r.now.UTC())
		return nil
	}
	steps := r.spec.Strategy.Canary.Steps
	i := int(r.st.CanaryStep)
	if i >= len(steps) || r.target == nil || r.target != r.current {
		return nil
	}
	started := r.now
	if r.st.StepStartedAt != nil {
		started = *r.st.StepStartedAt
	}
	step := steps[i]
	done := false
	switch {
	case step.SetWeight != nil:
		cap := r.canaryCap()
		rest := int32(0)
		for _, o := range r.others() {
			rest += o.size()
		}
		done = r.target.spec == cap && r.target.avail() >= cap && rest <= r.want-cap
	case step.Pause != nil:
		hash, promoted, ok := manifest.ParsePromote(r.w.Object.Metadata.Annotations[manifest.PromoteAnnotation])
		done = ok && hash == r.hash && int(promoted) >= i // a pause with a duration ends early
		if d := step.Pause.PauseDuration(); d > 0 && !done {
			at := started.Add(d)
			done = !r.now.Before(at)
			if !done {
				r.wakeAt(at)
			}
		}
	case step.Analysis != nil:
		ok, err := r.analyze(step.Analysis.CEL)
		switch {
		case err != nil:
			return &failure{ReasonAnalysisFailed, fmt.Sprintf("canary step %d: analysis %q: %v", i, step.Analysis.CEL, err)}
		case !ok:
			return &failure{ReasonAnalysisFailed, fmt.Sprintf("canary step %d: analysis %q did not hold", i, step.Analysis.CEL)}
		}
		done = true
	}
	if done {
		r.st.CanaryStep = int32(i + 1)
		r.st.StepStartedAt = ptr(r.now.UTC())
		r.stepped = true
	}
	return nil
}

// pausedStep reports a canary at a pause step: its progress deadline does
// not run.
func (r *roll) pausedStep() bool {
	if !r.isCanary() || r.st.CanaryHash != r.hash {
		return false
	}
	steps := r.spec.Strategy.Canary.Steps
	i := int(r.st.CanaryStep)
	return i < len(steps) && steps[i].Pause != nil
}
