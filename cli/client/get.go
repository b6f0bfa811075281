package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
	"k8s.io/client-go/util/jsonpath"

	"github.com/gantry-sh/gantry/api"
	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
)

// readModelWait bounds how long a reader waits for the projector to catch up
// with the log before showing what the read model has (a variable for tests).
var readModelWait = 5 * time.Second

type getOptions struct {
	targets []getTarget // what to list, in the order asked
	// kind and name are one target, for callers that build options by hand
	// (tests); parse fills targets.
	kind, name    string
	namespace     string
	allNamespaces bool
	output        string             // "", wide, json, yaml, name, jsonpath
	template      *jsonpath.JSONPath // -o jsonpath=… or jsonpath-file=…
	selector      manifest.LabelSelector
	hasSelector   bool
	showLabels    bool
	labelColumns  []string // -L: label keys shown as columns
	sortBy        string   // --sort-by, as a template: {.metadata.name}
	sorter        *jsonpath.JSONPath
	watch         bool
}

// getTarget is one kind to list, or one object of it when name is set.
type getTarget struct {
	kind, name string
}

// errNoResourceType is get without a type; the command prints the kinds.
var errNoResourceType = errors.New("required resource not specified")

func newGetCmd(g *Globals) *cobra.Command {
	var o getOptions
	var selector string
	c := &cobra.Command{
		Use:   "get TYPE[,TYPE…] [NAME…] | TYPE/NAME…",
		Short: "List objects of a kind (pods, deployments, replicasets, daemonsets, jobs, cronjobs, nodes) or all, like kubectl get",
		Example: "  gantry get pods\n  gantry get deploy hello -o yaml\n  gantry get pods -A -o wide\n" +
			"  gantry get pods -w\n  gantry get pods -l app=hello --show-labels\n  gantry get deploy,po\n" +
			"  gantry get all\n  gantry get jobs,cj -A\n" +
			"  gantry get pods --sort-by=.status.startTime -L app\n" +
			"  gantry get pods -o jsonpath='{range .items[*]}{.metadata.name}{\"\\n\"}{end}'",
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("selector") {
				sel, err := manifest.ParseLabelSelector(selector)
				if err != nil {
					return err
				}
				o.selector, o.hasSelector = sel, true
			}
			if err := o.parse(args); err != nil {
				if errors.Is(err, errNoResourceType) {
					fmt.Fprintf(g.ErrOut, "You must specify the type of resource to get. "+
						"Use \"gantry api-resources\" for a complete list of supported resources.\n\n")
					if perr := printAPIResources(g.ErrOut, nil); perr != nil {
						return perr
					}
					fmt.Fprintln(g.ErrOut)
				}
				return err
			}
			return g.WithCluster(cmd, "get", func(ctx context.Context, conn *bus.Conn) error {
				return runGet(ctx, conn.JS, o, g.Out, g.ErrOut)
			})
		},
	}
	c.Flags().StringVarP(&o.namespace, "namespace", "n", manifest.DefaultNamespace, "namespace")
	c.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "list across all namespaces")
	c.Flags().StringVarP(&o.output, "output", "o", "",
		"output format: wide, json, yaml, name, jsonpath=TEMPLATE or jsonpath-file=FILE")
	c.Flags().BoolVarP(&o.watch, "watch", "w", false, "after listing, print each change until interrupted")
	c.Flags().StringVarP(&selector, "selector", "l", "",
		"label selector to filter on, e.g. -l app=hello,tier!=db or -l 'env in (prod,staging)'")
	c.Flags().BoolVar(&o.showLabels, "show-labels", false, "show all labels as the last column")
	c.Flags().StringSliceVarP(&o.labelColumns, "label-columns", "L", nil,
		"label keys to show as columns, e.g. -L app,tier")
	c.Flags().StringVar(&o.sortBy, "sort-by", "",
		"sort by a JSONPath over the object's -o json form, e.g. .metadata.name or '{.status.startTime}'")
	return c
}

