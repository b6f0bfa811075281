package client

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"

	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
)

// podTemplateHashLabel is the label a Deployment's controller adds to its
// ReplicaSets' templates; undo takes it off, as kubectl does.
const podTemplateHashLabel = "pod-template-hash"

// newRolloutUndoCmd makes `gantry rollout undo deploy/NAME
// [--to-revision N]`: kubectl's client-side rollback, the pod template of
// an earlier revision applied to the Deployment again.
func newRolloutUndoCmd(g *Globals) *cobra.Command {
	var ns string
	var to int64
	c := &cobra.Command{
		Use:     "undo deploy/NAME [--to-revision N]",
		Short:   "Roll a Deployment back to its previous revision, or to --to-revision",
		Example: "  gantry rollout undo deploy/web\n  gantry rollout undo deployment web --to-revision=2",
		Args:    cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			rk, name, err := oneObject(args)
			if err != nil {
				return err
			}
			if rk.kind != "deployment" {
				return fmt.Errorf("no rollbacker has been implemented for %s", displayKind(rk.kind))
			}
			if to < 0 {
				return fmt.Errorf("unable to find specified revision %d in history", to)
			}
			ns = orDefaultNamespace(ns)
			return g.WithCluster(cmd, "cli", func(ctx context.Context, conn *bus.Conn) error {
				w, err := readWorkload(ctx, g, conn, rk, ns, name)
				if err != nil {
					return err
				}
				kv, err := conn.JS.KeyValue(ctx, bus.BucketWorkloads)
				if err != nil {
					return fmt.Errorf("read model %s: %w", bus.BucketWorkloads, err)
				}
				owned, err := ownedWorkloads(ctx, kv, w)
				if err != nil {
					return err
				}
				obj, rev, skipped, err := rollbackObject(w, owned, to)
				if err != nil {
					return err
				}
				label := resourceLabel(rk.apiVersion(), rk.kind, name)
				if skipped {
					fmt.Fprintf(g.Out, "%s skipped rollback (current template already matches revision %d)\n", label, rev)
					return nil
				}
				return submitEdit(ctx, g, conn, rk, ns, name, obj, label, "rolled back", false)
			})
		},
	}
	c.Flags().StringVarP(&ns, "namespace", "n", "", "namespace (default \"default\")")
	c.Flags().Int64Var(&to, "to-revision", 0, "the revision to roll back to (0: the previous one)")
	return c
}

// rollbackObject is Deployment w with the pod template of revision to (0:
// the one before the newest) among its ReplicaSets owned, as kubectl's
// rollback makes it: the ReplicaSet's template without pod-template-hash,
// and its change cause as the Deployment's. skipped: the Deployment's
// template is that one already; rev is the revision chosen.
func rollbackObject(w *projections.Workload, owned []*projections.Workload, to int64) (obj manifest.Object, rev int64, skipped bool, err error) {
	if w.Object.Deployment() == nil {
		return manifest.Object{}, 0, false, fmt.Errorf("%s is not a Deployment", w.Name)
	}
	revs := revisionsOf(owned)
	var from *projections.Workload
	if to > 0 {
		for _, r := range revs {
			if r.number == to {
				from, rev = r.rs, r.number
			}
		}
		if from == nil {
			return manifest.Object{}, 0, false, fmt.Errorf("unable to find specified revision %d in history", to)
		}
	} else if len(revs) >= 2 {
		// kubectl's previous revision: the highest below the newest.
		prev := revs[len(revs)-2]
		from, rev = prev.rs, prev.number
	} else {
		return manifest.Object{}, 0, false, fmt.Errorf("no rollout history found for deployment %q", w.Name)
	}
	t, err := unhashedTemplate(from.Object.ReplicaSet().Template)
	if err != nil {
		return manifest.Object{}, 0, false, err
	}
	if manifest.TemplateHash(t) == manifest.TemplateHash(w.Object.Deployment().Template) {
		return w.Object, rev, true, nil
	}
	obj, err = editJSON(w.Object, func(map[string]any) error { return nil }) // a deep copy
	if err != nil {
		return manifest.Object{}, 0, false, err
	}
	obj.Deployment().Template = t
	ann := maps.Clone(obj.Metadata.Annotations)
	if ann == nil {
		ann = map[string]string{}
	}
	delete(ann, manifest.ChangeCauseAnnotation)
	if cc, ok := from.Object.Metadata.Annotations[manifest.ChangeCauseAnnotation]; ok {
		ann[manifest.ChangeCauseAnnotation] = cc
	}
	if len(ann) == 0 {
		ann = nil
	}
	obj.Metadata.Annotations = ann
	return obj, rev, false, nil
}

// unhashedTemplate is a deep copy of a ReplicaSet's pod template without
// the pod-template-hash label its Deployment's controller added.
func unhashedTemplate(t manifest.PodTemplateSpec) (manifest.PodTemplateSpec, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return manifest.PodTemplateSpec{}, fmt.Errorf("encode template: %w", err)
	}
	var out manifest.PodTemplateSpec
	if err := json.Unmarshal(b, &out); err != nil {
		return manifest.PodTemplateSpec{}, fmt.Errorf("decode template: %w", err)
	}
	delete(out.Metadata.Labels, podTemplateHashLabel)
	if len(out.Metadata.Labels) == 0 {
		out.Metadata.Labels = nil
	}
	return out, nil
}
