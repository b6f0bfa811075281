package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
)

// waitFor is what --for asks: an object's deletion, or a condition of its
// status with a value (condition=Complete is Complete=True).
type waitFor struct {
	delete    bool
	condition string // as given: matched case-insensitively, as kubectl
	value     string
}

// parseWaitFor reads --for: delete, condition=NAME or condition=NAME=VALUE.
func parseWaitFor(s string) (waitFor, error) {
	if strings.EqualFold(s, "delete") {
		return waitFor{delete: true}, nil
	}
	typ, rest, ok := strings.Cut(s, "=")
	switch {
	case s == "":
		return waitFor{}, errors.New("--for must be specified: --for=delete or --for=condition=NAME[=VALUE]")
	case ok && strings.EqualFold(typ, "condition"):
		name, value, hasValue := strings.Cut(rest, "=")
		if name == "" {
			return waitFor{}, fmt.Errorf("--for=%s: a condition name is required (e.g. --for=condition=complete)", s)
		}
		if !hasValue {
			value = manifest.ConditionTrue
		} else if value == "" {
			return waitFor{}, fmt.Errorf("--for=%s: a condition value is required after the second '=' (True, False)", s)
		}
		return waitFor{condition: name, value: value}, nil
	case ok && strings.EqualFold(typ, "jsonpath"), ok && strings.EqualFold(typ, "create"), strings.EqualFold(s, "create"):
		return waitFor{}, fmt.Errorf("--for=%s: not supported; use --for=delete or --for=condition=NAME[=VALUE]", s)
	}
	return waitFor{}, fmt.Errorf("unrecognized condition: %q (want --for=delete or --for=condition=NAME[=VALUE])", s)
}

type waitOptions struct {
	for_      waitFor
	namespace string
	selector  manifest.LabelSelector
	selected  bool // -l given
	timeout   time.Duration
}

func newWaitCmd(g *Globals) *cobra.Command {
	var o waitOptions
	var forFlag, selector string
	c := &cobra.Command{
		Use:   "wait (TYPE/NAME… | TYPE NAME… | TYPE -l SELECTOR) --for=condition=NAME[=VALUE] | --for=delete",
		Short: "Wait until objects have a condition (a Job complete, a Deployment available) or are gone, like kubectl wait",
		Example: "  gantry wait --for=condition=complete job/pi --timeout=60s\n  gantry wait --for=condition=Available deploy/hello\n" +
			"  gantry wait --for=delete pod/hello-7c9f8d6b5a-x2k4p\n  gantry wait --for=condition=Ready pods -l app=hello",
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if o.for_, err = parseWaitFor(forFlag); err != nil {
				return err
			}
			if cmd.Flags().Changed("selector") {
				if o.selector, err = manifest.ParseLabelSelector(selector); err != nil {
					return err
				}
				o.selected = true
			}
			targets, err := waitTargets(args, o.selected)
			if err != nil {
				return err
			}
			if o.namespace == "" {
				o.namespace = manifest.DefaultNamespace
			}
			return g.WithCluster(cmd, "wait", func(ctx context.Context, conn *bus.Conn) error {
				return runWait(ctx, conn.JS, o, targets, g.Out, g.ErrOut)
			})
		},
	}
	c.Flags().StringVar(&forFlag, "for", "", "what to wait for: delete, or condition=NAME[=VALUE] (VALUE defaults to True)")
	c.Flags().StringVarP(&o.namespace, "namespace", "n", manifest.DefaultNamespace, "namespace")
	c.Flags().StringVarP(&selector, "selector", "l", "", "wait for every object of the type whose labels match")
	c.Flags().DurationVar(&o.timeout, "timeout", 30*time.Second, "how long to wait for each object (0: look once; negative: a week)")
	return c
}

// waitTargets reads TYPE/NAME…, TYPE NAME… or TYPE with -l.
func waitTargets(args []string, selected bool) ([]getTarget, error) {
	if len(args) == 0 {
		return nil, errors.New("you must provide one or more resources by argument or filename (e.g. gantry wait --for=condition=complete job/pi)")
	}
	var out []getTarget
	if strings.Contains(args[0], "/") {
		for _, a := range args {
			typ, name, ok := strings.Cut(a, "/")
			if !ok {
				return nil, fmt.Errorf("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form")
			}
			if name == "" {
				return nil, fmt.Errorf("%q: a name is required after the '/'", a)
			}
			kind, err := kindOf(typ)
			if err != nil {
				return nil, err
			}
			out = append(out, getTarget{kind: kind, name: name})
		}
	} else {
		kind, err := kindOf(args[0])
		if err != nil {
			return nil, err
		}
		for _, name := range args[1:] {
			out = append(out, getTarget{kind: kind, name: name})
		}
		if len(out) == 0 {
			if !selected {
				return nil, fmt.Errorf("resource(s) were provided, but no name was specified: name them (%s NAME) or select them with -l", args[0])
			}
			out = append(out, getTarget{kind: kind})
		}
	}
	if selected && (len(out) > 1 || out[0].name != "") {
		return nil, errors.New("name cannot be provided when a selector is specified")
	}
	return out, nil
}