// parse reads `TYPE[,TYPE…] [NAME…]` or `TYPE/NAME…` and checks the flags.
func (o *getOptions) parse(args []string) error {
	if len(args) == 0 {
		return errNoResourceType
	}
	o.targets = nil
	if strings.Contains(args[0], "/") {
		for _, a := range args {
			typ, name, ok := strings.Cut(a, "/")
			if !ok {
				return fmt.Errorf("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form")
			}
			if name == "" {
				return fmt.Errorf("%q: a name is required after the '/'", a)
			}
			kind, err := kindOf(typ)
			if err != nil {
				return err
			}
			o.targets = append(o.targets, getTarget{kind: kind, name: name})
		}
	} else {
		var kinds []string
		for _, typ := range strings.Split(args[0], ",") {
			if strings.EqualFold(typ, "all") {
				kinds = append(kinds, allCategory()...)
				continue
			}
			kind, err := kindOf(typ)
			if err != nil {
				return err
			}
			kinds = append(kinds, kind)
		}
		for _, kind := range kinds {
			if len(args) == 1 {
				o.targets = append(o.targets, getTarget{kind: kind})
			}
			for _, name := range args[1:] {
				if strings.Contains(name, "/") {
					return fmt.Errorf("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form")
				}
				o.targets = append(o.targets, getTarget{kind: kind, name: name})
			}
		}
	}
	if err := o.parseOutput(); err != nil {
		return err
	}
	named := o.targets[0].name != ""
	switch {
	case named && o.allNamespaces:
		return fmt.Errorf("a resource cannot be retrieved by name across all namespaces")
	case named && o.hasSelector:
		return fmt.Errorf("name cannot be provided when a selector is specified")
	case o.watch && len(o.targets) > 1:
		return fmt.Errorf("watch is only supported on individual resources and resource collections, but %d resources were asked for", len(o.targets))
	}
	if o.sortBy != "" {
		expr, err := relaxedJSONPath(o.sortBy)
		if err != nil {
			return fmt.Errorf("--sort-by: %w", err)
		}
		if o.sorter, err = parseJSONPath("sort-by", expr); err != nil {
			return fmt.Errorf("--sort-by: %w", err)
		}
		o.sortBy = expr // as errors name it
	}
	var cols []string
	for _, k := range o.labelColumns {
		if k = strings.TrimSpace(k); k != "" {
			cols = append(cols, k)
		}
	}
	o.labelColumns = cols
	if o.namespace == "" {
		o.namespace = manifest.DefaultNamespace
	}
	return nil
}

// parseOutput checks -o and compiles a JSONPath template.
func (o *getOptions) parseOutput() error {
	format, arg, hasArg := strings.Cut(o.output, "=")
	switch format {
	case "", "wide", "json", "yaml", "name":
		if !hasArg {
			return nil
		}
	case "jsonpath", "jsonpath-file":
		if !hasArg || arg == "" {
			return fmt.Errorf("-o %s: template format specified but no template given (-o %s=…)", format, format)
		}
		text := arg
		if format == "jsonpath-file" {
			b, err := os.ReadFile(arg)
			if err != nil {
				return fmt.Errorf("-o jsonpath-file: %w", err)
			}
			text = string(b)
		}
		t, err := parseJSONPath("output", text)
		if err != nil {
			return err
		}
		o.output, o.template = "jsonpath", t
		return nil
	}
	return fmt.Errorf("unable to match a printer suitable for the output format %q, "+
		"allowed formats are: json,jsonpath,jsonpath-file,name,wide,yaml", o.output)
}

// allCategory is kubectl's "all" category as Gantry has it: every
// namespaced kind that makes or runs pods, and services, in the order
// kubectl lists them (pods and services, then daemonsets, deployments,
// replicasets of apps, then cronjobs and jobs of batch: kindTable's order,
// which is api-resources').
func allCategory() []string {
	var out []string
	for _, k := range kindTable {
		if k.namespaced && k.info != nil && (k.kind == "pod" || k.kind == "service" || k.info.Template != nil || k.kind == "cronjob") {
			out = append(out, k.kind)
		}
	}
	return out
}

// wanted is what to list: the parsed targets, or the one kind and name.
func (o getOptions) wanted() []getTarget {
	if len(o.targets) == 0 && o.kind != "" {
		return []getTarget{{kind: o.kind, name: o.name}}
	}
	return o.targets
}

// singleItem is kubectl's "single item implied": one object asked for by
// name, which -o json and jsonpath show by itself rather than in a List.
func (o getOptions) singleItem() bool {
	t := o.wanted()
	return len(t) == 1 && t[0].name != ""
}

// kindList is what get found of one kind.
type kindList struct {
	rk    resourceKind
	kv    jetstream.KeyValue
	items []resource
}

