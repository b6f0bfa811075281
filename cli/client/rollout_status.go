package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
)

// errRolloutTimeout is kubectl's error when --timeout passes first.
var errRolloutTimeout = errors.New("timed out waiting for the condition")

// newRolloutStatusCmd makes `gantry rollout status deploy/NAME` (or
// ds/NAME): kubectl's progress lines, each printed when it changes, until
// the rollout is complete (exit 0) or --timeout passes (exit 1).
func newRolloutStatusCmd(g *Globals) *cobra.Command {
	var ns string
	var watch bool
	var timeout time.Duration
	c := &cobra.Command{
		Use:     "status (deploy/NAME | ds/NAME) [--timeout D] [--watch=false]",
		Short:   "Watch the rollout of a Deployment or DaemonSet until it completes",
		Example: "  gantry rollout status deploy/web --timeout=2m\n  gantry rollout status daemonset/logger --watch=false",
		Args:    cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			rk, name, err := oneObject(args)
			if err != nil {
				return err
			}
			if rk.kind != "deployment" && rk.kind != "daemonset" {
				return fmt.Errorf("no status viewer has been implemented for %s", displayKind(rk.kind))
			}
			if timeout < 0 {
				return fmt.Errorf("--timeout=%s: must be zero (no limit) or more", timeout)
			}
			if fe := manifest.ValidateName("name", name); fe != nil {
				return fe
			}
			ns = orDefaultNamespace(ns)
			return g.WithCluster(cmd, "cli", func(ctx context.Context, conn *bus.Conn) error {
				if err := awaitReadModel(ctx, conn.JS, g.ErrOut); err != nil {
					return err
				}
				return watchRollout(ctx, conn.JS, rk, ns, name, watch, timeout, g.Out)
			})
		},
	}
	c.Flags().StringVarP(&ns, "namespace", "n", "", "namespace (default \"default\")")
	c.Flags().BoolVarP(&watch, "watch", "w", true, "watch until the rollout completes; false: print the status once")
	c.Flags().DurationVar(&timeout, "timeout", 0, "how long to wait before giving up (0: no limit)")
	return c
}

// watchRollout follows the object's record and, for a Deployment, its
// ReplicaSets' in the read model, printing rolloutStatus's line each time
// it changes, until done or the timeout (kubectl's --timeout, 0: none).
func watchRollout(ctx context.Context, js jetstream.JetStream, rk resourceKind, ns, name string, watch bool, timeout time.Duration, out io.Writer) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	kv, err := js.KeyValue(ctx, bus.BucketWorkloads)
	if err != nil {
		return fmt.Errorf("read model %s: %w", bus.BucketWorkloads, err)
	}
	key := rk.key(ns, name)
	keys := []string{key}
	if rk.kind == "deployment" {
		keys = append(keys, resourceKinds["replicaset"].pattern(ns))
	}
	wt, err := kv.WatchFiltered(ctx, keys) // it prefixes keys in place
	if err != nil {
		if ctx.Err() != nil {
			return errRolloutTimeout
		}
		return fmt.Errorf("watch %s/%s: %w", rk.plural, name, err)
	}
	defer func() { _ = wt.Stop() }()
	var obj *projections.Workload
	sets := map[string]*projections.Workload{} // by KV key
	seen := false                              // the current values have all come
	last := ""
	for {
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return errRolloutTimeout
			}
			return ctx.Err()
		case e, ok := <-wt.Updates():
			if !ok {
				return fmt.Errorf("watch %s/%s: watcher closed", rk.plural, name)
			}
			if e == nil {
				seen = true
			} else if e.Key() == key {
				r, present, err := decodeResource(rk.kind, e.Value())
				if err != nil {
					return err
				}
				if e.Operation() != jetstream.KeyValuePut || !present {
					if seen || obj != nil {
						return fmt.Errorf("%s %q was deleted while its rollout was watched", displayKind(rk.kind), name)
					}
					continue
				}
				obj = r.workload
			} else {
				r, present, err := decodeResource("replicaset", e.Value())
				if err != nil {
					return err
				}
				if e.Operation() == jetstream.KeyValuePut && present {
					sets[e.Key()] = r.workload
				} else {
					delete(sets, e.Key())
				}
			}
			if !seen {
				continue
			}
			if obj == nil {
				return notFound(rk, name)
			}
			msg, done, err := rolloutStatus(obj, ownedSets(obj, sets))
			if err != nil {
				return err
			}
			if msg != last {
				fmt.Fprint(out, msg)
				last = msg
			}
			if done || !watch {
				return nil
			}
		}
	}
}

// ownedSets are the ReplicaSets of w among sets.
func ownedSets(w *projections.Workload, sets map[string]*projections.Workload) []*projections.Workload {
	var out []*projections.Workload
	for _, rs := range sets {
		if rs.Owner != nil && rs.Owner.UID == w.UID && !rs.Deleted {
			out = append(out, rs)
		}
	}
	return out
}

// rolloutStatus is kubectl's status line of a Deployment's or DaemonSet's
// rollout and whether it is complete. A Deployment's updated replicas are
// the pods of its current template (status.updatedReplicas); available,
// those of them ready: the ReplicaSet of the current template's available
// pods. Worked example: 3 wanted, web-new has 3 pods of which 2 ready,
// one old pod still ending → "1 old replicas are pending termination".
func rolloutStatus(w *projections.Workload, sets []*projections.Workload) (msg string, done bool, err error) {
	st := w.Status
	if d := w.Object.Deployment(); d != nil {
		want := d.ReplicaCount()
		current := manifest.ReplicaSetName(w.Name, manifest.TemplateHash(d.Template))
		var available int32
		for _, rs := range sets {
			if rs.Name == current {
				available = min(rs.Status.AvailableReplicas, st.UpdatedReplicas)
			}
		}
		const waiting = "Waiting for deployment %q rollout to finish: "
		switch {
		case st.UpdatedReplicas < want:
			return fmt.Sprintf(waiting+"%d out of %d new replicas have been updated...\n", w.Name, st.UpdatedReplicas, want), false, nil
		case st.Replicas > st.UpdatedReplicas:
			return fmt.Sprintf(waiting+"%d old replicas are pending termination...\n", w.Name, st.Replicas-st.UpdatedReplicas), false, nil
		case available < st.UpdatedReplicas:
			return fmt.Sprintf(waiting+"%d of %d updated replicas are available...\n", w.Name, available, st.UpdatedReplicas), false, nil
		}
		return fmt.Sprintf("deployment %q successfully rolled out\n", w.Name), true, nil
	}
	if w.Object.DaemonSet() != nil {
		const waiting = "Waiting for daemon set %q rollout to finish: "
		switch {
		case st.UpdatedReplicas < st.Desired:
			return fmt.Sprintf(waiting+"%d out of %d new pods have been updated...\n", w.Name, st.UpdatedReplicas, st.Desired), false, nil
		case st.Replicas > st.UpdatedReplicas:
			return fmt.Sprintf(waiting+"%d old pods are pending termination...\n", w.Name, st.Replicas-st.UpdatedReplicas), false, nil
		case st.AvailableReplicas < st.Desired:
			return fmt.Sprintf(waiting+"%d of %d updated pods are available...\n", w.Name, st.AvailableReplicas, st.Desired), false, nil
		}
		return fmt.Sprintf("daemon set %q successfully rolled out\n", w.Name), true, nil
	}
	return "", false, fmt.Errorf("no status viewer has been implemented for %s", w.Kind)
}
