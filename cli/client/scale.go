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

// replicasPath is the field scale sets; a kind scales when the registry's
// Pods names it (Deployment, ReplicaSet), not a Job's parallelism.
const replicasPath = "spec.replicas"

func newScaleCmd(g *Globals) *cobra.Command {
	var namespace string
	var replicas, current int
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "scale (TYPE/NAME | TYPE NAME) --replicas=N",
		Short: "Set a new size for a Deployment or ReplicaSet (kubectl scale); the pod template is unchanged",
		Example: "  gantry scale deployment/web --replicas=3\n" +
			"  gantry scale --current-replicas=2 --replicas=3 deploy web",
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("replicas") {
				return errors.New("required flag(s) \"replicas\" not set")
			}
			if replicas < 0 {
				return fmt.Errorf("--replicas=%d: the replica count must be zero or more", replicas)
			}
			if current < -1 {
				return fmt.Errorf("--current-replicas=%d: must be zero or more (-1: no precondition)", current)
			}
			if timeout < 0 {
				return fmt.Errorf("--timeout=%s: must be zero or more", timeout)
			}
			rk, name, err := oneObject(args)
			if err != nil {
				return err
			}
			if !scalable(rk.info) {
				return fmt.Errorf("%s cannot be scaled: kinds that scale: %s", rk.qualifiedPlural(), strings.Join(scalableKinds(), ", "))
			}
			ns := orDefaultNamespace(namespace)
			return g.WithCluster(cmd, "cli", func(ctx context.Context, conn *bus.Conn) error {
				w, err := readWorkload(ctx, g, conn, rk, ns, name)
				if err != nil {
					return err
				}
				obj, err := scaleObject(w.Object, int32(replicas), int32(current))
				if err != nil {
					return err
				}
				label := resourceLabel(rk.apiVersion(), rk.kind, name)
				if err := submitEdit(ctx, g, conn, rk, ns, name, obj, label, "scaled", false); err != nil {
					return err
				}
				if timeout > 0 {
					return awaitScaled(ctx, conn.JS, rk, ns, name, int32(replicas), timeout)
				}
				return nil
			})
		},
	}
	c.Flags().IntVar(&replicas, "replicas", 0, "the new desired number of replicas (required)")
	c.Flags().IntVar(&current, "current-replicas", -1, "precondition: scale only if the current replica count is this (-1: no precondition)")
	c.Flags().DurationVar(&timeout, "timeout", 0, "how long to wait for the new replica count to be reached (0: do not wait)")
	c.Flags().StringVarP(&namespace, "namespace", "n", "", "namespace (default \"default\")")
	return c
}

// scalable reports a kind whose size is spec.replicas, by the registry.
func scalable(k *manifest.KindInfo) bool {
	if k == nil || k.Pods == nil {
		return false
	}
	// Pods reads only the spec's type, so a zero object of the kind tells
	// which field sizes it.
	_, path := k.Pods(zeroObject(k))
	return path == replicasPath
}

// scalableKinds names the kinds scale takes, as kubectl names resources.
func scalableKinds() []string {
	var out []string
	for _, k := range kindTable {
		if scalable(k.info) {
			out = append(out, k.qualifiedPlural())
		}
	}
	return out
}

// zeroObject is an object of the kind with an empty spec.
func zeroObject(k *manifest.KindInfo) manifest.Object {
	var o manifest.Object
	_ = json.Unmarshal([]byte(`{"apiVersion":"`+k.APIVersion+`","kind":"`+k.Kind+`","metadata":{"name":"x"}}`), &o)
	return o
}

// scaleObject is the object with spec.replicas set to replicas, its pod
// template untouched (so no new ReplicaSet). current >= 0 is kubectl's
// --current-replicas precondition.
func scaleObject(o manifest.Object, replicas, current int32) (manifest.Object, error) {
	k := o.Info()
	if !scalable(k) {
		return manifest.Object{}, fmt.Errorf("a %s cannot be scaled: kinds that scale: %s", o.Kind, strings.Join(scalableKinds(), ", "))
	}
	if n, _ := k.Pods(o); current >= 0 && n != current {
		return manifest.Object{}, fmt.Errorf("Expected replicas to be %d, was %d", current, n)
	}
	return editJSON(o, func(m map[string]any) error {
		spec, ok := m["spec"].(map[string]any)
		if !ok {
			return errors.New("spec: must be an object")
		}
		spec["replicas"] = replicas
		return nil
	})
}

