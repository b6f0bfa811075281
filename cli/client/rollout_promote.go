package client

import (
	"fmt"
	"maps"

	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
)

// newRolloutPromoteCmd makes `gantry rollout promote deploy/NAME`: a
// canary Deployment paused at a step goes on to the next, by the
// annotation rollout.gantry.sh/promote set to that step's index.
func newRolloutPromoteCmd(g *Globals) *cobra.Command {
	var ns string
	c := &cobra.Command{
		Use:     "promote deploy/NAME",
		Short:   "End the pause step a canary Deployment's rollout waits at, so its next step begins",
		Example: "  gantry rollout promote deploy/web",
		Args:    cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDeploymentEdit(cmd, g, args, ns, "promoting", func(w *projections.Workload) (manifest.Object, string, error) {
				obj, step, err := promoteObject(w)
				return obj, fmt.Sprintf("promoted (canary step %d)", step), err
			})
		},
	}
	c.Flags().StringVarP(&ns, "namespace", "n", "", "namespace (default \"default\")")
	return c
}

// promoteObject is a copy of a canary Deployment with PromoteAnnotation set
// to the step its rollout waits at (status.rollout.canaryStep of the
// current template), and that step. It refuses a Deployment that is no
// canary, whose rollout of this template has not begun or is past its
// steps, or whose step is no pause. Promoting a step twice is harmless.
func promoteObject(w *projections.Workload) (manifest.Object, int32, error) {
	d := w.Object.Deployment()
	if d == nil || d.StrategyType() != manifest.CanaryStrategy || d.Strategy.Canary == nil {
		return manifest.Object{}, 0, fmt.Errorf("is not a canary: promote needs spec.strategy.type %s", manifest.CanaryStrategy)
	}
	r := w.Status.Rollout
	if r == nil || r.CanaryHash == "" || !currentHash(w, r.CanaryHash) {
		return manifest.Object{}, 0, fmt.Errorf("is not paused at a canary step: its rollout of the current template has not begun")
	}
	steps := d.Strategy.Canary.Steps
	if int(r.CanaryStep) >= len(steps) {
		return manifest.Object{}, 0, fmt.Errorf("is not paused at a canary step: all %d steps are done", len(steps))
	}
	step := steps[r.CanaryStep]
	if step.Pause == nil {
		return manifest.Object{}, 0, fmt.Errorf("is not paused at a canary step: step %d is %s", r.CanaryStep, step)
	}
	idx := manifest.PromoteValue(r.CanaryHash, r.CanaryStep)
	out, err := editJSON(w.Object, func(map[string]any) error { return nil }) // a deep copy
	if err != nil {
		return manifest.Object{}, 0, err
	}
	ann := maps.Clone(out.Metadata.Annotations)
	if ann == nil {
		ann = map[string]string{}
	}
	ann[manifest.PromoteAnnotation] = idx
	out.Metadata.Annotations = ann
	return out, r.CanaryStep, nil
}

// currentHash reports a template hash of the Deployment's pod template, as
// stored or as defaulted (whichever its controller hashed).
func currentHash(w *projections.Workload, hash string) bool {
	if t := w.Object.PodTemplate(); t != nil && manifest.TemplateHash(*t) == hash {
		return true
	}
	o := w.Object
	o.Defaults()
	t := o.PodTemplate()
	return t != nil && manifest.TemplateHash(*t) == hash
}
