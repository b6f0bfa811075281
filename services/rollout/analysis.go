package rollout

import (
	"github.com/gantry-sh/gantry/events/rolloutcheck"
)

// analyses keeps compiled canary analyses (admission compiled and
// cost-checked each when the Deployment was applied).
var analyses = rolloutcheck.NewCache(0)

// analyze evaluates a canary analysis over the new revision's pods.
func (r *roll) analyze(expr string) (bool, error) {
	check, err := analyses.Get(expr)
	if err != nil {
		return false, err
	}
	return check.Eval(r.facts())
}

// facts are the health of the new revision's pods, as the log has them.
func (r *roll) facts() rolloutcheck.Facts {
	f := rolloutcheck.Facts{Desired: int(r.canaryCap())}
	if r.target == nil {
		return f
	}
	for _, p := range r.target.owned {
		if p.Deleting {
			continue
		}
		if p.Phase() == "Failed" {
			f.Failed++
		}
		if p.Terminal() {
			continue
		}
		f.Replicas++
		if p.Ready() {
			f.Ready++
		}
		if p.AvailableAt(r.minReady, r.now) {
			f.Available++
		}
		f.NotReadyTransitions += int(p.NotReadyTransitions)
		if p.Status != nil {
			for _, c := range p.Status.Containers {
				f.Restarts += int(c.RestartCount)
			}
		}
	}
	return f
}
