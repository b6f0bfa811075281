package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"sort"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
)

// errRevisionNotFound is kubectl's answer to --revision of no revision.
var errRevisionNotFound = errors.New("unable to find the specified revision")

// newRolloutHistoryCmd makes `gantry rollout history deploy/NAME
// [--revision N]`: a Deployment's revisions (its ReplicaSets), as kubectl
// lists them, with when each was decided and who applied it.
func newRolloutHistoryCmd(g *Globals) *cobra.Command {
	var ns string
	var revision int64
	c := &cobra.Command{
		Use:   "history deploy/NAME",
		Short: "Show a Deployment's revisions, or one revision's pod template",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, name, err := kindAndName(args)
			if err != nil {
				return err
			}
			if kind != "deployment" {
				return fmt.Errorf("no history viewer has been implemented for %s", displayKind(kind))
			}
			if name == "" {
				return fmt.Errorf("rollout history: a name is required")
			}
			if revision < 0 {
				return fmt.Errorf("--revision: must be >= 0, got %d", revision)
			}
			return g.WithCluster(cmd, "rollout", func(ctx context.Context, conn *bus.Conn) error {
				if err := awaitReadModel(ctx, conn.JS, g.ErrOut); err != nil {
					return err
				}
				rk := resourceKinds[kind]
				kv, err := conn.JS.KeyValue(ctx, rk.bucket)
				if err != nil {
					return fmt.Errorf("read model %s: %w", rk.bucket, err)
				}
				r, err := getResource(ctx, kv, rk, ns, name)
				if err != nil {
					return err
				}
				owned, err := ownedWorkloads(ctx, kv, r.workload)
				if err != nil {
					return err
				}
				return printHistory(g.Out, r.workload, owned, revision)
			})
		},
	}
	c.Flags().StringVarP(&ns, "namespace", "n", manifest.DefaultNamespace, "namespace")
	c.Flags().Int64Var(&revision, "revision", 0, "show the pod template of this revision")
	return c
}

// revisionEntry is a revision of a Deployment: its ReplicaSet.
type revisionEntry struct {
	number int64
	rs     *projections.Workload
}

// revisionsOf lists a Deployment's revisions, oldest first: its live
// ReplicaSets that carry deployment.kubernetes.io/revision.
func revisionsOf(owned []*projections.Workload) []revisionEntry {
	var out []revisionEntry
	for _, rs := range owned {
		if n := manifest.RevisionOf(rs.Object.Metadata.Annotations); n > 0 && !rs.Deleted && rs.Object.ReplicaSet() != nil {
			out = append(out, revisionEntry{n, rs})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].number < out[j].number })
	return out
}

// printHistory writes kubectl's rollout history of w: a table of
// REVISION and CHANGE-CAUSE, and Gantry's CREATED (when the revision was
// decided) and ACTOR (who applied the intent that caused it); or, with
// revision > 0, that revision's pod template, its change cause among the
// template's annotations as kubectl shows it.
func printHistory(out io.Writer, w *projections.Workload, owned []*projections.Workload, revision int64) error {
	revs := revisionsOf(owned)
	title := "deployment.apps/" + w.Name
	if revision > 0 {
		for _, r := range revs {
			if r.number != revision {
				continue
			}
			t := r.rs.Object.ReplicaSet().Template
			if cc := r.rs.Object.Metadata.Annotations[manifest.ChangeCauseAnnotation]; cc != "" {
				t.Metadata.Annotations = maps.Clone(t.Metadata.Annotations)
				if t.Metadata.Annotations == nil {
					t.Metadata.Annotations = map[string]string{}
				}
				t.Metadata.Annotations[manifest.ChangeCauseAnnotation] = cc
			}
			if _, err := fmt.Fprintf(out, "%s with revision #%d\n", title, revision); err != nil {
				return err
			}
			d := newDescriber(out)
			describeTemplate(d, &t)
			return d.flush()
		}
		return errRevisionNotFound
	}
	if _, err := fmt.Fprintln(out, title); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "REVISION\tCHANGE-CAUSE\tCREATED\tACTOR")
	for _, r := range revs {
		at := r.rs.RevisionAt
		if at.IsZero() {
			at = r.rs.CreatedAt // decided before revisions kept their time
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", strconv.FormatInt(r.number, 10),
			orNone(r.rs.Object.Metadata.Annotations[manifest.ChangeCauseAnnotation]), historyTime(at), orUnknown(r.rs.RevisionActor))
	}
	fmt.Fprintln(tw)
	return tw.Flush()
}

// historyTime is a revision's time in UTC, RFC 3339, as -o yaml writes
// times.
func historyTime(t time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return t.UTC().Format(time.RFC3339)
}

func orUnknown(s string) string {
	if s == "" {
		return "<unknown>"
	}
	return s
}