func runGet(ctx context.Context, js jetstream.JetStream, o getOptions, out, errOut io.Writer) error {
	if err := awaitReadModel(ctx, js, errOut); err != nil {
		return err
	}
	targets := o.wanted()
	if len(targets) == 0 {
		return errNoResourceType
	}
	if o.watch {
		return runWatch(ctx, js, o, targets[0], out, errOut)
	}
	// One list per kind, in the order first asked for.
	var lists []*kindList
	byKind := map[string]*kindList{}
	var missing []error
	for _, t := range targets {
		l := byKind[t.kind]
		if l == nil {
			l = &kindList{rk: resourceKinds[t.kind]}
			var err error
			if l.kv, err = js.KeyValue(ctx, l.rk.bucket); err != nil {
				return fmt.Errorf("read model %s: %w", l.rk.bucket, err)
			}
			byKind[t.kind] = l
			lists = append(lists, l)
		}
		kv := l.kv
		if t.name != "" {
			r, err := getResource(ctx, kv, l.rk, o.namespace, t.name)
			var nf notFoundError
			switch {
			case errors.As(err, &nf):
				missing = append(missing, err)
				continue
			case err != nil:
				return err
			}
			l.items = append(l.items, r)
			continue
		}
		ns := o.namespace
		if o.allNamespaces || !l.rk.namespaced {
			ns = ""
		}
		rs, _, err := snapshot(ctx, kv, l.rk, l.rk.pattern(ns), false)
		if err != nil {
			return err
		}
		l.items = append(l.items, o.selected(rs)...)
	}
	found := 0
	for _, l := range lists {
		found += len(l.items)
	}
	if len(missing) > 0 && found == 0 {
		return errors.Join(missing...) // kubectl prints the errors alone
	}
	if err := printResources(ctx, js, o, lists, out, errOut); err != nil {
		return err
	}
	return errors.Join(missing...)
}

// selected keeps the resources -l selects (all without -l).
func (o getOptions) selected(rs []resource) []resource {
	if !o.hasSelector {
		return rs
	}
	var out []resource
	for _, r := range rs {
		if o.selector.Matches(r.labels()) {
			out = append(out, r)
		}
	}
	return out
}

// runWatch lists one target, then prints each change until ctx ends.
func runWatch(ctx context.Context, js jetstream.JetStream, o getOptions, t getTarget, out, errOut io.Writer) error {
	rk := resourceKinds[t.kind]
	kv, err := js.KeyValue(ctx, rk.bucket)
	if err != nil {
		return fmt.Errorf("read model %s: %w", rk.bucket, err)
	}
	ns := o.namespace
	if o.allNamespaces || !rk.namespaced {
		ns = ""
	}
	pattern := rk.pattern(ns)
	if t.name != "" {
		pattern = rk.key(o.namespace, t.name)
	}
	rs, w, err := snapshot(ctx, kv, rk, pattern, true)
	if err != nil {
		return err
	}
	defer func() { _ = w.Stop() }()
	if t.name != "" && len(rs) == 0 {
		return notFound(rk, t.name)
	}
	return watchResources(ctx, js, o, rk, o.selected(rs), w, out, errOut)
}

// ---- the read model

// key is the KV key of one object: <ns>.<name> (pods), <name> (nodes),
// <kind>.<ns>.<name> (every other kind; _cluster for the namespace of a
// cluster-scoped one).
func (k resourceKind) key(ns, name string) string {
	switch {
	case k.kind == "pod":
		return ns + "." + name
	case k.kind == "node":
		return name
	case !k.namespaced:
		ns = events.ClusterScope
	}
	return k.kind + "." + ns + "." + name
}

// pattern matches every key of the kind in ns ("" for all namespaces).
// Namespaces have no dots; names may, hence ">".
func (k resourceKind) pattern(ns string) string {
	switch {
	case k.kind == "node", k.kind == "pod" && ns == "":
		return ">"
	case k.kind == "pod":
		return ns + ".>"
	case ns == "" || !k.namespaced:
		return k.kind + ".>"
	}
	return k.kind + "." + ns + ".>"
}

// notFoundError is kubectl's NotFound: get prints what it found of several
// names and these errors after; any other read error stops it.
type notFoundError struct {
	kind resourceKind
	name string
}

func (e notFoundError) Error() string {
	return fmt.Sprintf("%s %q not found", e.kind.qualifiedPlural(), e.name)
}

func notFound(k resourceKind, name string) error { return notFoundError{kind: k, name: name} }

// resource is one read-model record; exactly one of its pointers is set.
type resource struct {
	pod      *projections.Pod
	workload *projections.Workload
	node     *projections.Node
}

func (r resource) namespace() string {
	switch {
	case r.pod != nil:
		return r.pod.Namespace
	case r.workload != nil:
		return r.workload.Namespace
	}
	return ""
}

func (r resource) name() string {
	switch {
	case r.pod != nil:
		return r.pod.Name
	case r.workload != nil:
		return r.workload.Name
	case r.node != nil:
		return r.node.Info.Name
	}
	return ""
}

func (r resource) labels() map[string]string {
	switch {
	case r.pod != nil:
		return r.pod.Labels
	case r.workload != nil:
		return r.workload.Object.Metadata.Labels
	case r.node != nil:
		return r.node.Info.Labels
	}
	return nil
}