// editJSON is a copy of o with edit applied to its JSON form.
func editJSON(o manifest.Object, edit func(m map[string]any) error) (manifest.Object, error) {
	b, err := json.Marshal(o)
	if err != nil {
		return manifest.Object{}, fmt.Errorf("encode %s: %w", o.Metadata.Name, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return manifest.Object{}, err
	}
	if err := edit(m); err != nil {
		return manifest.Object{}, err
	}
	if b, err = json.Marshal(m); err != nil {
		return manifest.Object{}, err
	}
	var out manifest.Object
	if err := json.Unmarshal(b, &out); err != nil {
		return manifest.Object{}, fmt.Errorf("decode %s: %w", o.Metadata.Name, err)
	}
	return out, nil
}

// oneObject reads the TYPE/NAME or TYPE NAME of a verb that edits one
// object.
func oneObject(args []string) (resourceKind, string, error) {
	if len(args) > 2 {
		return resourceKind{}, "", fmt.Errorf("one object at a time: TYPE/NAME or TYPE NAME, not %s", strings.Join(args, " "))
	}
	kind, name, err := kindAndName(args)
	if err != nil {
		return resourceKind{}, "", err
	}
	if name == "" {
		return resourceKind{}, "", errors.New("resource name may not be empty: give TYPE/NAME or TYPE NAME")
	}
	return resourceKinds[kind], name, nil
}

func orDefaultNamespace(ns string) string {
	if ns == "" {
		return manifest.DefaultNamespace
	}
	return ns
}

// readWorkload reads an object's record from the workloads read model once
// the read model has caught up with the log.
func readWorkload(ctx context.Context, g *Globals, conn *bus.Conn, rk resourceKind, ns, name string) (*projections.Workload, error) {
	if fe := manifest.ValidateName("name", name); fe != nil {
		return nil, fe
	}
	if err := awaitReadModel(ctx, conn.JS, g.ErrOut); err != nil {
		return nil, err
	}
	kv, err := conn.JS.KeyValue(ctx, bus.BucketWorkloads)
	if err != nil {
		return nil, fmt.Errorf("read model %s: %w", bus.BucketWorkloads, err)
	}
	r, err := getResource(ctx, kv, rk, ns, name)
	if err != nil {
		return nil, err
	}
	return r.workload, nil
}

// submitEdit appends the edited object as an apply intent and prints
// admission's verdict with done as kubectl's word (scaled, image updated);
// quietUnchanged prints nothing on an unchanged verdict, as kubectl set does.
func submitEdit(ctx context.Context, g *Globals, conn *bus.Conn, rk resourceKind, ns, name string, obj manifest.Object, label, done string, quietUnchanged bool) error {
	b, err := json.Marshal(obj)
	if err != nil {
		return fmt.Errorf("encode %s: %w", label, err)
	}
	it := intent{kind: rk.kind, ns: ns, name: name, op: events.OpApply,
		subject: events.IntentSubject(ns, rk.kind, name),
		event:   &events.IntentApplied{Kind: rk.kind, Namespace: ns, Name: name, Object: b},
		label:   label, done: done, quietUnchanged: quietUnchanged}
	if failed := submit(ctx, g, conn, []intent{it}); failed > 0 {
		return ExitError{Code: 1, Err: fmt.Errorf("%s not changed", label), Reported: true}
	}
	return nil
}

// awaitScaled waits until the workload's controller has seen its new spec
// and runs replicas pods (kubectl scale --timeout).
func awaitScaled(ctx context.Context, js jetstream.JetStream, rk resourceKind, ns, name string, replicas int32, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	kv, err := js.KeyValue(ctx, bus.BucketWorkloads)
	if err != nil {
		return fmt.Errorf("read model %s: %w", bus.BucketWorkloads, err)
	}
	w, err := kv.Watch(ctx, rk.key(ns, name))
	if err != nil {
		return fmt.Errorf("watch %s/%s: %w", rk.kind, name, err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for %s to have %d replicas: %w", resourceLabel(rk.apiVersion(), rk.kind, name), replicas, ctx.Err())
		case e := <-w.Updates():
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			var r projections.Workload
			if json.Unmarshal(e.Value(), &r) != nil || r.Object.Info() == nil || r.Object.Info().Pods == nil {
				continue
			}
			if n, _ := r.Object.Info().Pods(r.Object); n == replicas && r.Status.ObservedGeneration >= r.Generation && r.Status.Replicas == replicas {
				return nil
			}
		}
	}
}
