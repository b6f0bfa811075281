package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
)

func newDeleteCmd(g *Globals) *cobra.Command {
	var files []string
	var namespace string
	var wait, ignoreNotFound, force bool
	var timeout time.Duration
	var cascade string
	var grace int64
	c := &cobra.Command{
		Use:   "delete (-f FILE | KIND NAME) [--cascade=background|foreground|orphan]",
		Short: "Ask for objects to go away; waits until their pods are gone (with --cascade=foreground, what they own too)",
		Args:  cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			propagation, warning, err := parseCascade(cascade)
			if err != nil {
				return err
			}
			if warning != "" {
				fmt.Fprintln(g.ErrOut, warning)
			}
			gracePeriod, err := deletionGrace(grace, force)
			if err != nil {
				return err
			}
			if force {
				fmt.Fprintln(g.ErrOut, "Warning: Immediate deletion does not wait for confirmation that the running resource has been terminated. "+
					"The node still stops it when it hears of the deletion.")
			}
			var intents []intent
			switch {
			case len(files) > 0 && len(args) > 0:
				return errors.New("give either -f FILE or KIND NAME, not both")
			case len(files) > 0:
				docs, err := readDocuments(g.In, files)
				if err != nil {
					return err
				}
				for _, d := range docs {
					kind, err := manifestKind(d.APIVersion, d.Kind)
					if err != nil {
						return fmt.Errorf("%s: %w", docLabel(d), err)
					}
					ns := d.Namespace
					if ns == "" {
						ns = namespace
					}
					it, err := deleteIntent(kind, ns, d.Name)
					if err != nil {
						return fmt.Errorf("%s: %w", docLabel(d), err)
					}
					it.label = resourceLabel(d.APIVersion, kind, d.Name)
					intents = append(intents, it)
				}
			case len(args) == 2:
				kind, err := kindOf(args[0])
				if err != nil {
					// The kind as typed may be a plural or a short name, so it
					// cannot name an object in the log: refused here, as by
					// every verb that takes a kind.
					return err
				}
				if kind == "node" {
					return errors.New("nodes are not deleted through the log yet; stop the node's agent")
				}
				it, err := deleteIntent(kind, namespace, args[1])
				if err != nil {
					return err
				}
				intents = append(intents, it)
			default:
				return errors.New("must give -f FILE or KIND NAME (e.g. gantry delete deployment hello)")
			}
			for i := range intents {
				intents[i].ignoreNotFound = ignoreNotFound
				e := intents[i].event.(*events.IntentDeleted)
				e.Propagation, e.GracePeriodSeconds, e.Force = propagation, gracePeriod, force
			}
			conn, err := g.Connect("cli")
			if err != nil {
				return err
			}
			defer conn.Close()
			if failed := submit(cmd.Context(), g, conn, intents); failed > 0 {
				return ExitError{Code: 1, Err: fmt.Errorf("%d of %d object(s) not deleted", failed, len(intents)), Reported: true}
			}
			if !wait {
				return nil
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			for _, it := range intents {
				if err := waitDeleted(ctx, conn.JS, it, propagation); err != nil {
					return err
				}
			}
			return nil
		},
	}
	c.Flags().StringSliceVarP(&files, "filename", "f", nil, "manifest file, directory, or - for stdin")
	c.Flags().StringVarP(&namespace, "namespace", "n", "", "namespace (default \"default\")")
	c.Flags().BoolVar(&wait, "wait", true, "wait until the object's pods are stopped and removed")
	c.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "how long --wait waits")
	c.Flags().StringVar(&cascade, "cascade", "background",
		"what becomes of what the object owns: background (deleted after it), foreground (deleted before it; --wait waits for them), orphan (left running)")
	c.Flags().Lookup("cascade").NoOptDefVal = "background"
	c.Flags().BoolVar(&ignoreNotFound, "ignore-not-found", false, "an object that does not exist is not an error (and prints nothing)")
	c.Flags().Int64Var(&grace, "grace-period", -1,
		"seconds a pod's containers get between SIGTERM and SIGKILL (-1: the pod's terminationGracePeriodSeconds; 0 only with --force, else 1)")
	c.Flags().BoolVar(&force, "force", false,
		"finish the deletion at once, without waiting for the node to confirm the pod stopped (with no --grace-period: 0)")
	return c
}

// resourcePlural names a kind's resource as kubectl does in "Error from
// server" lines: the plural, then the API group when it has one
// (deployments.apps, pods).
func resourcePlural(token string) string {
	if k, ok := resourceKinds[token]; ok {
		return k.qualifiedPlural()
	}
	return token + "s"
}

func deleteIntent(kind, ns, name string) (intent, error) {
	if ns == "" {
		ns = manifest.DefaultNamespace
	}
	if fe := manifest.ValidateName("name", name); fe != nil {
		return intent{}, fe
	}
	if k, ok := resourceKinds[kind]; ok && !k.namespaced {
		ns = events.ClusterScope // a Namespace has none
	} else if fe := manifest.ValidateName("namespace", ns); fe != nil {
		return intent{}, fe
	}
	return intent{kind: kind, ns: ns, name: name, op: events.OpDelete,
		subject: events.IntentSubject(ns, kind, name),
		event:   &events.IntentDeleted{Kind: kind, Namespace: ns, Name: name},
		label:   displayKind(kind) + "/" + name}, nil
}

