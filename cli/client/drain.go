package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/projections"
)

// How drain polls: the node's pods every drainPoll; a refused eviction is
// asked again as soon as its budget's record allows a disruption, and at
// the latest after drainRetry (kubectl's interval between evictions).
const (
	drainPoll  = time.Second
	drainRetry = 5 * time.Second
)

type drainOptions struct {
	ignoreDaemonSets bool
	force            bool
	gracePeriod      int64
	timeout          time.Duration
}

// DrainCmd is `gantry node drain NODE`, for the node command of package
// main: cordon the node, then evict its pods through the Eviction API
// (IntentEvict, judged by admission against PodDisruptionBudgets), asking
// again for those a budget refuses until they are all gone.
func DrainCmd(g *Globals) *cobra.Command {
	o := drainOptions{}
	c := &cobra.Command{
		Use:   "drain NODE",
		Short: "Cordon a node and evict its pods, honouring PodDisruptionBudgets",
		Long: "Cordon NODE, then evict every pod on it, as kubectl drain does: an eviction a PodDisruptionBudget\n" +
			"refuses is asked again until the budget allows it, and drain says which budget it waits for.\n" +
			"DaemonSet pods are not evicted (--ignore-daemonsets; without it drain refuses a node that runs\n" +
			"them), nor pods without a controller unless --force. Exits 0 once no evictable pod is left on\n" +
			"the node, 1 at --timeout (0: wait for ever).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			node := args[0]
			if err := ValidateNodeName(node); err != nil {
				return err
			}
			return g.WithCluster(cmd, "cli", func(ctx context.Context, conn *bus.Conn) error {
				return o.run(ctx, g, conn, node)
			})
		},
	}
	c.Flags().BoolVar(&o.ignoreDaemonSets, "ignore-daemonsets", false, "leave DaemonSet-managed pods on the node")
	c.Flags().BoolVar(&o.force, "force", false, "evict pods that declare no controller too (nothing makes them again)")
	c.Flags().Int64Var(&o.gracePeriod, "grace-period", -1, "seconds each pod gets to stop; negative: the pod's terminationGracePeriodSeconds")
	c.Flags().DurationVar(&o.timeout, "timeout", 0, "give up after this long (0: wait for ever)")
	return c
}

// drainPod is what drain remembers of one pod it evicts.
type drainPod struct {
	uid       string
	announced bool      // "evicting pod" printed
	accepted  bool      // its eviction was accepted: now it only has to go
	waiting   string    // the budget (<ns>/<name>) that refused it last
	tried     time.Time // when its eviction was last asked for
}

