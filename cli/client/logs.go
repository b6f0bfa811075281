package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/api"
	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
)

// Time limits of the logs protocol on the client's side.
const (
	logsAnswerWait = 5 * time.Second  // for the node's first message
	logsIdleWait   = 30 * time.Second // between messages, when not following
)

// defaultMaxLogRequests is how many logs -f -l follows at once unless told,
// as kubectl's --max-log-requests.
const defaultMaxLogRequests = 5

// logsOptions are the flags of gantry logs.
type logsOptions struct {
	kind          string // of the object named: pod (the default), deployment, job…
	namespace     string
	container     string
	follow        bool
	previous      bool
	selector      string
	prefix        bool
	allContainers bool
	maxRequests   int
}

func newLogsCmd(g *Globals) *cobra.Command {
	o := logsOptions{maxRequests: defaultMaxLogRequests}
	c := &cobra.Command{
		Use:   "logs (POD | TYPE/NAME | -l SELECTOR)",
		Short: "Print a container's log, fetched from the pod's node; of a deploy/rs/ds/job, of its first pod; with -l, the logs of every pod matching",
		Example: "  gantry logs hello-7c9f8d6b5a-x2k4p\n  gantry logs job/pi\n  gantry logs deploy/hello -c web\n" +
			"  gantry logs -l app=hello --prefix",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 1 {
				var err error
				if o.kind, name, err = logsTarget(args[0]); err != nil {
					return err
				}
			}
			if err := o.check(name); err != nil {
				return err
			}
			return g.WithCluster(cmd, "logs", func(ctx context.Context, conn *bus.Conn) error {
				return runLogs(ctx, conn, o, name, g.Out, g.ErrOut)
			})
		},
	}
	c.Flags().StringVarP(&o.namespace, "namespace", "n", manifest.DefaultNamespace, "namespace")
	c.Flags().StringVarP(&o.container, "container", "c", "", "container (default: the pod's first)")
	c.Flags().BoolVarP(&o.follow, "follow", "f", false, "stream the log until interrupted")
	c.Flags().BoolVarP(&o.previous, "previous", "p", false, "the log of the container's previous instance, before its last restart")
	c.Flags().StringVarP(&o.selector, "selector", "l", "", "the logs of every pod whose labels match (a=b, a!=b, a in (x,y), a, !a), one pod after the other")
	c.Flags().BoolVar(&o.prefix, "prefix", false, "begin each line with its source, [pod/NAME/CONTAINER]")
	c.Flags().BoolVar(&o.allContainers, "all-containers", false, "the logs of every container of the pod(s)")
	c.Flags().IntVar(&o.maxRequests, "max-log-requests", defaultMaxLogRequests, "how many logs -f follows at once with -l or --all-containers")
	return c
}

// check refuses what cannot be asked before dialing: a pod and a selector
// together, or neither, a selector that does not parse, -c with
// --all-containers.
func (o logsOptions) check(pod string) error {
	switch {
	case pod != "" && o.selector != "":
		return errors.New("logs: name a pod or select pods with -l, not both")
	case pod == "" && o.selector == "":
		return errors.New("logs: name a pod (gantry logs POD), or select pods by label (gantry logs -l app=hello)")
	case o.allContainers && o.container != "":
		return fmt.Errorf("logs: --all-containers shows every container; it cannot be combined with -c %s", o.container)
	case o.maxRequests < 1:
		return fmt.Errorf("--max-log-requests %d: want at least 1", o.maxRequests)
	}
	if o.selector != "" {
		if _, err := manifest.ParseLabelSelector(o.selector); err != nil {
			return err
		}
	}
	return nil
}

// logsTarget accepts NAME (a pod) or TYPE/NAME, like kubectl: a pod, or an
// object whose pods' logs kubectl shows one of (deployment, replicaset,
// daemonset, job). A CronJob has no pods of its own, nor a node any.
func logsTarget(arg string) (kind, name string, err error) {
	return podTarget(arg, func(kind string) error {
		if k := resourceKinds[kind]; k.info == nil || !k.info.HasPods {
			return fmt.Errorf("cannot get the logs from %s: a pod, deployment, replicaset, daemonset or job has logs", k.qualifiedPlural())
		}
		return nil
	})
}

// podTarget reads NAME (a pod) or TYPE/NAME, the type known, the name not
// empty, and the type one allowed says it may be.
func podTarget(arg string, allowed func(kind string) error) (kind, name string, err error) {
	t, name, ok := strings.Cut(arg, "/")
	if !ok {
		return "pod", arg, nil
	}
	if kind, err = kindOf(t); err != nil {
		return "", "", err
	}
	if name == "" {
		return "", "", fmt.Errorf("%q: a name is required after the '/'", arg)
	}
	if err := allowed(kind); err != nil {
		return "", "", err
	}
	return kind, name, nil
}

