package client

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
)

func newDescribeCmd(g *Globals) *cobra.Command {
	var ns string
	c := &cobra.Command{
		Use:   "describe KIND NAME",
		Short: "Show one object in detail, with its events from the log",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, name, err := kindAndName(args)
			if err != nil {
				return err
			}
			if name == "" {
				return fmt.Errorf("describe %s: a name is required", displayKind(kind))
			}
			if ns == "" {
				ns = manifest.DefaultNamespace
			}
			return g.WithCluster(cmd, "describe", func(ctx context.Context, conn *bus.Conn) error {
				return runDescribe(ctx, conn.JS, kind, ns, name, g.Out, g.ErrOut)
			})
		},
	}
	c.Flags().StringVarP(&ns, "namespace", "n", manifest.DefaultNamespace, "namespace")
	return c
}

func runDescribe(ctx context.Context, js jetstream.JetStream, kind, ns, name string, out, errOut io.Writer) error {
	if err := awaitReadModel(ctx, js, errOut); err != nil {
		return err
	}
	rk := resourceKinds[kind]
	kv, err := js.KeyValue(ctx, rk.bucket)
	if err != nil {
		return fmt.Errorf("read model %s: %w", rk.bucket, err)
	}
	r, err := getResource(ctx, kv, rk, ns, name)
	if err != nil {
		return err
	}
	now := time.Now()
	switch {
	case r.pod != nil:
		return describePodFromLog(ctx, js, r.pod, out, errOut)
	case r.workload != nil:
		w := r.workload
		log, err := workloadLog(ctx, js, errOut, w)
		if err != nil {
			return err
		}
		owned, err := ownedWorkloads(ctx, kv, w)
		if err != nil {
			return err
		}
		switch w.Kind {
		case "service":
			return describeService(out, w, owned, log)
		case "endpointslice":
			return describeEndpointSlice(out, w, log)
		}
		return describeWorkload(out, w, owned, log)
	}
	return describeNodeFromLog(ctx, js, r.node, now, out, errOut)
}

func describePodFromLog(ctx context.Context, js jetstream.JetStream, p *projections.Pod, out, errOut io.Writer) error {
	hostIP := ""
	if p.Node != "" {
		if kv, err := js.KeyValue(ctx, bus.BucketNodes); err == nil {
			if n, err := getResource(ctx, kv, resourceKinds["node"], "", p.Node); err == nil {
				hostIP = n.node.Info.Address
			}
		}
	}
	log, err := podLog(ctx, js, p, errOut)
	if err != nil {
		return err
	}
	return describePod(out, p, hostIP, log)
}

func describeNodeFromLog(ctx context.Context, js jetstream.JetStream, n *projections.Node, now time.Time, out, errOut io.Writer) error {
	kv, err := js.KeyValue(ctx, bus.BucketPods)
	if err != nil {
		return fmt.Errorf("read model %s: %w", bus.BucketPods, err)
	}
	all, _, err := snapshot(ctx, kv, resourceKinds["pod"], ">", false)
	if err != nil {
		return err
	}
	var pods []*projections.Pod
	for _, r := range all {
		if r.pod.Node == n.Info.Name && !r.pod.Terminal() {
			pods = append(pods, r.pod)
		}
	}
	log, err := readObjectLog(ctx, js, errOut, events.StreamObservations, events.ObsNodeSubject(n.Info.Name))
	if err != nil {
		return err
	}
	return describeNode(out, n, pods, log, now)
}

// ---- the object's events

// readObjectLog reads what one stream holds on filters now, oldest first.
func readObjectLog(ctx context.Context, js jetstream.JetStream, errOut io.Writer, stream string, filters ...string) ([]logItem, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t, err := openTail(ctx, js, stream, filters, time.Time{}, false)
	if err != nil {
		return nil, err
	}
	defer func() { cancel(); t.close() }() // its consumer deleted before the command ends
	return collectInitial(ctx, []*logTail{t}, errOut), nil
}

