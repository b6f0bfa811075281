package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
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
// ds/NAME): on a terminal a live display of each revision's pods (desired,
// updated, ready, available, as bars), elsewhere kubectl's progress lines,
// each printed when it changes; exit 0 when the rollout is complete, 1 when
// it failed or was rolled back, or when --timeout passes first.
func newRolloutStatusCmd(g *Globals) *cobra.Command {
	var ns string
	var watch bool
	var timeout time.Duration
	c := &cobra.Command{
		Use:     "status (deploy/NAME | ds/NAME) [--timeout D] [--watch=false]",
		Short:   "Watch the rollout of a Deployment, DaemonSet or StatefulSet until it completes (exit 0) or fails (exit 1)",
		Example: "  gantry rollout status deploy/web --timeout=2m\n  gantry rollout status daemonset/logger --watch=false\n  gantry rollout status sts/db",
		Args:    cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			rk, name, err := oneObject(args)
			if err != nil {
				return err
			}
			if rk.kind != "deployment" && rk.kind != "daemonset" && rk.kind != "statefulset" {
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
				return watchRollout(ctx, conn.JS, rk, ns, name, watch, timeout, g.Out, isTerminal(g.Out))
			})
		},
	}
	c.Flags().StringVarP(&ns, "namespace", "n", "", "namespace (default \"default\")")
	c.Flags().BoolVarP(&watch, "watch", "w", true, "watch until the rollout completes; false: print the status once")
	c.Flags().DurationVar(&timeout, "timeout", 0, "how long to wait before giving up (0: no limit)")
	return c
}