// runWait waits for each object in turn, each for at most o.timeout, and
// prints "<kind>/<name> condition met" as its condition holds; the first
// that times out ends it with kubectl's error.
func runWait(ctx context.Context, js jetstream.JetStream, o waitOptions, targets []getTarget, out, errOut io.Writer) error {
	if err := awaitReadModel(ctx, js, errOut); err != nil {
		return err
	}
	if o.selected {
		t := targets[0]
		rk := resourceKinds[t.kind]
		kv, err := js.KeyValue(ctx, rk.bucket)
		if err != nil {
			return fmt.Errorf("read model %s: %w", rk.bucket, err)
		}
		ns := o.namespace
		if !rk.namespaced {
			ns = ""
		}
		rs, _, err := snapshot(ctx, kv, rk, rk.pattern(ns), false)
		if err != nil {
			return err
		}
		targets = nil
		for _, r := range rs {
			if o.selector.Matches(r.labels()) {
				targets = append(targets, getTarget{kind: t.kind, name: r.name()})
			}
		}
		if len(targets) == 0 {
			return errors.New("no matching resources found")
		}
	}
	for _, t := range targets {
		if err := waitOne(ctx, js, o, t); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s/%s condition met\n", displayKind(t.kind), t.name)
	}
	return nil
}

// waitOne watches one object's record until o.for_ holds: its condition has
// the value, or the record is gone (deleted, or kept with its deletion).
func waitOne(ctx context.Context, js jetstream.JetStream, o waitOptions, t getTarget) error {
	rk := resourceKinds[t.kind]
	kv, err := js.KeyValue(ctx, rk.bucket)
	if err != nil {
		return fmt.Errorf("read model %s: %w", rk.bucket, err)
	}
	timeout := o.timeout
	switch {
	case timeout < 0:
		timeout = 7 * 24 * time.Hour // kubectl's "a week" for a negative timeout
	case timeout == 0:
		return lookOnce(ctx, kv, rk, o, t)
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	w, err := kv.Watch(wctx, rk.key(o.namespace, t.name))
	if err != nil {
		return fmt.Errorf("watch %s/%s: %w", rk.plural, t.name, err)
	}
	defer func() { _ = w.Stop() }()
	seen, exists := false, false
	for {
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !seen && !exists && !o.for_.delete {
				return notFound(rk, t.name)
			}
			return fmt.Errorf("timed out waiting for the condition on %s/%s", rk.plural, t.name)
		case e, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("watch %s/%s: watcher closed", rk.plural, t.name)
			}
			if e == nil { // the current value has been given (or there is none)
				seen = true
				if !exists {
					if o.for_.delete {
						return nil // nothing to wait for: it is gone
					}
					return notFound(rk, t.name)
				}
				continue
			}
			r, present := resource{}, false
			if e.Operation() == jetstream.KeyValuePut {
				if r, present, err = decodeResource(rk.kind, e.Value()); err != nil {
					return err
				}
			}
			exists = present
			if !seen && !present {
				continue
			}
			if o.for_.delete {
				if !present {
					return nil
				}
				continue
			}
			if present && conditionHolds(r, o.for_, time.Now()) {
				return nil
			}
		}
	}
}

// lookOnce is --timeout=0: the condition holds now, or it does not.
func lookOnce(ctx context.Context, kv jetstream.KeyValue, rk resourceKind, o waitOptions, t getTarget) error {
	r, err := getResource(ctx, kv, rk, o.namespace, t.name)
	var nf notFoundError
	switch {
	case errors.As(err, &nf) && o.for_.delete:
		return nil
	case err != nil:
		return err
	case !o.for_.delete && conditionHolds(r, o.for_, time.Now()):
		return nil
	}
	return fmt.Errorf("timed out waiting for the condition on %s/%s", rk.plural, t.name)
}

// conditionHolds reports whether an object's status has the condition with
// the value, both compared case-insensitively as kubectl does.
func conditionHolds(r resource, f waitFor, now time.Time) bool {
	for _, c := range conditionsOf(r, now) {
		if strings.EqualFold(c.Type, f.condition) {
			return strings.EqualFold(c.Status, f.value)
		}
	}
	return false
}

// conditionsOf is an object's status conditions as -o json shows them: a
// pod's and a node's, a workload's as its controllers decided them. A
// Deployment whose controller decided no Available condition is Available
// when as many pods are available as it wants (kubectl's
// MinimumReplicasAvailable with no surge or unavailability allowed).
func conditionsOf(r resource, now time.Time) []manifest.Condition {
	var out []manifest.Condition
	switch {
	case r.pod != nil:
		for _, c := range k8sPodConditions(r.pod) {
			out = append(out, manifest.Condition{Type: c.Type, Status: c.Status})
		}
	case r.node != nil:
		c := nodeReadyCondition(r.node, now)
		out = append(out, manifest.Condition{Type: c.Type, Status: c.Status})
	case r.workload != nil:
		w := r.workload
		out = append(out, w.Status.Conditions...)
		if d := w.Object.Deployment(); d != nil && w.Status.Condition("Available") == nil {
			st := manifest.ConditionFalse
			if w.Status.AvailableReplicas >= d.ReplicaCount() {
				st = manifest.ConditionTrue
			}
			out = append(out, manifest.Condition{Type: "Available", Status: st})
		}
	}
	return out
}