// decodeResource reads a record; ok is false for one that is not there for
// users (a deleted workload, kept by the projector for its history).
func decodeResource(kind string, b []byte) (resource, bool, error) {
	var r resource
	var err error
	switch kind {
	case "pod":
		r.pod = new(projections.Pod)
		err = json.Unmarshal(b, r.pod)
	case "node":
		r.node = new(projections.Node)
		err = json.Unmarshal(b, r.node)
	default:
		if !resourceKinds[kind].workload() {
			return r, false, fmt.Errorf("unknown kind %q", kind)
		}
		r.workload = new(projections.Workload)
		err = json.Unmarshal(b, r.workload)
		if err == nil && (r.workload.Deleted && !terminating(r.workload) || r.workload.Kind != kind) {
			return r, false, nil
		}
	}
	if err != nil {
		return r, false, fmt.Errorf("decode %s record: %w", kind, err)
	}
	return r, true, nil
}

// terminating reports a deleted object still shown, as its kind says
// (a Namespace while its content is being deleted).
func terminating(w *projections.Workload) bool {
	k := w.Object.Info()
	return k != nil && k.Terminating != nil && k.Terminating(w.Status)
}

// getResource reads one object, or says it is not found as kubectl does.
func getResource(ctx context.Context, kv jetstream.KeyValue, rk resourceKind, ns, name string) (resource, error) {
	e, err := kv.Get(ctx, rk.key(ns, name))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
		return resource{}, notFound(rk, name)
	}
	if err != nil {
		return resource{}, fmt.Errorf("read %s %s: %w", rk.kind, name, err)
	}
	r, ok, err := decodeResource(rk.kind, e.Value())
	if err != nil {
		return resource{}, err
	}
	if !ok {
		return resource{}, notFound(rk, name)
	}
	return r, nil
}

// snapshot reads every record under pattern with one watcher, stopping at its
// initial-values marker, sorted by namespace and name. With keep the watcher
// is returned open for what comes next; otherwise it is stopped.
func snapshot(ctx context.Context, kv jetstream.KeyValue, rk resourceKind, pattern string, keep bool) ([]resource, jetstream.KeyWatcher, error) {
	w, err := kv.Watch(ctx, pattern)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", rk.bucket, err)
	}
	var out []resource
	for done := false; !done; {
		select {
		case <-ctx.Done():
			_ = w.Stop()
			return nil, nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return nil, nil, fmt.Errorf("read %s: watcher closed", rk.bucket)
			}
			if e == nil {
				done = true
				break
			}
			if e.Operation() != jetstream.KeyValuePut {
				continue
			}
			r, ok, err := decodeResource(rk.kind, e.Value())
			if err != nil {
				_ = w.Stop()
				return nil, nil, fmt.Errorf("%s: %w", e.Key(), err)
			}
			if ok {
				out = append(out, r)
			}
		}
	}
	sortResources(out)
	if !keep {
		_ = w.Stop()
		return out, nil, nil
	}
	return out, w, nil
}

func sortResources(rs []resource) {
	sort.SliceStable(rs, func(i, j int) bool {
		if a, b := rs[i].namespace(), rs[j].namespace(); a != b {
			return a < b
		}
		return rs[i].name() < rs[j].name()
	})
}

// nodeAddresses maps node names to addresses, for pods' hostIP.
func nodeAddresses(ctx context.Context, js jetstream.JetStream) (map[string]string, error) {
	kv, err := js.KeyValue(ctx, bus.BucketNodes)
	if err != nil {
		return nil, fmt.Errorf("read model %s: %w", bus.BucketNodes, err)
	}
	nodes, _, err := snapshot(ctx, kv, resourceKinds["node"], ">", false)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(nodes))
	for _, n := range nodes {
		out[n.node.Info.Name] = n.node.Info.Address
	}
	return out, nil
}