func (o drainOptions) run(ctx context.Context, g *Globals, conn *bus.Conn, node string) error {
	failed := func(format string, args ...any) error {
		err := fmt.Errorf("unable to drain node %q: "+format, append([]any{node}, args...)...)
		fmt.Fprintf(g.ErrOut, "error: %v\n", err)
		return ExitError{Code: 1, Err: err, Reported: true}
	}
	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	if submit(ctx, g, conn, []intent{cordonIntent(node, true)}) > 0 {
		return ExitError{Code: 1, Err: fmt.Errorf("node/%s not cordoned", node), Reported: true}
	}
	podsKV, err := conn.JS.KeyValue(ctx, bus.BucketPods)
	if err != nil {
		return fmt.Errorf("pods read model: %w", err)
	}
	budgetsKV, err := conn.JS.KeyValue(ctx, bus.BucketWorkloads)
	if err != nil {
		return fmt.Errorf("workloads read model: %w", err)
	}
	pods, err := podsOn(ctx, podsKV, node)
	if err != nil {
		return err
	}
	plan := planDrain(pods, o.ignoreDaemonSets, o.force)
	if len(plan.refusals) > 0 {
		return failed("%s", strings.Join(plan.refusals, "; "))
	}
	for _, w := range plan.warnings {
		fmt.Fprintln(g.ErrOut, "Warning: "+w)
	}
	tracked := map[string]*drainPod{}
	for {
		left := map[string]*projections.Pod{}
		for _, p := range evictable(pods, o.force) {
			left[projections.Key(p.Namespace, p.Name)] = p
		}
		for _, key := range slices.Sorted(maps.Keys(tracked)) {
			if p := left[key]; p == nil || p.UID != tracked[key].uid {
				fmt.Fprintf(g.Out, "pod/%s evicted\n", strings.SplitN(key, "/", 2)[1])
				delete(tracked, key)
			}
		}
		if len(left) == 0 {
			fmt.Fprintf(g.Out, "node/%s drained\n", node)
			return nil
		}
		batch, keys := o.evictions(ctx, budgetsKV, left, tracked, time.Now())
		if len(batch) > 0 {
			for _, it := range batch {
				if dp := tracked[projections.Key(it.ns, it.name)]; !dp.announced {
					fmt.Fprintf(g.Out, "evicting pod %s/%s\n", it.ns, it.name)
					dp.announced = true
				}
			}
			verdicts, _, _, err := appendIntents(ctx, g, conn, batch)
			if err != nil && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("evict: %w", err)
			}
			for i, key := range keys {
				if why := tracked[key].judged(verdicts[i], time.Now(), g.Out, key); why != "" {
					return failed("%s", why)
				}
			}
		}
		select {
		case <-ctx.Done():
			return failed("%s", stillThere(ctx, o.timeout, left, tracked))
		case <-time.After(drainPoll):
		}
		if pods, err = podsOn(ctx, podsKV, node); err != nil {
			if ctx.Err() != nil {
				return failed("%s", stillThere(ctx, o.timeout, left, tracked))
			}
			return err
		}
	}
}

// evictions are the eviction intents to ask for now (and the pods' keys):
// each pod left whose eviction was not accepted, not being deleted, and
// not waiting for a budget that still allows no disruption (asked again
// after drainRetry whatever its record says).
func (o drainOptions) evictions(ctx context.Context, budgets jetstream.KeyValue, left map[string]*projections.Pod,
	tracked map[string]*drainPod, now time.Time) (batch []intent, keys []string) {
	for _, key := range slices.Sorted(maps.Keys(left)) {
		p := left[key]
		dp := tracked[key]
		if dp == nil {
			dp = &drainPod{uid: p.UID}
			tracked[key] = dp
		}
		if dp.accepted || p.Deleting {
			continue
		}
		if dp.waiting != "" && now.Sub(dp.tried) < drainRetry && !budgetAllows(ctx, budgets, dp.waiting) {
			continue
		}
		e := &events.IntentEvict{Namespace: p.Namespace, Name: p.Name, UID: p.UID}
		if o.gracePeriod >= 0 {
			grace := o.gracePeriod
			e.GracePeriodSeconds = &grace
		}
		batch = append(batch, intent{kind: "pod", ns: p.Namespace, name: p.Name, op: events.OpEvict,
			subject: events.IntentSubject(p.Namespace, "pod", p.Name), event: e, label: "pod/" + p.Name})
		keys = append(keys, key)
	}
	return batch, keys
}

// judged takes an eviction's verdict: accepted, or refused by a budget
// (said once per budget), or refused for good (the reason, to stop on). A
// pod gone meanwhile (NotFound) or no verdict yet is asked about again.
func (dp *drainPod) judged(v verdict, now time.Time, out io.Writer, key string) string {
	dp.tried = now
	switch {
	case v.accepted != nil:
		dp.accepted, dp.waiting = true, ""
	case v.rejected == nil, v.rejected.Code == events.RejectNotFound:
	case v.rejected.Code == events.RejectTooManyRequests:
		budget := ""
		for _, c := range v.rejected.Causes {
			if c.Type == events.CauseDisruptionBudget {
				budget = c.Object
			}
		}
		if budget != dp.waiting {
			fmt.Fprintf(out, "evicting pod %s: waiting for PodDisruptionBudget %s (0 disruptions allowed)\n", key, budget)
		}
		dp.waiting = budget
	default:
		return fmt.Sprintf("evicting pod %s: %s", key, strings.Join(v.rejected.Reasons, "; "))
	}
	return ""
}

