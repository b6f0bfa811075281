package client

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/events/authz"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/identity"
	"github.com/gantry-sh/gantry/events/manifest"
)

// `gantry auth can-i` and `gantry auth whoami`, as kubectl's: answered by
// the authorizer admission uses (events/authz), over the RBAC objects and
// the cluster's mode in the read models, so can-i says what admission
// would decide (lagging it only by the read models' delay).

func newAuthCmd(g *Globals) *cobra.Command {
	c := &cobra.Command{Use: "auth", Short: "Inspect authorization (RBAC)"}
	c.AddCommand(newCanICmd(g), newWhoAmICmd(g))
	return c
}

func newCanICmd(g *Globals) *cobra.Command {
	var namespace, as string
	var asGroups []string
	var allNamespaces bool
	c := &cobra.Command{
		Use:   "can-i VERB KIND[/SUBRESOURCE] [NAME]",
		Short: "Check whether an action is allowed: prints yes (exit 0) or no (exit 1)",
		Example: `  gantry auth can-i create deployments -n dev
  gantry auth can-i delete pod web-1 --as alice@laptop
  gantry auth can-i update deployments/scale --as bob --as-group devs`,
		Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := canIRequest(args, namespace, allNamespaces)
			if err != nil {
				return err
			}
			if len(asGroups) > 0 && as == "" {
				return errors.New("--as-group needs --as")
			}
			return g.WithCluster(cmd, "auth", func(ctx context.Context, conn *bus.Conn) error {
				p, enforced, err := readPolicy(ctx, g, conn.JS)
				if err != nil {
					return err
				}
				sg, err := g.Signer()
				if err != nil {
					return err
				}
				r.User, r.Groups = subjectOf(sg, as, asGroups, enforced)
				if !p.Authorize(r).Allowed {
					fmt.Fprintln(g.Out, "no")
					return ExitError{Code: 1, Err: errors.New("no"), Reported: true}
				}
				fmt.Fprintln(g.Out, "yes")
				return nil
			})
		},
	}
	c.Flags().StringVarP(&namespace, "namespace", "n", "", "namespace (default \"default\")")
	c.Flags().BoolVarP(&allNamespaces, "all-namespaces", "A", false, "ask about every namespace (only ClusterRoleBindings count)")
	c.Flags().StringVar(&as, "as", "", "ask for this user rather than yourself")
	c.Flags().StringSliceVar(&asGroups, "as-group", nil, "with --as, a group of the user (repeatable)")
	return c
}

func newWhoAmICmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Print the identity your intents carry and its groups",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.WithCluster(cmd, "auth", func(ctx context.Context, conn *bus.Conn) error {
				_, enforced, err := readPolicy(ctx, g, conn.JS)
				if err != nil {
					return err
				}
				sg, err := g.Signer()
				if err != nil {
					return err
				}
				user, groups := subjectOf(sg, "", nil, enforced)
				tw := newTableWriter(g.Out)
				writeRow(tw, []string{"ATTRIBUTE", "VALUE"})
				writeRow(tw, []string{"Username", user})
				writeRow(tw, []string{"Groups", "[" + strings.Join(groups, " ") + "]"})
				return tw.Flush()
			})
		},
	}
}

// subjectOf is who can-i asks for: --as with its --as-groups, or the actor
// this CLI writes on its intents (its credentials' user, sg), with the
// groups admission gives it (the signed admin is in system:masters).
func subjectOf(sg *signer, as string, asGroups []string, enforced bool) (string, []string) {
	if as == "" {
		a := sg.actor()
		if sg != nil && a == identity.Admin {
			return a, []string{authz.Masters, authz.Authenticated}
		}
		return a, authz.GroupsOf(a, enforced)
	}
	return as, append(authz.GroupsOf(as, enforced), asGroups...)
}

// canIRequest reads VERB KIND[/SUBRESOURCE] [NAME] as kubectl does: KIND
// as `get` takes it (deployments, deploy, deployment.apps, nodes).
func canIRequest(args []string, namespace string, all bool) (authz.Request, error) {
	r := authz.Request{Verb: strings.ToLower(args[0])}
	if len(args) == 3 {
		r.Name = args[2]
	}
	res, sub, _ := strings.Cut(args[1], "/")
	r.Subresource = sub
	if res == "*" {
		r.Resource, r.APIGroup = "*", "*"
	} else {
		kind, err := kindOf(res)
		if err != nil {
			return r, err
		}
		rk := resourceKinds[kind]
		r.Resource, r.APIGroup = rk.plural, rk.group
		if !rk.namespaced {
			return r, nil
		}
	}
	switch {
	case all:
	case namespace != "":
		r.Namespace = namespace
	default:
		r.Namespace = manifest.DefaultNamespace
	}
	return r, nil
}

// readPolicy reads the RBAC objects and the cluster's mode from the read
// models, once they caught up with the log.
func readPolicy(ctx context.Context, g *Globals, js jetstream.JetStream) (*authz.Policy, bool, error) {
	if err := awaitReadModel(ctx, js, g.ErrOut); err != nil {
		return nil, false, err
	}
	kv, err := js.KeyValue(ctx, bus.BucketWorkloads)
	if err != nil {
		return nil, false, fmt.Errorf("read model %s: %w", bus.BucketWorkloads, err)
	}
	p := authz.NewPolicy()
	for _, kind := range []string{"role", "clusterrole", "rolebinding", "clusterrolebinding"} {
		rk := resourceKinds[kind]
		rs, _, err := snapshot(ctx, kv, rk, rk.pattern(""), false)
		if err != nil {
			return nil, false, err
		}
		for _, r := range rs {
			if !r.workload.Deleted {
				p.Put(r.workload.Object, r.workload.Namespace)
			}
		}
	}
	enforced := false
	cm, err := getResource(ctx, kv, resourceKinds["configmap"], authz.ModeNamespace, authz.ModeConfigMap)
	switch {
	case err == nil && !cm.workload.Deleted && cm.workload.Object.ConfigMap() != nil:
		enforced = authz.Enforced(cm.workload.Object.ConfigMap().Data)
	case err != nil && !errors.As(err, new(notFoundError)):
		return nil, false, err
	}
	return p, enforced, nil
}