// firstPodOf is the pod whose log kubectl shows for an object (logs
// deploy/NAME, job/NAME): of the object's pods (a Deployment's: those of
// its current ReplicaSet when it has any, else of all of its ReplicaSets),
// the first in kubectl's order (podutils.ActivePods reversed: bound before
// not, running before pending, ready before not, fewer restarts, older).
// n is how many there were to choose from.
func firstPodOf(ctx context.Context, conn *bus.Conn, kind, ns, name string) (p *projections.Pod, n int, err error) {
	wkv, err := conn.JS.KeyValue(ctx, bus.BucketWorkloads)
	if err != nil {
		return nil, 0, fmt.Errorf("read model %s: %w", bus.BucketWorkloads, err)
	}
	pkv, err := conn.JS.KeyValue(ctx, bus.BucketPods)
	if err != nil {
		return nil, 0, fmt.Errorf("read model %s: %w", bus.BucketPods, err)
	}
	r, err := getResource(ctx, wkv, resourceKinds[kind], ns, name)
	if err != nil {
		return nil, 0, err
	}
	w := r.workload
	owners := map[string]bool{w.UID: true}
	if kind == "deployment" {
		rss, err := ownedWorkloads(ctx, wkv, w)
		if err != nil {
			return nil, 0, err
		}
		owners = map[string]bool{}
		for _, rs := range rss {
			owners[rs.UID] = true
		}
		if _, current := splitReplicaSets(w, rss); len(current) == 1 {
			pods, err := podsOwnedBy(ctx, pkv, ns, map[string]bool{current[0].UID: true})
			if err != nil {
				return nil, 0, err
			}
			if len(pods) > 0 {
				return pickPod(pods), len(pods), nil
			}
		}
	}
	pods, err := podsOwnedBy(ctx, pkv, ns, owners)
	if err != nil {
		return nil, 0, err
	}
	if len(pods) == 0 {
		return nil, 0, fmt.Errorf("no pods found for %s/%s", displayKind(kind), name)
	}
	return pickPod(pods), len(pods), nil
}

// podsOwnedBy lists the pods of ns whose owner's uid is in owners.
func podsOwnedBy(ctx context.Context, kv jetstream.KeyValue, ns string, owners map[string]bool) ([]*projections.Pod, error) {
	rk := resourceKinds["pod"]
	rs, _, err := snapshot(ctx, kv, rk, rk.pattern(ns), false)
	if err != nil {
		return nil, err
	}
	var out []*projections.Pod
	for _, r := range rs {
		if o := r.pod.Owner; o != nil && owners[o.UID] {
			out = append(out, r.pod)
		}
	}
	return out, nil
}

// pickPod is the first of pods in kubectl's order for logs and exec.
func pickPod(pods []*projections.Pod) *projections.Pod {
	sorted := append([]*projections.Pod(nil), pods...)
	sort.SliceStable(sorted, func(i, j int) bool { return podMoreActive(sorted[i], sorted[j]) })
	return sorted[0]
}

// podMoreActive is podutils.ActivePods' Less reversed: a before b when a is
// bound and b not, a's phase is further (Running > Unknown > Pending), a is
// ready and b not, a restarted less, or a is older.
func podMoreActive(a, b *projections.Pod) bool {
	if (a.Node != "") != (b.Node != "") {
		return a.Node != ""
	}
	rank := map[string]int{events.PhasePending: 0, "Unknown": 1, events.PhaseRunning: 2}
	if ra, rb := rank[a.Phase()], rank[b.Phase()]; ra != rb {
		return ra > rb
	}
	if a.Ready() != b.Ready() {
		return a.Ready()
	}
	if ra, rb := podRestarts(a), podRestarts(b); ra != rb {
		return ra < rb
	}
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.Before(b.CreatedAt)
	}
	return a.Name < b.Name
}

// logStream is one container's log the command prints.
type logStream struct {
	pod       *projections.Pod
	container string // as asked: empty is the pod's first, as the node decides
	label     string // [pod/NAME/CONTAINER], for --prefix
}

