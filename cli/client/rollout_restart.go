package client

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
)

// RestartedAtAnnotation is the pod template annotation kubectl's rollout
// restart sets; a changed template is a new revision, so every pod is
// replaced.
const RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"

// newRolloutRestartCmd makes `gantry rollout restart deploy/NAME` (or
// ds/NAME): kubectl's restart, a new pod template annotation.
func newRolloutRestartCmd(g *Globals) *cobra.Command {
	var ns string
	c := &cobra.Command{
		Use:     "restart (deploy/NAME | ds/NAME | sts/NAME)",
		Short:   "Replace every pod of a Deployment, DaemonSet or StatefulSet by changing its pod template's restartedAt annotation",
		Example: "  gantry rollout restart deploy/web\n  gantry rollout restart daemonset logger",
		Args:    cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			rk, name, err := oneObject(args)
			if err != nil {
				return err
			}
			if rk.kind != "deployment" && rk.kind != "daemonset" && rk.kind != "statefulset" {
				return fmt.Errorf("%s: restarting is not supported: only deployments.apps, daemonsets.apps and statefulsets.apps", rk.qualifiedPlural())
			}
			ns = orDefaultNamespace(ns)
			return g.WithCluster(cmd, "cli", func(ctx context.Context, conn *bus.Conn) error {
				w, err := readWorkload(ctx, g, conn, rk, ns, name)
				if err != nil {
					return err
				}
				obj, err := restartObject(w.Object, time.Now())
				if err != nil {
					return err
				}
				label := resourceLabel(rk.apiVersion(), rk.kind, name)
				return submitEdit(ctx, g, conn, rk, ns, name, obj, label, "restarted", false)
			})
		},
	}
	c.Flags().StringVarP(&ns, "namespace", "n", "", "namespace (default \"default\")")
	return c
}

// restartObject is a copy of o with its pod template's restartedAt
// annotation set to now in RFC 3339, as kubectl writes it.
func restartObject(o manifest.Object, now time.Time) (manifest.Object, error) {
	k := o.Info()
	if k == nil || (k.Kind != manifest.KindDeployment && k.Kind != manifest.KindDaemonSet && k.Kind != manifest.KindStatefulSet) {
		return manifest.Object{}, fmt.Errorf("%s %q: restarting is not supported: only Deployments, DaemonSets and StatefulSets", o.Kind, o.Metadata.Name)
	}
	out, err := editJSON(o, func(map[string]any) error { return nil }) // a deep copy
	if err != nil {
		return manifest.Object{}, err
	}
	t := k.Template(out)
	ann := maps.Clone(t.Metadata.Annotations)
	if ann == nil {
		ann = map[string]string{}
	}
	ann[RestartedAtAnnotation] = now.Format(time.RFC3339)
	t.Metadata.Annotations = ann
	return out, nil
}