// workloadLog reads what the log says of a workload: admission's verdicts on
// it, its controllers' decisions on it (its WorkloadSubject: made, status,
// deleted), the objects its controller made and deleted for it (a
// Deployment's ReplicaSets, a CronJob's Jobs) and the pods planned and
// deleted for it (kubectl's "Created pod: …"), oldest first.
func workloadLog(ctx context.Context, js jetstream.JetStream, errOut io.Writer, w *projections.Workload) ([]logItem, error) {
	filters := []string{events.AdmissionSubject(w.Namespace, w.Kind, w.Name),
		"gantry.decision.workload." + w.Namespace + ".>"}
	if w.Object.PodTemplate() != nil {
		filters = append(filters, events.SubjectPodDecPrefix+w.Namespace+".>")
	}
	if w.Kind == "service" {
		filters = append(filters, events.SubjectServiceAlloc) // every Service's: kept by uid below
	}
	items, err := readObjectLog(ctx, js, errOut, events.StreamDecisions, filters...)
	if err != nil {
		return nil, err
	}
	return filterWorkloadLog(items, w), nil
}

// filterWorkloadLog keeps, of the decisions on a namespace's workloads and
// pods, those about w: its verdicts (every one on its admission subject),
// what its controllers decided of it, what was made for it by its uid and
// then deleted, and the pods planned for it and then deleted.
func filterWorkloadLog(items []logItem, w *projections.Workload) []logItem {
	children := map[string]bool{} // uids of what was made for w
	self := events.WorkloadSubject(w.Namespace, w.Kind, w.Name)
	var out []logItem
	for _, it := range items {
		keep := false
		switch e := it.event.(type) {
		case nil:
			// Unreadable: shown when on w's own subjects.
			keep = it.subject == self || it.subject == events.AdmissionSubject(w.Namespace, w.Kind, w.Name)
		case *events.AdmissionAccepted, *events.AdmissionRejected:
			keep = true // only w's admission subject carries them
		case *events.WorkloadDecided:
			if e.Kind == w.Kind && e.Name == w.Name && e.Namespace == w.Namespace {
				keep = e.UID == w.UID
			} else if e.Owner != nil && e.Owner.UID == w.UID {
				children[e.UID], keep = true, true
			}
		case *events.WorkloadDeleted:
			keep = e.UID == w.UID || children[e.UID]
		case *events.WorkloadStatusDecided:
			keep = e.UID == w.UID
		case *events.PodPlanned:
			if e.Owner != nil && e.Owner.UID == w.UID {
				children[e.UID], keep = true, true
			}
		case *events.PodDeleted:
			keep = children[e.UID]
		case *events.ServiceAllocated:
			keep = e.UID == w.UID
		}
		if keep {
			out = append(out, it)
		}
	}
	return out
}

