package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
)

// newRolloutPauseCmd makes `gantry rollout pause deploy/NAME`: kubectl's
// pause, spec.paused true; the rollout holds where it is, scaling goes on.
func newRolloutPauseCmd(g *Globals) *cobra.Command {
	return newRolloutPausedCmd(g, true)
}

// newRolloutResumeCmd makes `gantry rollout resume deploy/NAME`: kubectl's
// resume, spec.paused false; the rollout goes on from where it held.
func newRolloutResumeCmd(g *Globals) *cobra.Command {
	return newRolloutPausedCmd(g, false)
}

// newRolloutPausedCmd is pause (paused true) or resume: an apply intent of
// the Deployment as read with only spec.paused changed.
func newRolloutPausedCmd(g *Globals, paused bool) *cobra.Command {
	var ns string
	verb, short, example := "resume", "Resume a paused Deployment's rollout", "  gantry rollout resume deploy/web"
	if paused {
		verb, short, example = "pause", "Pause a Deployment's rollout: its pod template changes wait for resume", "  gantry rollout pause deploy/web"
	}
	c := &cobra.Command{
		Use:     verb + " deploy/NAME",
		Short:   short,
		Example: example,
		Args:    cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDeploymentEdit(cmd, g, args, ns, pausingWord(paused), func(w *projections.Workload) (manifest.Object, string, error) {
				obj, err := pausedObject(w.Object, paused)
				return obj, verb + "d", err
			})
		},
	}
	c.Flags().StringVarP(&ns, "namespace", "n", "", "namespace (default \"default\")")
	return c
}

// runDeploymentEdit is a rollout verb that only Deployments take (others
// are refused in kubectl's words, "daemonsets.apps "x" pausing is not
// supported"): it reads deploy/NAME, and appends what edit makes of it as
// an apply intent, printing done; edit's error follows the object's name.
func runDeploymentEdit(cmd *cobra.Command, g *Globals, args []string, ns, verbing string, edit func(*projections.Workload) (manifest.Object, string, error)) error {
	rk, name, err := oneObject(args)
	if err != nil {
		return err
	}
	if rk.kind != "deployment" {
		return fmt.Errorf("%s %q %s is not supported: only deployments.apps", rk.qualifiedPlural(), name, verbing)
	}
	ns = orDefaultNamespace(ns)
	return g.WithCluster(cmd, "cli", func(ctx context.Context, conn *bus.Conn) error {
		w, err := readWorkload(ctx, g, conn, rk, ns, name)
		if err != nil {
			return err
		}
		obj, done, err := edit(w)
		if err != nil {
			return fmt.Errorf("%s %q %w", rk.qualifiedPlural(), name, err)
		}
		label := resourceLabel(rk.apiVersion(), rk.kind, name)
		return submitEdit(ctx, g, conn, rk, ns, name, obj, label, done, false)
	})
}

func pausingWord(paused bool) string {
	if paused {
		return "pausing"
	}
	return "resuming"
}

// pausedObject is a copy of a Deployment with spec.paused set; setting it
// to what it is already is kubectl's error ("is already paused", "is not
// paused"), said after the object's name.
func pausedObject(o manifest.Object, paused bool) (manifest.Object, error) {
	d := o.Deployment()
	if d == nil {
		return manifest.Object{}, fmt.Errorf("%s is not supported: only Deployments", pausingWord(paused))
	}
	switch {
	case paused && d.Paused:
		return manifest.Object{}, errors.New("is already paused")
	case !paused && !d.Paused:
		return manifest.Object{}, errors.New("is not paused")
	}
	return editJSON(o, func(m map[string]any) error {
		spec, ok := m["spec"].(map[string]any)
		if !ok {
			return errors.New("spec: must be an object")
		}
		if paused {
			spec["paused"] = true
		} else {
			delete(spec, "paused") // false, as omitted
		}
		return nil
	})
}