// runLogs prints the logs o asks for: of pod, or of every pod matching
// o.selector (sorted by name). One log is copied as it comes; several are
// printed one after the other, or with -f followed together, a line at a
// time. A pod whose log cannot be had is named on errOut and the others are
// printed; the command then fails.
func runLogs(ctx context.Context, conn *bus.Conn, o logsOptions, pod string, out, errOut io.Writer) error {
	if err := awaitReadModel(ctx, conn.JS, errOut); err != nil {
		return err
	}
	kv, err := conn.JS.KeyValue(ctx, bus.BucketPods)
	if err != nil {
		return fmt.Errorf("read model %s: %w", bus.BucketPods, err)
	}
	var pods []*projections.Pod
	if o.kind != "" && o.kind != "pod" {
		p, n, err := firstPodOf(ctx, conn, o.kind, o.namespace, pod)
		if err != nil {
			return err
		}
		if n > 1 {
			fmt.Fprintf(errOut, "Found %d pods, using pod/%s\n", n, p.Name)
		}
		pods = append(pods, p)
	} else if o.selector == "" {
		r, err := getResource(ctx, kv, resourceKinds["pod"], o.namespace, pod)
		if err != nil {
			return err
		}
		pods = append(pods, r.pod)
	} else {
		sel, err := manifest.ParseLabelSelector(o.selector)
		if err != nil {
			return err
		}
		rs, _, err := snapshot(ctx, kv, resourceKinds["pod"], resourceKinds["pod"].pattern(o.namespace), false)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if sel.Matches(r.pod.Labels) {
				pods = append(pods, r.pod)
			}
		}
		if len(pods) == 0 {
			fmt.Fprintf(errOut, "No resources found in %s namespace.\n", o.namespace)
			return nil
		}
	}
	streams := o.streams(pods)
	if len(streams) == 1 && !o.prefix {
		return logOf(ctx, conn.NC, o, streams[0], out)
	}
	if o.follow && len(streams) > o.maxRequests {
		return fmt.Errorf("you are attempting to follow %d log streams, but maximum allowed concurrency is %d, use --max-log-requests to increase the limit",
			len(streams), o.maxRequests)
	}
	var mu sync.Mutex // one line at a time on out and errOut
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(errOut, "error: %v\n", err)
	}
	failed := 0
	if !o.follow {
		for _, s := range streams {
			if ctx.Err() != nil {
				return ctx.Err() // interrupted: the rest is not asked for
			}
			if err := printLog(ctx, conn.NC, o, s, &mu, out); err != nil {
				fail(err)
				failed++
			}
		}
	} else {
		errs := make(chan error, len(streams))
		for _, s := range streams {
			go func() { errs <- printLog(ctx, conn.NC, o, s, &mu, out) }()
		}
		for range streams {
			if err := <-errs; err != nil {
				fail(err)
				failed++
			}
		}
	}
	if failed > 0 {
		return ExitError{Code: 1, Err: fmt.Errorf("%d of %d logs not shown", failed, len(streams)), Reported: true}
	}
	return nil
}

// streams is what to print of pods: each pod's asked container, or with
// --all-containers each of its init containers and containers in the order
// of its spec.
func (o logsOptions) streams(pods []*projections.Pod) []logStream {
	var out []logStream
	for _, p := range pods {
		names := []string{o.container}
		if o.allContainers {
			names = names[:0]
			for _, c := range slices.Concat(p.Spec.InitContainers, p.Spec.Containers) { // as kubectl: init first
				names = append(names, c.Name)
			}
		}
		for _, c := range names {
			shown := c
			if shown == "" && len(p.Spec.Containers) > 0 {
				shown = p.Spec.Containers[0].Name
			}
			out = append(out, logStream{pod: p, container: c, label: "[pod/" + p.Name + "/" + shown + "] "})
		}
	}
	return out
}

// printLog prints one of several logs through a lineWriter, so that logs
// followed together interleave by whole lines.
func printLog(ctx context.Context, nc *nats.Conn, o logsOptions, s logStream, mu *sync.Mutex, out io.Writer) error {
	w := &lineWriter{mu: mu, out: out}
	if o.prefix {
		w.prefix = s.label
	}
	err := logOf(ctx, nc, o, s, w)
	if ferr := w.flush(); err == nil {
		err = ferr
	}
	return err
}

// logOf asks the pod's node for one container's log and copies it to out.
func logOf(ctx context.Context, nc *nats.Conn, o logsOptions, s logStream, out io.Writer) error {
	if s.pod.Node == "" {
		return fmt.Errorf("pod %s is not scheduled yet", s.pod.Name)
	}
	req := api.LogsRequest{Namespace: s.pod.Namespace, Pod: s.pod.Name, Container: s.container, Follow: o.follow, Previous: o.previous}
	return streamLogs(ctx, nc, s.pod.Node, req, out)
}