// ownedWorkloads reads the objects w's controller made that still exist (a
// Deployment's ReplicaSets, a CronJob's Jobs, a Service's EndpointSlices),
// oldest first.
func ownedWorkloads(ctx context.Context, kv jetstream.KeyValue, w *projections.Workload) ([]*projections.Workload, error) {
	var child string
	switch w.Kind {
	case "deployment":
		child = "replicaset"
	case "cronjob":
		child = "job"
	case "service":
		child = "endpointslice" // decided by the endpoints service, owned by the Service
	default:
		return nil, nil
	}
	rk := resourceKinds[child]
	rs, _, err := snapshot(ctx, kv, rk, rk.pattern(w.Namespace), false)
	if err != nil {
		return nil, err
	}
	var out []*projections.Workload
	for _, r := range rs {
		if o := r.workload.Owner; o != nil && o.UID == w.UID {
			out = append(out, r.workload)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// podLog reads a pod's decisions (planned, bound, unschedulable, deleted),
// the node's reports of it and its owner's admission verdicts, merged by
// time, keeping only those about this incarnation of the pod.
func podLog(ctx context.Context, js jetstream.JetStream, p *projections.Pod, errOut io.Writer) ([]logItem, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	dec := []string{events.PodDecisionSubject(p.Namespace, p.Name)} // the node copies would show twice
	if p.Owner != nil {
		dec = append(dec, events.AdmissionSubject(p.Namespace, p.Owner.Kind, p.Owner.Name))
	}
	decisions, err := openTail(ctx, js, events.StreamDecisions, dec, time.Time{}, false)
	if err != nil {
		return nil, err
	}
	defer func() { cancel(); decisions.close() }() // its consumer deleted before the command ends
	obsFilter := fmt.Sprintf("gantry.obs.*.pod.%s.%s", p.Namespace, p.Name)
	observations, err := openTail(ctx, js, events.StreamObservations, []string{obsFilter}, time.Time{}, false)
	if err != nil {
		return nil, err
	}
	defer func() { cancel(); observations.close() }()
	return filterPodLog(collectInitial(ctx, []*logTail{decisions, observations}, errOut), p), nil
}

// filterPodLog keeps the events of this pod's uid, and the verdicts on its
// owner from the one that created the owner's incarnation on.
func filterPodLog(items []logItem, p *projections.Pod) []logItem {
	var out []logItem
	ownerSeen := false
	for _, it := range items {
		switch e := it.event.(type) {
		case nil:
			out = append(out, it) // unreadable: shown as such
		case *events.AdmissionAccepted:
			if p.Owner != nil && e.UID == p.Owner.UID {
				ownerSeen = true
				out = append(out, it)
			}
		case *events.AdmissionRejected:
			if ownerSeen {
				out = append(out, it)
			}
		default:
			if uid, ok := podEventUID(e); !ok || uid == p.UID {
				out = append(out, it)
			}
		}
	}
	return out
}

// podEventUID is the pod uid a pod event is about.
func podEventUID(ev events.Event) (string, bool) {
	switch e := ev.(type) {
	case *events.PodPlanned:
		return e.UID, true
	case *events.PodBound:
		return e.Pod.UID, true
	case *events.PodUnschedulable:
		return e.UID, true
	case *events.PodDeleted:
		return e.UID, true
	case *events.PodStatusObserved:
		return e.UID, true
	case *events.PodRemoved:
		return e.UID, true
	}
	return "", false
}

// ---- text

// describer writes kubectl describe's layout: two spaces per level, the
// values of consecutive "Key:\tvalue" lines aligned.
type describer struct {
	tw *tabwriter.Writer
}

func newDescriber(out io.Writer) *describer {
	return &describer{tw: tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)}
}

func (d *describer) line(level int, format string, args ...any) {
	fmt.Fprintf(d.tw, strings.Repeat("  ", level)+format+"\n", args...)
}

// labels writes a map one pair per line, <none> when empty.
func (d *describer) labels(level int, title string, m map[string]string) {
	if len(m) == 0 {
		d.line(level, "%s:\t<none>", title)
		return
	}
	// Label values hold no commas.
	for i, kv := range strings.Split(manifest.FormatLabels(m), ",") {
		if i == 0 {
			d.line(level, "%s:\t%s", title, kv)
			continue
		}
		d.line(level, "\t%s", kv)
	}
}

func (d *describer) flush() error { return d.tw.Flush() }

// describeTime is kubectl describe's timestamp.
func describeTime(t time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return t.Local().Format(time.RFC1123Z)
}

// describeEvents writes Gantry's Events section: the log about the object.
func (d *describer) events(log []logItem) {
	if len(log) == 0 {
		d.line(0, "Events:\t<none>")
		return
	}
	d.line(0, "Events:")
	d.line(1, "TIME\tTYPE\tSOURCE\tMESSAGE")
	for _, it := range log {
		d.line(1, "%s", strings.Join(eventRow(it), "\t"))
	}
}

// eventRow is TIME, TYPE, SOURCE, MESSAGE for one event of an object.
func eventRow(it logItem) []string {
	at := "<unknown>"
	if !it.at.IsZero() {
		at = it.at.Local().Format(time.RFC3339)
	}
	if it.err != nil {
		typ := "?"
		if it.env.Type != "" {
			typ = shortType(it.env.Type)
		}
		return []string{at, typ, it.env.Source, fmt.Sprintf("unreadable event %s: %v", it.where(), it.err)}
	}
	return []string{at, shortType(it.env.Type), it.env.Source, summarize(it.event)}
}

func describePod(out io.Writer, p *projections.Pod, hostIP string, log []logItem) error {
	d := newDescriber(out)
	d.line(0, "Name:\t%s", p.Name)
	d.line(0, "Namespace:\t%s", p.Namespace)
	node := "<none>"
	if p.Node != "" {
		node = p.Node
		if hostIP != "" {
			node += "/" + hostIP
		}
	}
	d.line(0, "Node:\t%s", node)
	if p.BoundAt != nil {
		d.line(0, "Start Time:\t%s", describeTime(*p.BoundAt))
	}
	d.labels(0, "Labels", p.Labels)
	d.labels(0, "Annotations", p.Annotations)
	status := p.Phase()
	unknown := p.NodeNotReadySince != nil && !p.Terminal()
	switch {
	case p.Deleting:
		status = "Terminating"
	case unknown:
		status = events.PhaseUnknown
	}
	d.line(0, "Status:\t%s", status)
	if p.Deleting && p.DeleteReason != "" {
		d.line(0, "Deletion Reason:\t%s", p.DeleteReason)
	}
	if unknown {
		// Why a pod shows Unknown, or stays Terminating: the control plane
		// finishes with it once the node is known lost.
		d.line(0, "Node Status:\tNotReady since %s: the pod is evicted (or its deletion finished) by the control plane "+
			"when its toleration of %s runs out, once the node's agent has stopped its pods",
			describeTime(*p.NodeNotReadySince), manifest.TaintNodeUnreachable)
	}
	if s := p.Status; s != nil && s.Reason != "" {
		d.line(0, "Reason:\t%s", s.Reason)
	}
	if s := p.Status; s != nil && s.Message != "" {
		d.line(0, "Message:\t%s", s.Message)
	}
	ip := ""
	if p.Status != nil {
		ip = p.Status.PodIP
	}
	d.line(0, "IP:\t%s", ip)
	if ref, ok := podController(p); ok {
		d.line(0, "Controlled By:\t%s/%s", ref.Kind, ref.Name)
	}
	initStatuses := []events.ContainerStatus{}
	if p.Status != nil {
		initStatuses = append(initStatuses, p.Status.InitContainers...)
	}
	describeInitContainers(d, 0, p.Spec, initStatuses) // describe_init.go
	d.line(0, "Containers:")
	statuses := map[string]events.ContainerStatus{}
	if p.Status != nil {
		for _, c := range p.Status.Containers {
			statuses[c.Name] = c
		}
	}
	for _, c := range p.Spec.Containers {
		st, ok := statuses[c.Name]
		describeContainer(d, 1, c, &st, ok)
	}
	d.line(0, "Conditions:")
	conds := k8sPodConditions(p)
	if len(conds) == 0 {
		d.line(1, "<none>")
	} else {
		d.line(1, "Type\tStatus")
		for _, c := range conds {
			d.line(1, "%s\t%s", c.Type, c.Status)
		}
	}
	d.events(log)
	return d.flush()
}

// describeContainer writes one container of a pod (with its status when
// known) or of a pod template (st nil).
func describeContainer(d *describer, level int, c manifest.Container, st *events.ContainerStatus, known bool) {
	d.line(level, "%s:", c.Name)
	in := level + 1
	if known && st.ContainerID != "" {
		d.line(in, "Container ID:\t%s", st.ContainerID)
	}
	d.line(in, "Image:\t%s", c.Image)
	d.line(in, "Port:\t%s", containerPorts(c.Ports))
	describeList(d, in, "Command", c.Command)
	describeList(d, in, "Args", c.Args)
	if st != nil {
		if known {
			describeState(d, in, *st)
			describeLastState(d, in, st.LastState)
		}
		d.line(in, "Ready:\t%s", boolTitle(known && st.Ready))
		restarts := int32(0)
		if known {
			restarts = st.RestartCount
		}
		d.line(in, "Restart Count:\t%d", restarts)
	}
	describeResources(d, in, "Limits", c.Resources.Limits)
	describeResources(d, in, "Requests", c.Resources.Requests)
	describeProbes(d, in, c)
	if len(c.Env) == 0 {
		d.line(in, "Environment:\t<none>")
		return
	}
	d.line(in, "Environment:")
	for _, e := range c.Env {
		d.line(in+1, "%s:\t%s", e.Name, e.Value)
	}
}

func describeState(d *describer, level int, st events.ContainerStatus) {
	switch st.State {
	case events.ContainerRunning:
		d.line(level, "State:\tRunning")
		if st.StartedAt != nil {
			d.line(level+1, "Started:\t%s", describeTime(*st.StartedAt))
		}
	case events.ContainerTerminated:
		d.line(level, "State:\tTerminated")
		if st.Reason != "" {
			d.line(level+1, "Reason:\t%s", st.Reason)
		}
		if st.Message != "" {
			d.line(level+1, "Message:\t%s", st.Message)
		}
		if st.ExitCode != nil {
			d.line(level+1, "Exit Code:\t%d", *st.ExitCode)
		}
		if st.StartedAt != nil {
			d.line(level+1, "Started:\t%s", describeTime(*st.StartedAt))
		}
		if st.FinishedAt != nil {
			d.line(level+1, "Finished:\t%s", describeTime(*st.FinishedAt))
		}
	default:
		d.line(level, "State:\tWaiting")
		if st.Reason != "" {
			d.line(level+1, "Reason:\t%s", st.Reason)
		}
		if st.Message != "" {
			d.line(level+1, "Message:\t%s", st.Message)
		}
	}
}

// describeLastState is how the container's previous run ended, as kubectl's
// Last State.
func describeLastState(d *describer, level int, t *events.TerminatedState) {
	if t == nil {
		return
	}
	d.line(level, "Last State:\tTerminated")
	if t.Reason != "" {
		d.line(level+1, "Reason:\t%s", t.Reason)
	}
	if t.Message != "" {
		d.line(level+1, "Message:\t%s", t.Message)
	}
	d.line(level+1, "Exit Code:\t%d", t.ExitCode)
	if !t.StartedAt.IsZero() {
		d.line(level+1, "Started:\t%s", describeTime(t.StartedAt))
	}
	if !t.FinishedAt.IsZero() {
		d.line(level+1, "Finished:\t%s", describeTime(t.FinishedAt))
	}
}

func describeList(d *describer, level int, title string, items []string) {
	if len(items) == 0 {
		return
	}
	d.line(level, "%s:", title)
	for _, s := range items {
		d.line(level+1, "%s", s)
	}
}

func describeResources(d *describer, level int, title string, rl manifest.ResourceList) {
	if len(rl) == 0 {
		return
	}
	d.line(level, "%s:", title)
	names := make([]string, 0, len(rl))
	for k := range rl {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		d.line(level+1, "%s:\t%s", k, rl[k].String())
	}
}

// containerPorts is kubectl's "80/TCP, 443/TCP", <none> without ports.
func containerPorts(ps []manifest.ContainerPort) string {
	if len(ps) == 0 {
		return "<none>"
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		proto := p.Protocol
		if proto == "" {
			proto = "TCP"
		}
		out[i] = fmt.Sprintf("%d/%s", p.ContainerPort, proto)
	}
	return strings.Join(out, ", ")
}

func boolTitle(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// describeWorkload shows an object of any applied kind as kubectl
// describes it: its metadata, the lines of its kind (KindInfo.Describe),
// its pod template, and its events from the log.
func describeWorkload(out io.Writer, w *projections.Workload, owned []*projections.Workload, log []logItem) error {
	d := newDescriber(out)
	d.line(0, "Name:\t%s", w.Name)
	if w.Namespace != events.ClusterScope && w.Namespace != "" {
		d.line(0, "Namespace:\t%s", w.Namespace)
	}
	d.line(0, "CreationTimestamp:\t%s", describeTime(w.CreatedAt))
	d.labels(0, "Labels", w.Object.Metadata.Labels)
	d.labels(0, "Annotations", workloadAnnotations(w))
	if w.Owner != nil {
		d.line(0, "Controlled By:\t%s/%s", kindTitle(w.Owner.Kind), w.Owner.Name)
	}
	d.line(0, "Generation:\t%d", w.Generation)
	o := w.Object
	o.Defaults()
	if k := o.Info(); k != nil && k.Describe != nil {
		for _, f := range k.Describe(o, w.Status) {
			d.line(0, "%s:\t%s", f.Name, orNone(f.Value))
		}
	}
	t := o.PodTemplate()
	if cj := o.CronJob(); cj != nil {
		t = &cj.JobTemplate.Spec.Template // kubectl shows the Jobs' pod template
	}
	if t != nil {
		describeTemplate(d, t)
	}
	if len(w.Status.Conditions) > 0 {
		d.line(0, "Conditions:")
		d.line(1, "Type\tStatus\tReason")
		d.line(1, "----\t------\t------")
		for _, c := range w.Status.Conditions {
			d.line(1, "%s\t%s\t%s", c.Type, c.Status, orNone(c.Reason))
		}
	}
	if w.Kind == "deployment" {
		oldRS, newRS := splitReplicaSets(w, owned)
		var withPods []*projections.Workload // kubectl lists the old ones not scaled to 0
		for _, rs := range oldRS {
			if replicaSetWant(rs) > 0 || rs.Status.Replicas > 0 {
				withPods = append(withPods, rs)
			}
		}
		d.line(0, "OldReplicaSets:\t%s", orNone(strings.Join(replicaSetSummaries(withPods), ", ")))
		d.line(0, "NewReplicaSet:\t%s", orNone(strings.Join(replicaSetSummaries(newRS), ", ")))
	}
	d.events(log)
	return d.flush()
}

// describeTemplate is describe's "Pod Template:" section: its labels,
// annotations and containers (image, ports, env, …), as kubectl prints a
// template (describe, rollout history --revision).
func describeTemplate(d *describer, t *manifest.PodTemplateSpec) {
	d.line(0, "Pod Template:")
	d.labels(1, "Labels", t.Metadata.Labels)
	if len(t.Metadata.Annotations) > 0 {
		d.labels(1, "Annotations", t.Metadata.Annotations)
	}
	describeInitContainers(d, 1, t.Spec, nil)
	d.line(1, "Containers:")
	for _, c := range t.Spec.Containers {
		describeContainer(d, 2, c, nil, false)
	}
}

// splitReplicaSets sorts a Deployment's ReplicaSets as kubectl describe
// does: the new one is named by its template's hash
// (<deployment>-<TemplateHash>), every other one is old. The hash is of the
// template as stored and as defaulted, whichever the controller used.
func splitReplicaSets(w *projections.Workload, owned []*projections.Workload) (oldRS, newRS []*projections.Workload) {
	current := map[string]bool{}
	if t := w.Object.PodTemplate(); t != nil {
		current[manifest.ReplicaSetName(w.Name, manifest.TemplateHash(*t))] = true
	}
	o := w.Object
	o.Defaults()
	if t := o.PodTemplate(); t != nil {
		current[manifest.ReplicaSetName(w.Name, manifest.TemplateHash(*t))] = true
	}
	for _, rs := range owned {
		if current[rs.Name] {
			newRS = append(newRS, rs)
		} else {
			oldRS = append(oldRS, rs)
		}
	}
	return oldRS, newRS
}

// replicaSetSummaries are kubectl's "hello-7c9f8d6b5a (3/3 replicas created)".
func replicaSetSummaries(rss []*projections.Workload) []string {
	out := make([]string, len(rss))
	for i, rs := range rss {
		want := int32(1)
		if spec := rs.Object.ReplicaSet(); spec != nil {
			want = spec.ReplicaCount()
		}
		out[i] = fmt.Sprintf("%s (%d/%d replicas created)", rs.Name, rs.Status.Replicas, want)
	}
	return out
}

func describeNode(out io.Writer, n *projections.Node, pods []*projections.Pod, log []logItem, now time.Time) error {
	info := n.Info
	d := newDescriber(out)
	d.line(0, "Name:\t%s", info.Name)
	d.line(0, "Roles:\t<none>")
	d.labels(0, "Labels", info.Labels)
	d.line(0, "CreationTimestamp:\t%s", describeTime(n.RegisteredAt))
	taints := "<none>"
	if ts := n.Taints(); len(ts) > 0 {
		var b strings.Builder
		for i, t := range ts {
			if i > 0 {
				b.WriteString("\n\t")
			}
			b.WriteString(t.Key)
			if t.Value != "" {
				b.WriteString("=" + t.Value)
			}
			b.WriteString(":" + t.Effect)
		}
		taints = b.String()
	}
	d.line(0, "Taints:\t%s", taints)
	d.line(0, "Unschedulable:\t%t", n.Unschedulable)
	d.line(0, "Conditions:")
	d.line(1, "Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage")
	d.line(1, "----\t------\t-----------------\t------------------\t------\t-------")
	c := nodeReadyCondition(n, now)
	var since time.Time // no decision yet: unknown
	if n.State != nil {
		since = n.State.Since
	}
	d.line(1, "%s\t%s\t%s\t%s\t%s\t%s", c.Type, c.Status, describeTime(n.LastHeartbeat), describeTime(since), c.Reason, c.Message)
	d.line(0, "Addresses:")
	if info.Address != "" {
		d.line(1, "InternalIP:\t%s", info.Address)
	}
	d.line(1, "Hostname:\t%s", info.Name)
	describeCapacity(d, "Capacity", info.Capacity)
	describeCapacity(d, "Allocatable", info.Allocatable)
	d.line(0, "System Info:")
	d.line(1, "Container Runtime Version:\t%s", info.Runtime)
	d.line(1, "Kubelet Version:\t%s", info.Version)
	d.line(0, "PodCIDR:\t%s", info.PodCIDR)
	describeNodePods(d, info.Allocatable, pods, now)
	d.events(log)
	return d.flush()
}

func describeCapacity(d *describer, title string, m map[string]int64) {
	d.line(0, "%s:", title)
	for _, r := range sortedResourceNames(m) {
		d.line(1, "%s:\t%s", r, resourceQuantity(r, m[r]))
	}
}

// describeNodePods writes the Non-terminated Pods table and the totals
// against the node's allocatable resources.
func describeNodePods(d *describer, alloc map[string]int64, pods []*projections.Pod, now time.Time) {
	sort.Slice(pods, func(i, j int) bool {
		if pods[i].Namespace != pods[j].Namespace {
			return pods[i].Namespace < pods[j].Namespace
		}
		return pods[i].Name < pods[j].Name
	})
	d.line(0, "Non-terminated Pods:\t(%d in total)", len(pods))
	d.line(1, "Namespace\tName\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge")
	d.line(1, "---------\t----\t------------\t----------\t---------------\t-------------\t---")
	cpu, mem := alloc[events.ResourceCPU], alloc[events.ResourceMemory]
	var reqCPU, reqMem, limCPU, limMem int64
	for _, p := range pods {
		rc, rm := p.Requests()
		lc, lm := p.Spec.Limits()
		reqCPU, reqMem, limCPU, limMem = reqCPU+rc, reqMem+rm, limCPU+lc, limMem+lm
		d.line(1, "%s\t%s\t%s\t%s\t%s\t%s\t%s", p.Namespace, p.Name,
			share(cpuQuantity(rc), rc, cpu), share(cpuQuantity(lc), lc, cpu),
			share(memoryQuantity(rm), rm, mem), share(memoryQuantity(lm), lm, mem), age(now, p.CreatedAt))
	}
	d.line(0, "Allocated resources:")
	d.line(1, "(Total limits may be over 100 percent, i.e., overcommitted.)")
	d.line(1, "Resource\tRequests\tLimits")
	d.line(1, "--------\t--------\t------")
	d.line(1, "cpu\t%s\t%s", share(cpuQuantity(reqCPU), reqCPU, cpu), share(cpuQuantity(limCPU), limCPU, cpu))
	d.line(1, "memory\t%s\t%s", share(memoryQuantity(reqMem), reqMem, mem), share(memoryQuantity(limMem), limMem, mem))
}

// share is kubectl's "100m (1%)".
func share(q string, v, of int64) string {
	pct := int64(0)
	if of > 0 {
		pct = int64(float64(v) / float64(of) * 100)
	}
	return fmt.Sprintf("%s (%d%%)", q, pct)
}