// isTerminal reports an output that is a character device (a terminal),
// where rollout status redraws its display in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// watchRollout follows the object's record and, for a Deployment, its
// ReplicaSets' in the read model until the rollout is done, failed (its
// error) or the timeout passes (kubectl's --timeout, 0: none). live
// redraws rolloutFrame in place; otherwise rolloutStatus's line is printed
// each time it changes.
func watchRollout(ctx context.Context, js jetstream.JetStream, rk resourceKind, ns, name string, watch bool, timeout time.Duration, out io.Writer, live bool) error {
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
	drawn := 0 // lines of the live display on screen
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
			owned := ownedSets(obj, sets)
			msg, done, err := rolloutStatus(obj, owned)
			if live {
				frame := strings.Join(rolloutFrame(obj, owned, msg), "\n") + "\n"
				if frame != last {
					if drawn > 0 {
						fmt.Fprintf(out, "\x1b[%dF\x1b[J", drawn) // back to the display's first line, cleared below
					}
					fmt.Fprint(out, frame)
					drawn = strings.Count(frame, "\n")
					last = frame
				}
			} else if msg != last && msg != "" {
				fmt.Fprint(out, msg)
				last = msg
			}
			if err != nil {
				return err
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
// rollout and whether it is complete; err is a failed or rolled back
// rollout (rolloutFailure). A Deployment's updated replicas are the pods of
// its current template (status.updatedReplicas); available, those of them
// ready: the ReplicaSet of the current template's available pods. Worked
// example: 3 wanted, web-new has 3 pods of which 2 ready, one old pod still
// ending → "1 old replicas are pending termination". An incomplete paused
// rollout waits for resume, a canary at a pause step for promote.
func rolloutStatus(w *projections.Workload, sets []*projections.Workload) (msg string, done bool, err error) {
	st := w.Status
	if d := w.Object.Deployment(); d != nil {
		if err := rolloutFailure(w); err != nil {
			return "", false, err
		}
		want := d.ReplicaCount()
		available := currentAvailable(w, sets)
		const waiting = "Waiting for deployment %q rollout to finish: "
		switch {
		case st.UpdatedReplicas >= want && st.Replicas <= st.UpdatedReplicas && available >= st.UpdatedReplicas:
			return fmt.Sprintf("deployment %q successfully rolled out\n", w.Name), true, nil
		case d.Paused:
			return fmt.Sprintf("Waiting for deployment %q rollout to resume...\n", w.Name), false, nil
		}
		if step, n, ok := canaryAwaitingPromote(w); ok {
			return fmt.Sprintf("Waiting for deployment %q rollout to be promoted: canary step %d of %d pauses until \"gantry rollout promote\"...\n", w.Name, step, n), false, nil
		}
		switch {
		case st.UpdatedReplicas < want:
			return fmt.Sprintf(waiting+"%d out of %d new replicas have been updated...\n", w.Name, st.UpdatedReplicas, want), false, nil
		case st.Replicas > st.UpdatedReplicas:
			return fmt.Sprintf(waiting+"%d old replicas are pending termination...\n", w.Name, st.Replicas-st.UpdatedReplicas), false, nil
		}
		return fmt.Sprintf(waiting+"%d of %d updated replicas are available...\n", w.Name, available, st.UpdatedReplicas), false, nil
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
	if ss := w.Object.StatefulSet(); ss != nil {
		return statefulSetStatus(w.Name, ss, st)
	}
	return "", false, fmt.Errorf("no status viewer has been implemented for %s", w.Kind)
}

// statefulSetStatus is kubectl's status of a StatefulSet's rollout, in its
// words: all pods ready first, then the pods at or above the partition
// updated ("partitioned roll out complete" once they are, partition 0
// included, as kubectl says it of a defaulted set).
func statefulSetStatus(name string, ss *manifest.StatefulSetSpec, st manifest.WorkloadStatus) (string, bool, error) {
	if ss.StrategyType() != manifest.StatefulSetRollingUpdate {
		return "", true, fmt.Errorf("rollout status is only available for %s strategy type", manifest.StatefulSetRollingUpdate)
	}
	want := ss.ReplicaCount()
	if st.ReadyReplicas < want {
		return fmt.Sprintf("Waiting for %d pods to be ready...\n", want-st.ReadyReplicas), false, nil
	}
	if n := want - ss.Partition(); st.UpdatedReplicas < n {
		return fmt.Sprintf("Waiting for partitioned roll out to finish: %d out of %d new pods have been updated...\n", st.UpdatedReplicas, n), false, nil
	}
	return fmt.Sprintf("partitioned roll out complete: %d new pods have been updated...\n", st.UpdatedReplicas), true, nil
}

// currentAvailable is the available pods of the ReplicaSet of the
// Deployment's current template, at most its updated replicas.
func currentAvailable(w *projections.Workload, sets []*projections.Workload) int32 {
	_, newRS := splitReplicaSets(w, sets)
	var available int32
	for _, rs := range newRS {
		available += rs.Status.AvailableReplicas
	}
	return min(available, w.Status.UpdatedReplicas)
}

// rolloutFailure is the error of a Deployment whose rollout of its current
// generation failed (status.rollout), or whose Progressing condition is
// False for a failure (ProgressDeadlineExceeded, RolloutFailed,
// RolledBack), in kubectl's words: `deployment "web" exceeded its progress
// deadline`. A condition is not read while status.rollout says the failure
// was of an older generation: the rollout service has not yet seen the new
// one.
func rolloutFailure(w *projections.Workload) error {
	r := w.Status.Rollout
	reason, message, back := "", "", int64(0)
	switch c := w.Status.Condition(manifest.DeploymentProgressing); {
	case r.Failed(w.Generation):
		reason, message, back = r.Reason, r.Message, r.RolledBackTo
	case r != nil && r.FailedGeneration != 0:
		return nil
	case c != nil && c.Status == "False":
		switch c.Reason {
		case manifest.ReasonProgressDeadlineExceeded, manifest.ReasonRolloutFailed, manifest.ReasonRolledBack:
			reason, message = c.Reason, c.Message
		default:
			return nil
		}
	default:
		return nil
	}
	var msg string
	switch reason {
	case manifest.ReasonProgressDeadlineExceeded:
		msg = fmt.Sprintf("deployment %q exceeded its progress deadline", w.Name)
	case manifest.ReasonRolledBack:
		msg = fmt.Sprintf("deployment %q rollout failed and was rolled back", w.Name)
	default:
		msg = fmt.Sprintf("deployment %q rollout failed", w.Name)
		if reason != "" && reason != manifest.ReasonRolloutFailed {
			msg += ": " + reason
		}
	}
	if message != "" {
		msg += ": " + message
	}
	if back > 0 {
		msg += fmt.Sprintf(" (rolled back to revision %d)", back)
	}
	return errors.New(msg)
}

// canaryAwaitingPromote reports a canary Deployment whose rollout of its
// current template waits at a pause step without a duration: the step and
// how many there are.
func canaryAwaitingPromote(w *projections.Workload) (step int32, steps int, ok bool) {
	d, r := w.Object.Deployment(), w.Status.Rollout
	if d == nil || d.StrategyType() != manifest.CanaryStrategy || d.Strategy.Canary == nil || r == nil || r.CanaryHash == "" || !currentHash(w, r.CanaryHash) {
		return 0, 0, false
	}
	ss := d.Strategy.Canary.Steps
	if int(r.CanaryStep) >= len(ss) || ss[r.CanaryStep].Pause == nil || ss[r.CanaryStep].Pause.Duration != "" {
		return 0, 0, false
	}
	return r.CanaryStep, len(ss), true
}

// barWidth is the width of rollout status' bars, in cells.
const barWidth = 24

// rolloutFrame is rollout status' live display: a line of the whole
// (desired / updated / ready / available), a bar per revision still with
// pods (or the current one), newest first, and the status line msg. A bar's
// cells are of the larger of desired and the pods there are: █ available,
// ▓ ready (not yet for minReadySeconds), ▒ created and not ready.
func rolloutFrame(w *projections.Workload, sets []*projections.Workload, msg string) []string {
	st := w.Status
	desired := st.Desired // a DaemonSet's nodes
	if d := w.Object.Deployment(); d != nil {
		desired = d.ReplicaCount()
	}
	if ss := w.Object.StatefulSet(); ss != nil {
		desired = ss.ReplicaCount()
	}
	kind := w.Kind
	if kind == "daemonset" {
		kind = "daemon set" // as kubectl's status lines say it
	}
	head := fmt.Sprintf("%s %q: %d desired | %d updated | %d ready | %d available",
		kind, w.Name, desired, st.UpdatedReplicas, st.ReadyReplicas, st.AvailableReplicas)
	if r := st.Rollout; r != nil && r.StableRevision > 0 {
		head += fmt.Sprintf(" | stable revision %d", r.StableRevision)
	}
	lines := []string{head}
	scale := max(desired, st.Replicas, 1)
	if w.Object.Deployment() == nil {
		lines = append(lines, "  "+rolloutBar(st.Replicas, st.ReadyReplicas, st.AvailableReplicas, scale)+
			fmt.Sprintf("  %d/%d ready, %d available", st.ReadyReplicas, desired, st.AvailableReplicas))
	} else {
		oldRS, newRS := splitReplicaSets(w, sets)
		type row struct {
			rs  *projections.Workload
			rev int64
			cur bool
		}
		var rows []row
		for _, rs := range newRS {
			rows = append(rows, row{rs, manifest.RevisionOf(rs.Object.Metadata.Annotations), true})
		}
		for _, rs := range oldRS {
			if rs.Status.Replicas > 0 || replicaSetWant(rs) > 0 {
				rows = append(rows, row{rs, manifest.RevisionOf(rs.Object.Metadata.Annotations), false})
			}
		}
		sort.SliceStable(rows, func(i, j int) bool {
			if rows[i].cur != rows[j].cur {
				return rows[i].cur
			}
			return rows[i].rev > rows[j].rev
		})
		for _, r := range rows {
			s := r.rs.Status
			tag := "old"
			if r.cur {
				tag = "new"
			}
			lines = append(lines, fmt.Sprintf("  revision %-3d %s  %s  %d/%d ready, %d available (%s)", r.rev,
				rolloutBar(s.Replicas, s.ReadyReplicas, s.AvailableReplicas, scale), r.rs.Name,
				s.ReadyReplicas, replicaSetWant(r.rs), s.AvailableReplicas, tag))
		}
	}
	if msg = strings.TrimSuffix(msg, "\n"); msg != "" {
		lines = append(lines, msg)
	}
	return lines
}

// replicaSetWant is a ReplicaSet's spec.replicas (1 when unset).
func replicaSetWant(rs *projections.Workload) int32 {
	if spec := rs.Object.ReplicaSet(); spec != nil {
		return spec.ReplicaCount()
	}
	return 0
}

// rolloutBar is "[███▓▒·····]": pods available, ready, created, of scale.
func rolloutBar(created, ready, available, scale int32) string {
	cells := func(n int32) int {
		return int((int64(min(max(n, 0), scale))*barWidth + int64(scale) - 1) / int64(scale))
	}
	a := cells(available)
	r := max(cells(ready)-a, 0)
	c := max(cells(created)-a-r, 0)
	c = min(c, barWidth-a-r)
	return "[" + strings.Repeat("█", a) + strings.Repeat("▓", r) + strings.Repeat("▒", c) + strings.Repeat("·", barWidth-a-r-c) + "]"
}
