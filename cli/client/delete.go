package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	var wait, ignoreNotFound bool
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "delete (-f FILE | KIND NAME)",
		Short: "Ask for objects to go away; waits until their pods are gone",
		Args:  cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
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
				if err := waitPodsGone(ctx, conn.JS, it); err != nil {
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
	c.Flags().BoolVar(&ignoreNotFound, "ignore-not-found", false, "an object that does not exist is not an error (and prints nothing)")
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
	if fe := manifest.ValidateName("namespace", ns); fe != nil {
		return intent{}, fe
	}
	return intent{kind: kind, ns: ns, name: name, op: events.OpDelete,
		subject: events.IntentSubject(ns, kind, name),
		event:   &events.IntentDeleted{Kind: kind, Namespace: ns, Name: name},
		label:   displayKind(kind) + "/" + name}, nil
}

// waitPodsGone polls the pods read model until no pod of the object is left.
func waitPodsGone(ctx context.Context, js jetstream.JetStream, it intent) error {
	kv, err := js.KeyValue(ctx, bus.BucketPods)
	if err != nil {
		return fmt.Errorf("pods read model: %w", err)
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		left, err := ownedPods(ctx, kv, it)
		if err != nil {
			return err
		}
		if left == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %d pod(s) still stopping: %w", it.label, left, ctx.Err())
		case <-tick.C:
		}
	}
}

func ownedPods(ctx context.Context, kv jetstream.KeyValue, it intent) (int, error) {
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
		if json.Unmarshal(e.Value(), &p) != nil {
			continue
		}
		if p.Namespace == it.ns && p.Owner != nil && p.Owner.Kind == it.kind && p.Owner.Name == it.name {
			n++
		}
	}
	return n, nil
}