// deletionGrace reads --grace-period and --force as kubectl does: -1 leaves
// the pod's own; 0 without --force means 1 (a graceful deletion of a
// second); --force without one means 0.
func deletionGrace(grace int64, force bool) (*int64, error) {
	switch {
	case grace < -1 || grace > manifest.MaxGracePeriodSeconds:
		return nil, fmt.Errorf("--grace-period %d: must be -1 (the pod's own) or between 0 and %d", grace, manifest.MaxGracePeriodSeconds)
	case grace == -1 && !force:
		return nil, nil
	case grace == -1 || grace == 0 && force:
		zero := int64(0)
		return &zero, nil
	case grace == 0:
		one := int64(1)
		return &one, nil
	}
	return &grace, nil
}

// parseCascade reads --cascade as kubectl does: background, foreground or
// orphan, and the deprecated booleans (true is background, false orphan),
// which it warns of. It returns the deletion's propagation policy.
func parseCascade(s string) (propagation, warning string, err error) {
	switch strings.ToLower(s) {
	case "background", "":
		return events.PropagateBackground, "", nil
	case "foreground":
		return events.PropagateForeground, "", nil
	case "orphan":
		return events.PropagateOrphan, "", nil
	case "true":
		return events.PropagateBackground, "warning: --cascade=true is deprecated (boolean value) and can be replaced with --cascade=background.", nil
	case "false":
		return events.PropagateOrphan, "warning: --cascade=false is deprecated (boolean value) and can be replaced with --cascade=orphan.", nil
	}
	return "", "", fmt.Errorf("invalid cascade value (%v). Must be \"background\", \"foreground\", or \"orphan\".", s)
}

// waitDeleted polls the read models until the deletion is done as its
// propagation says: Background, the object's pods gone (its own and those
// of what it owns: a Deployment's ReplicaSets'); Foreground,
// also every object it owns marked deleted (a Deployment's ReplicaSets, a
// CronJob's Jobs) and their pods gone; Orphan, nothing: its pods stay.
func waitDeleted(ctx context.Context, js jetstream.JetStream, it intent, propagation string) error {
	if propagation == events.PropagateOrphan {
		return nil
	}
	pods, err := js.KeyValue(ctx, bus.BucketPods)
	if err != nil {
		return fmt.Errorf("pods read model: %w", err)
	}
	workloads, err := js.KeyValue(ctx, bus.BucketWorkloads)
	if err != nil {
		return fmt.Errorf("workloads read model: %w", err)
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	if it.kind == "namespace" {
		return waitNamespaceEmpty(ctx, workloads, it, tick.C)
	}
	for {
		owners := []events.OwnerRef{{Kind: it.kind, Name: it.name}}
		liveOwned := 0
		owned, err := ownedRecords(ctx, workloads, it)
		if err != nil {
			return err
		}
		for _, w := range owned {
			// The pods of what it owns are its pods too (a Deployment's
			// are its ReplicaSets'); with Foreground, what it owns must be
			// deleted as well.
			owners = append(owners, events.OwnerRef{Kind: w.Kind, Name: w.Name})
			if !w.Deleted && propagation == events.PropagateForeground {
				liveOwned++
			}
		}
		left, err := ownedPods(ctx, pods, it.ns, owners)
		if err != nil {
			return err
		}
		if left == 0 && liveOwned == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			if liveOwned > 0 {
				return fmt.Errorf("%s: %d owned object(s) and %d pod(s) still being deleted: %w", it.label, liveOwned, left, ctx.Err())
			}
			return fmt.Errorf("%s: %d pod(s) still stopping: %w", it.label, left, ctx.Err())
		case <-tick.C:
		}
	}
}

// waitNamespaceEmpty waits until a deleted Namespace's controller says
// nothing is left in it (NamespaceContentRemaining False).
func waitNamespaceEmpty(ctx context.Context, kv jetstream.KeyValue, it intent, tick <-chan time.Time) error {
	key := resourceKinds["namespace"].key(events.ClusterScope, it.name)
	for {
		if e, err := kv.Get(ctx, key); err == nil {
			var w projections.Workload
			if json.Unmarshal(e.Value(), &w) == nil {
				if c := w.Status.Condition(manifest.NamespaceContentRemaining); c != nil && c.Status == manifest.ConditionFalse {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: its content is still being deleted: %w", it.label, ctx.Err())
		case <-tick:
		}
	}
}

// ownedRecords are the workload records (deleted or not) whose owner is the
// object it names.
func ownedRecords(ctx context.Context, kv jetstream.KeyValue, it intent) ([]*projections.Workload, error) {
	w, err := kv.Watch(ctx, "*."+it.ns+".>") // <kind>.<ns>.<name>: the namespace's objects only
	if err != nil {
		return nil, fmt.Errorf("read workloads: %w", err)
	}
	defer func() { _ = w.Stop() }()
	var out []*projections.Workload
	for e := range w.Updates() {
		if e == nil {
			break
		}
		if e.Operation() != jetstream.KeyValuePut {
			continue
		}
		var r projections.Workload
		if json.Unmarshal(e.Value(), &r) != nil {
			continue
		}
		if r.Namespace == it.ns && r.Owner != nil && r.Owner.Kind == it.kind && r.Owner.Name == it.name {
			out = append(out, &r)
		}
	}
	return out, nil
}

// ownedPods counts the pods of ns whose owner is one of owners (by kind and
// name).
func ownedPods(ctx context.Context, kv jetstream.KeyValue, ns string, owners []events.OwnerRef) (int, error) {
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return 0, fmt.Errorf("list pods: %w", err)
	}
	n := 0
	for k := range keys.Keys() {
		e, err := kv.Get(ctx, k)
		if err != nil {
			continue
		}
		var p projections.Pod
		if json.Unmarshal(e.Value(), &p) != nil || p.Namespace != ns || p.Owner == nil {
			continue
		}
		for _, o := range owners {
			if p.Owner.Kind == o.Kind && p.Owner.Name == o.Name {
				n++
				break
			}
		}
	}
	return n, nil
}