// budgetAllows reports whether a budget's read-model record allows a
// disruption now (false when it cannot be read).
func budgetAllows(ctx context.Context, kv jetstream.KeyValue, budget string) bool {
	ns, name, _ := strings.Cut(budget, "/")
	e, err := kv.Get(ctx, resourceKinds["poddisruptionbudget"].key(ns, name))
	if err != nil {
		return false
	}
	var w projections.Workload
	if json.Unmarshal(e.Value(), &w) != nil || w.Status.Budget == nil {
		return false
	}
	return w.Status.Budget.DisruptionsAllowed > 0
}

// stillThere says why drain stopped and what is left on the node.
func stillThere(ctx context.Context, timeout time.Duration, left map[string]*projections.Pod, tracked map[string]*drainPod) string {
	why := "interrupted"
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		why = fmt.Sprintf("global timeout reached: %s", timeout)
	}
	var parts []string
	for _, key := range slices.Sorted(maps.Keys(left)) {
		switch dp := tracked[key]; {
		case dp != nil && dp.waiting != "":
			parts = append(parts, key+" (waiting for PodDisruptionBudget "+dp.waiting+")")
		case left[key].Deleting || (dp != nil && dp.accepted):
			parts = append(parts, key+" (being deleted)")
		default:
			parts = append(parts, key)
		}
	}
	return why + "; still on the node: " + strings.Join(parts, ", ")
}

// podsOn lists the pods bound to node, from the pods read model.
func podsOn(ctx context.Context, kv jetstream.KeyValue, node string) ([]*projections.Pod, error) {
	rs, _, err := snapshot(ctx, kv, resourceKinds["pod"], ">", false)
	if err != nil {
		return nil, err
	}
	var out []*projections.Pod
	for _, r := range rs {
		if r.pod.Node == node {
			out = append(out, r.pod)
		}
	}
	return out, nil
}

// drainPlan is what drain makes of a node's pods before it evicts any:
// kubectl's refusals (DaemonSet pods without --ignore-daemonsets, pods of
// no controller without --force) and warnings.
type drainPlan struct {
	refusals, warnings []string
}

func planDrain(pods []*projections.Pod, ignoreDaemonSets, force bool) drainPlan {
	var daemons, bare []string
	for _, p := range pods {
		switch name := p.Namespace + "/" + p.Name; {
		case daemonPod(p):
			daemons = append(daemons, name)
		case unmanagedPod(p):
			bare = append(bare, name)
		}
	}
	var plan drainPlan
	if len(daemons) > 0 {
		if ignoreDaemonSets {
			plan.warnings = append(plan.warnings, "ignoring DaemonSet-managed Pods: "+strings.Join(daemons, ", "))
		} else {
			plan.refusals = append(plan.refusals, "cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): "+strings.Join(daemons, ", "))
		}
	}
	if len(bare) > 0 {
		if force {
			plan.warnings = append(plan.warnings, "deleting Pods that declare no controller: "+strings.Join(bare, ", "))
		} else {
			plan.refusals = append(plan.refusals, "cannot delete Pods that declare no controller (use --force to override): "+strings.Join(bare, ", "))
		}
	}
	return plan
}

// evictable are the pods drain evicts and waits for: all but DaemonSet
// pods (and, without force, pods of no controller, which planDrain
// refused already).
func evictable(pods []*projections.Pod, force bool) []*projections.Pod {
	var out []*projections.Pod
	for _, p := range pods {
		if daemonPod(p) || (unmanagedPod(p) && !force) {
			continue
		}
		out = append(out, p)
	}
	return out
}

func daemonPod(p *projections.Pod) bool { return p.Owner != nil && p.Owner.Kind == "daemonset" }

// unmanagedPod: a bare Pod's pod, or one its controller let go.
func unmanagedPod(p *projections.Pod) bool { return p.Owner == nil || p.Owner.Kind == "pod" }