// streamLogs asks the node for the log and copies it to out until the node's
// end-of-log message (its error header is the error), or until ctx ends
// when following.
func streamLogs(ctx context.Context, nc *nats.Conn, nodeName string, req api.LogsRequest, out io.Writer) error {
	data, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode logs request: %w", err)
	}
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return fmt.Errorf("logs of %s: %w", req.Pod, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	_ = sub.SetPendingLimits(-1, 256<<20)
	if err := nc.PublishRequest(events.NodeRPCSubject(nodeName, "logs"), inbox, data); err != nil {
		return fmt.Errorf("logs of %s: ask node %s: %w", req.Pod, nodeName, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if req.Follow {
		go keepLogsAlive(ctx, nc, inbox+".alive")
	}
	silent := fmt.Errorf("node %s did not answer (is its agent running?)", nodeName)
	first := true
	for {
		m, err := nextLogMsg(ctx, sub, logsWait(req.Follow, first))
		switch {
		case err == nil:
		case errors.Is(err, nats.ErrNoResponders):
			return silent
		case ctx.Err() != nil && req.Follow:
			return nil // interrupted: the node stops when the keepalives stop
		case errors.Is(err, context.DeadlineExceeded) && first && req.Follow:
			// No 503 came back, so the node listens; a followed log may
			// stay quiet for long.
			first = false
			continue
		case errors.Is(err, context.DeadlineExceeded) && first:
			return silent
		case errors.Is(err, context.DeadlineExceeded):
			return fmt.Errorf("node %s stopped sending the log of %s", nodeName, req.Pod)
		default:
			return fmt.Errorf("logs of %s: %w", req.Pod, err)
		}
		if first && isNoResponders(m) {
			return silent
		}
		first = false
		if m.Header.Get(api.HeaderEOF) != "" {
			if e := m.Header.Get(api.HeaderError); e != "" {
				return errors.New(e)
			}
			return nil
		}
		if _, err := out.Write(m.Data); err != nil {
			return fmt.Errorf("write log: %w", err)
		}
	}
}

// logsWait is how long to wait for the next message: the node answers within
// logsAnswerWait and then keeps sending within logsIdleWait, but a followed
// log may be quiet for ever (0: no limit).
func logsWait(follow, first bool) time.Duration {
	switch {
	case first:
		return logsAnswerWait
	case follow:
		return 0
	}
	return logsIdleWait
}

// nextLogMsg waits for the next message, at most wait (0: no limit).
func nextLogMsg(ctx context.Context, sub *nats.Subscription, wait time.Duration) (*nats.Msg, error) {
	if wait == 0 {
		return sub.NextMsgWithContext(ctx)
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return sub.NextMsgWithContext(wctx)
}

// isNoResponders recognises the server's 503 status: nobody subscribes to
// the node's logs subject.
func isNoResponders(m *nats.Msg) bool {
	return len(m.Data) == 0 && m.Header.Get("Status") == "503"
}

// keepLogsAlive tells the node the reader is still there.
func keepLogsAlive(ctx context.Context, nc *nats.Conn, subject string) {
	t := time.NewTicker(api.LogsKeepAlive)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = nc.Publish(subject, nil)
		}
	}
}

// lineWriteMax is how much of a line without its end a lineWriter holds;
// a longer line is written in pieces of that size, each ended (as the
// kubelet splits long lines).
const lineWriteMax = 64 << 10

// lineWriter writes whole lines to out under mu, each after prefix, so logs
// written together interleave by lines and never within one.
type lineWriter struct {
	mu      *sync.Mutex
	out     io.Writer
	prefix  string
	partial []byte // the start of a line whose end has not come
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.partial = append(w.partial, p...)
	end := bytes.LastIndexByte(w.partial, '\n') + 1
	if end == 0 && len(w.partial) < lineWriteMax {
		return len(p), nil
	}
	if end == 0 {
		return len(p), w.flush()
	}
	err := w.write(w.partial[:end])
	w.partial = append(w.partial[:0], w.partial[end:]...)
	return len(p), err
}

// flush writes a last line that has no end, ending it.
func (w *lineWriter) flush() error {
	if len(w.partial) == 0 {
		return nil
	}
	err := w.write(append(w.partial, '\n'))
	w.partial = w.partial[:0]
	return err
}

// write writes whole lines, each after the prefix.
func (w *lineWriter) write(lines []byte) error {
	var b []byte
	if w.prefix == "" {
		b = lines
	} else {
		for len(lines) > 0 {
			i := bytes.IndexByte(lines, '\n') + 1
			if i == 0 {
				i = len(lines)
			}
			b = append(append(b, w.prefix...), lines[:i]...)
			lines = lines[i:]
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.out.Write(b); err != nil {
		return fmt.Errorf("write log: %w", err)
	}
	return nil
}