// awaitReadModel gives read-your-writes: it waits until the projector has
// applied every decision and observation in the log as of now. When the
// projector does not catch up within readModelWait it warns and returns, and
// the caller shows what there is.
func awaitReadModel(ctx context.Context, js jetstream.JetStream, errOut io.Writer) error {
	want := map[string]uint64{}
	// The projector reads the decisions, not the copies addressed to nodes.
	for s, filters := range map[string][]string{events.StreamDecisions: {events.SubjectDecisionAll}, events.StreamObservations: nil} {
		seq, err := bus.LastSeq(ctx, js, s, filters...)
		if err != nil {
			return fmt.Errorf("read the log: %w", err)
		}
		want[s] = seq
	}
	kv, err := js.KeyValue(ctx, bus.BucketProjector)
	if err != nil {
		return fmt.Errorf("read model %s: %w", bus.BucketProjector, err)
	}
	deadline := time.Now().Add(readModelWait)
	interval := 5 * time.Millisecond
	for {
		got, err := projectorApplied(ctx, kv)
		if err != nil {
			return err
		}
		behind := lagging(got, want)
		if behind == "" {
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			fmt.Fprintf(errOut, "warning: the read model has not caught up with the log after %s (%s); "+
				"showing what it has (is the projector running?)\n", readModelWait, behind)
			return nil
		}
		t := time.NewTimer(min(interval, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		interval = min(2*interval, 100*time.Millisecond)
	}
}

// projectorApplied reads the projector's progress record; none yet is empty.
func projectorApplied(ctx context.Context, kv jetstream.KeyValue) (map[string]uint64, error) {
	e, err := kv.Get(ctx, bus.KeyProgress)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return map[string]uint64{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read projector progress: %w", err)
	}
	var p api.Progress
	if err := json.Unmarshal(e.Value(), &p); err != nil {
		return nil, fmt.Errorf("decode projector progress: %w", err)
	}
	return p.Applied, nil
}

// lagging describes the first stream where got is behind want, "" if none.
func lagging(got, want map[string]uint64) string {
	streams := make([]string, 0, len(want))
	for s := range want {
		streams = append(streams, s)
	}
	sort.Strings(streams)
	for _, s := range streams {
		if got[s] < want[s] {
			return fmt.Sprintf("%s applied up to %d of %d", s, got[s], want[s])
		}
	}
	return ""
}

// ---- printing

// printResources prints what get found: for a table, one per kind with a
// blank line between, names prefixed with the kind when more than one kind
// has rows (kubectl's deployment.apps/hello); for -o name, kind/name lines;
// for -o json, yaml and jsonpath, every object in one List, or the object
// alone when one was asked for by name.
func printResources(ctx context.Context, js jetstream.JetStream, o getOptions, lists []*kindList, out, errOut io.Writer) error {
	now := time.Now()
	objectOutput := o.output == "json" || o.output == "yaml" || o.output == "jsonpath"
	var all []any
	total := 0
	for _, l := range lists {
		total += len(l.items)
		if !objectOutput && o.sorter == nil {
			continue
		}
		hostIPs, err := hostIPsFor(ctx, js, l.rk.kind, len(l.items))
		if err != nil {
			return err
		}
		objs := make([]any, len(l.items))
		for i, r := range l.items {
			objs[i] = k8sObjectOf(r, hostIPs, now)
		}
		if o.sorter != nil {
			if err := sortByJSONPath(o.sorter, o.sortBy, l.items, objs); err != nil {
				return err
			}
		}
		all = append(all, objs...)
	}
	if objectOutput {
		var v any = k8sListOf(all)
		if o.singleItem() && len(all) == 1 {
			v = all[0]
		}
		if o.output == "jsonpath" {
			return printJSONPath(out, o.template, v)
		}
		return writeObject(out, o.output, v)
	}
	if total == 0 {
		fmt.Fprintln(errOut, noResources(o, lists))
		return nil
	}
	if o.output == "name" {
		for _, l := range lists {
			for _, r := range l.items {
				fmt.Fprintln(out, displayKind(l.rk.kind)+"/"+r.name())
			}
		}
		return nil
	}
	first := true
	for _, l := range lists {
		if len(l.items) == 0 {
			continue
		}
		if !first {
			fmt.Fprintln(out)
		}
		first = false
		// Names carry their kind whenever more than one kind was asked
		// for, as kubectl's get all prints service/kubernetes alone.
		cols := o.columns(l.rk, len(lists) > 1)
		tw := newTableWriter(out)
		writeRow(tw, cols.header())
		for _, r := range l.items {
			writeRow(tw, cols.row(r, now))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// noResources is kubectl's message for an empty list.
func noResources(o getOptions, lists []*kindList) string {
	namespaced := false
	for _, l := range lists {
		namespaced = namespaced || l.rk.namespaced
	}
	if !namespaced || o.allNamespaces {
		return "No resources found"
	}
	return fmt.Sprintf("No resources found in %s namespace.", o.namespace)
}

// tableColumns says how get lays out one kind's table.
type tableColumns struct {
	kind         string
	wide         bool
	withNS       bool     // a NAMESPACE column first (-A, a namespaced kind)
	withKind     bool     // names prefixed with the kind, as when several kinds are shown
	labelColumns []string // -L: one column per label key
	showLabels   bool     // --show-labels: a LABELS column last
}

func (o getOptions) columns(rk resourceKind, withKind bool) tableColumns {
	return tableColumns{kind: rk.kind, wide: o.output == "wide", withNS: o.allNamespaces && rk.namespaced,
		withKind: withKind, labelColumns: o.labelColumns, showLabels: o.showLabels}
}

// header is the kind's header, then kubectl's label columns: for -L the
// key's last segment upper-cased (app.kubernetes.io/name → NAME), then LABELS.
func (c tableColumns) header() []string {
	h := tableHeader(c.kind, c.wide, c.withNS)
	for _, k := range c.labelColumns {
		h = append(h, strings.ToUpper(k[strings.LastIndex(k, "/")+1:]))
	}
	if c.showLabels {
		h = append(h, "LABELS")
	}
	return h
}

// row is the kind's row, then the -L values (empty when the label is
// absent, as kubectl) and the labels as k=v,k=v (<none> when none).
func (c tableColumns) row(r resource, now time.Time) []string {
	row := tableRow(r, now, c.wide, c.withNS)
	if c.withKind {
		i := 0
		if c.withNS {
			i = 1
		}
		row[i] = displayKind(c.kind) + "/" + row[i]
	}
	labels := r.labels()
	for _, k := range c.labelColumns {
		row = append(row, labels[k])
	}
	if c.showLabels {
		row = append(row, orNone(manifest.FormatLabels(labels)))
	}
	return row
}

// hostIPsFor reads node addresses when pods are to be shown as objects.
func hostIPsFor(ctx context.Context, js jetstream.JetStream, kind string, n int) (map[string]string, error) {
	if kind != "pod" || n == 0 {
		return nil, nil
	}
	return nodeAddresses(ctx, js)
}

func k8sObjectOf(r resource, hostIPs map[string]string, now time.Time) any {
	switch {
	case r.pod != nil:
		return k8sPod(r.pod, hostIPs[r.pod.Node])
	case r.workload != nil:
		return k8sWorkload(r.workload)
	}
	return k8sNode(r.node, now)
}

// writeObject prints one object as JSON or YAML.
func writeObject(out io.Writer, format string, v any) error {
	var b []byte
	var err error
	if format == "yaml" {
		b, err = renderYAML(v)
	} else {
		b, err = renderJSON(v)
	}
	if err != nil {
		return err
	}
	_, err = out.Write(b)
	return err
}

// Table layout as kubectl's printers set up their tabwriter.
const (
	tableMinWidth = 6
	tablePadding  = 3
)

// newTableWriter aligns columns as kubectl does.
func newTableWriter(out io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(out, tableMinWidth, 4, tablePadding, ' ', 0)
}

// rememberingTable lays out rows that arrive one at a time (a watch) the way
// kubectl's tabwriter does with RememberWidths: a column never narrows, so
// later rows line up with the header. pad separates columns (0: kubectl's 3).
type rememberingTable struct {
	out    io.Writer
	widths []int
	pad    int
}

// grow widens columns to fit rows; the last column is never padded.
func (t *rememberingTable) grow(rows ...[]string) {
	for _, row := range rows {
		for i, c := range row {
			if i >= len(t.widths) {
				t.widths = append(t.widths, 0)
			}
			t.widths[i] = max(t.widths[i], utf8.RuneCountInString(c))
		}
	}
}

func (t *rememberingTable) write(row []string) {
	t.grow(row)
	var b strings.Builder
	for i, c := range row {
		b.WriteString(c)
		if i < len(row)-1 {
			pad := t.pad
			if pad == 0 {
				pad = tablePadding
			}
			w := max(t.widths[i]+pad, tableMinWidth)
			b.WriteString(strings.Repeat(" ", w-utf8.RuneCountInString(c)))
		}
	}
	fmt.Fprintln(t.out, b.String())
}

func writeRow(w io.Writer, cells []string) {
	fmt.Fprintln(w, strings.Join(cells, "\t"))
}

func tableHeader(kind string, wide, withNS bool) []string {
	var h []string
	switch kind {
	case "pod":
		h = []string{"NAME", "READY", "STATUS", "RESTARTS", "AGE"}
		if wide {
			h = append(h, "IP", "NODE")
		}
	case "node":
		h = []string{"NAME", "STATUS", "ROLES", "AGE", "VERSION"}
		if wide {
			h = append(h, "INTERNAL-IP", "RUNTIME", "CPU", "MEMORY", "PODS-CIDR")
		}
	default:
		h = workloadHeader(resourceKinds[kind].info, wide)
	}
	if withNS {
		h = append([]string{"NAMESPACE"}, h...)
	}
	return h
}

func tableRow(r resource, now time.Time, wide, withNS bool) []string {
	var row []string
	switch {
	case r.pod != nil:
		row = podRow(r.pod, now, wide)
	case r.workload != nil:
		row = workloadRow(r.workload, now, wide)
	default:
		row = nodeRow(r.node, now, wide)
	}
	if withNS {
		row = append([]string{r.namespace()}, row...)
	}
	return row
}

func podRow(p *projections.Pod, now time.Time, wide bool) []string {
	ready, total := podReadyCount(p)
	row := []string{p.Name, fmt.Sprintf("%d/%d", ready, total), podStatusColumn(p),
		strconv.Itoa(int(podRestarts(p))), age(now, p.CreatedAt)}
	if wide {
		ip := ""
		if p.Status != nil {
			ip = p.Status.PodIP
		}
		row = append(row, orNone(ip), orNone(p.Node))
	}
	return row
}

// workloadHeader is NAME, the kind's columns, AGE, then its wide columns,
// as kubectl lays out a kind's table.
func workloadHeader(k *manifest.KindInfo, wide bool) []string {
	h := []string{"NAME"}
	var more []string
	if k != nil {
		for _, c := range k.Columns {
			if !c.Wide {
				h = append(h, c.Header)
			} else if wide {
				more = append(more, c.Header)
			}
		}
	}
	return append(append(h, "AGE"), more...)
}

// workloadRow is one workload's row, cell by cell as workloadHeader.
func workloadRow(w *projections.Workload, now time.Time, wide bool) []string {
	row := []string{w.Name}
	var more []string
	if k := w.Object.Info(); k != nil {
		for _, c := range k.Columns {
			if !c.Wide {
				row = append(row, c.Cell(w.Object, w.Status, now))
			} else if wide {
				more = append(more, orNone(c.Cell(w.Object, w.Status, now)))
			}
		}
	}
	return append(append(row, age(now, w.CreatedAt)), more...)
}

func nodeRow(n *projections.Node, now time.Time, wide bool) []string {
	status := "NotReady"
	if nodeIsReady(n, now) {
		status = "Ready"
	}
	if n.Unschedulable {
		status += ",SchedulingDisabled" // as kubectl shows a cordoned node
	}
	row := []string{n.Info.Name, status, "<none>", age(now, n.RegisteredAt), orNone(n.Info.Version)}
	if wide {
		row = append(row, orNone(n.Info.Address), orNone(n.Info.Runtime),
			cpuQuantity(n.Info.Capacity[events.ResourceCPU]), memoryQuantity(n.Info.Capacity[events.ResourceMemory]),
			orNone(n.Info.PodCIDR))
	}
	return row
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// podReadyCount is kubectl's READY: ready containers out of the spec's.
// A pod being deleted has none ready, whatever its node last reported: its
// containers are being stopped (kubelet marks them not ready at once).
func podReadyCount(p *projections.Pod) (ready, total int) {
	total = len(p.Spec.Containers)
	if p.Status != nil && !p.Deleting && p.NodeNotReadySince == nil { // on a node not known Ready: unknown, so not ready
		for _, c := range p.Status.Containers {
			if c.Ready && c.State == events.ContainerRunning {
				ready++
			}
		}
	}
	return ready, total
}

func podRestarts(p *projections.Pod) int32 {
	n, initializing := initRestarts(p) // get_init.go
	if p.Status != nil && !initializing {
		for _, c := range p.Status.Containers {
			n += c.RestartCount
		}
	}
	return n
}

// podStatusColumn is kubectl's STATUS: the phase, overridden by the pod's
// reason and then by its containers' reasons (the first container's wins),
// Terminating while being deleted. An unbound pod is Pending, unschedulable
// or not.
func podStatusColumn(p *projections.Pod) string {
	if p.Deleting {
		return "Terminating"
	}
	if p.Node == "" || p.Status == nil {
		return events.PhasePending
	}
	if p.NodeNotReadySince != nil && !p.Terminal() {
		return events.PhaseUnknown // its node is unreachable
	}
	reason := p.Phase()
	if p.Status.Reason != "" {
		reason = p.Status.Reason
	}
	if r, initializing := initStatusColumn(p); initializing { // get_init.go
		return r
	}
	hasRunning := false
	cs := p.Status.Containers
	for i := len(cs) - 1; i >= 0; i-- {
		c := cs[i]
		switch {
		case c.State == events.ContainerWaiting && c.Reason != "":
			reason = c.Reason
		case c.State == events.ContainerTerminated && c.Reason != "":
			reason = c.Reason
		case c.State == events.ContainerTerminated:
			code := int32(0)
			if c.ExitCode != nil {
				code = *c.ExitCode
			}
			reason = fmt.Sprintf("ExitCode:%d", code)
		case c.State == events.ContainerRunning && c.Ready:
			hasRunning = true
		}
	}
	if reason == "Completed" && hasRunning {
		if p.Ready() {
			return events.PhaseRunning
		}
		return "NotReady"
	}
	return reason
}

// age is kubectl's AGE column (HumanDuration): 45s, 3m12s, 15m, 5h10m, 3d4h, 30d, 2y.
func age(now, t time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return humanDuration(now.Sub(t))
}

func humanDuration(d time.Duration) string { return manifest.HumanDuration(d) }

// ---- watching

// watchResources prints the initial list, then a row (or an object) per
// change until ctx ends. A deleted object, or one that no longer matches -l,
// is printed once more, as kubectl prints the final state of a deleted
// object (a pod as Terminating).
func watchResources(ctx context.Context, js jetstream.JetStream, o getOptions, rk resourceKind, rs []resource,
	w jetstream.KeyWatcher, out, errOut io.Writer) error {
	p := &watchPrinter{o: o, cols: o.columns(rk, false), out: out, table: &rememberingTable{out: out}, printed: map[string]string{}}
	if p.objectOutput() || o.sorter != nil {
		var err error
		if p.hostIPs, err = hostIPsFor(ctx, js, rk.kind, 1); err != nil {
			return err
		}
	}
	if o.sorter != nil && len(rs) > 0 {
		objs := make([]any, len(rs))
		for i, r := range rs {
			objs[i] = k8sObjectOf(r, p.hostIPs, time.Now())
		}
		if err := sortByJSONPath(o.sorter, o.sortBy, rs, objs); err != nil {
			return err
		}
	}
	if len(rs) == 0 && !p.objectOutput() {
		fmt.Fprintln(errOut, noResources(o, []*kindList{{rk: rk}}))
	}
	p.table.grow(p.cols.header())
	for _, r := range rs {
		p.table.grow(p.cols.row(r, time.Now()))
	}
	last := map[string]resource{}
	for _, r := range rs {
		last[r.namespace()+"/"+r.name()] = r
		if err := p.print(r, true); err != nil {
			return err
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("watch %s: watcher closed", rk.bucket)
			}
			if e == nil {
				continue
			}
			if err := p.change(e, rk, last, errOut); err != nil {
				return err
			}
		}
	}
}

// watchPrinter prints watched objects and remembers what it printed last
// for each, so a write that changes nothing visible prints nothing.
type watchPrinter struct {
	o       getOptions
	cols    tableColumns
	out     io.Writer
	table   *rememberingTable
	header  bool
	printed map[string]string
	hostIPs map[string]string // node addresses as they were when the watch began
}

// objectOutput is true when objects are printed whole (json, yaml, jsonpath).
func (p *watchPrinter) objectOutput() bool {
	switch p.o.output {
	case "json", "yaml", "jsonpath":
		return true
	}
	return false
}

func (p *watchPrinter) change(e jetstream.KeyValueEntry, rk resourceKind, last map[string]resource, errOut io.Writer) error {
	if e.Operation() != jetstream.KeyValuePut {
		for k, r := range last {
			if rk.key(r.namespace(), r.name()) == e.Key() {
				delete(last, k)
				return p.print(gone(r), false)
			}
		}
		return nil
	}
	r, ok, err := decodeResource(rk.kind, e.Value())
	if err != nil {
		fmt.Fprintf(errOut, "warning: %s: %v\n", e.Key(), err)
		return nil
	}
	k := r.namespace() + "/" + r.name()
	if !ok {
		if old, had := last[k]; had {
			delete(last, k)
			return p.print(old, false)
		}
		return nil
	}
	if p.o.hasSelector && !p.o.selector.Matches(r.labels()) {
		// It left the selection (or was never in it): its new state is
		// printed once, as a watch that selects by labels shows it leaving.
		if _, had := last[k]; had {
			delete(last, k)
			return p.print(r, false)
		}
		return nil
	}
	last[k] = r
	return p.print(r, true)
}

// gone is a pod's last row once its record is deleted: Terminating with no
// container ready, even when the projector applied the deletion and the
// node's removal in one write and no Terminating row came first.
func gone(r resource) resource {
	if r.pod != nil && !r.pod.Deleting {
		p := *r.pod
		p.Deleting = true
		r.pod = &p
	}
	return r
}

// print writes one object; with dedup false it is written even when it looks
// as it did last time (a deletion).
func (p *watchPrinter) print(r resource, dedup bool) error {
	k := r.namespace() + "/" + r.name()
	if p.o.output == "name" {
		line := displayKind(p.cols.kind) + "/" + r.name()
		if !dedup || p.printed[k] == "" {
			fmt.Fprintln(p.out, line)
		}
		p.printed[k] = line
		return nil
	}
	if p.objectOutput() {
		obj := k8sObjectOf(r, p.hostIPs, time.Now())
		b, err := renderJSON(obj)
		if err != nil {
			return err
		}
		if dedup && p.printed[k] == string(b) {
			return nil
		}
		p.printed[k] = string(b)
		switch p.o.output {
		case "jsonpath":
			return printJSONPath(p.out, p.o.template, obj)
		case "yaml":
			fmt.Fprintln(p.out, "---")
		}
		return writeObject(p.out, p.o.output, obj)
	}
	row := p.cols.row(r, time.Now())
	joined := strings.Join(row, "\t")
	if dedup && p.printed[k] == joined {
		return nil
	}
	p.printed[k] = joined
	if !p.header {
		p.header = true
		p.table.write(p.cols.header())
	}
	p.table.write(row)
	return nil
}
