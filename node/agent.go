package node

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
)

// Config describes the node an agent runs.
type Config struct {
	Name    string
	Labels  map[string]string
	PodCIDR string
	Address string
	MaxPods int64
	// HeartbeatEvery and ResyncEvery default to DefaultHeartbeat and 2 s.
	HeartbeatEvery time.Duration
	ResyncEvery    time.Duration
	// BackoffBase and BackoffMax bound restart back-off (10 s and 5 min, as in Kubernetes).
	BackoffBase time.Duration
	BackoffMax  time.Duration
	Clock       func() time.Time
	Version     string
	// Parallel bounds how many pods are started at once (default 8).
	Parallel int
	// Taints the node declares (none by default).
	Taints []manifest.Taint
	// ReportGather is how long the report writer waits, after a report, for
	// others to write with it (default 5 ms): pods that come up together
	// share one write, and a real pod, whose start takes hundreds of
	// milliseconds, is reported barely later.
	ReportGather time.Duration

	// The fields below serve many agents in one process (gantry sim); a real
	// agent leaves them zero.

	// HeartbeatJitter, when positive, adds a random 0..HeartbeatJitter to
	// every heartbeat interval, so agents started together do not heartbeat
	// together. 0: a fixed HeartbeatEvery.
	HeartbeatJitter time.Duration
	// Feed, when set, delivers the decisions addressed to this node and the
	// agent creates no durable consumer of its own: whoever feeds it follows
	// gantry.node.<name>.pod.> from at most the log's end before the agent
	// started, and in order. The agent takes each message and reconciles
	// exactly as with its own consumer, then calls Ack on it.
	Feed <-chan jetstream.Msg
	// Ready, when set, is called once the agent has registered, restored its
	// state from the log and follows its decisions.
	Ready func()
}

// DefaultHeartbeat is how often an agent says it is alive: the health
// service decides a node NotReady after 4 missed (health.DefaultGrace).
const DefaultHeartbeat = time.Second

// ConsumerName is the durable consumer of a node; renaming it would make the
// node read its decisions again from the start.
func ConsumerName(node string) string { return "node-" + node }

// Agent runs the pods bound to one node.
type Agent struct {
	cfg  Config
	rt   Runtime
	conn *bus.Conn
	log  zerolog.Logger
	info events.NodeInfo

	// desired is written only by the agent's loop, under mu; the logs server
	// reads it from other goroutines under mu.
	mu      sync.Mutex
	desired map[string]*binding // ns/name → newest decision for this node

	// smu guards what the pod workers of one reconcile share.
	smu       sync.Mutex
	published map[string]reported // ns/name → the last status the log stored
	removed   map[string]string   // ns/name → uid whose removal was reported
	backoff   map[string]*backoff // uid/container → restart back-off
}

type binding struct {
	bound   *events.PodBound
	env     events.Envelope
	deleted bool
}

type backoff struct {
	failures int
	until    time.Time
	reason   string
	message  string
}

// New makes an agent for one node.
func New(cfg Config, rt Runtime, conn *bus.Conn, log zerolog.Logger) *Agent {
	if cfg.HeartbeatEvery == 0 {
		cfg.HeartbeatEvery = DefaultHeartbeat
	}
	if cfg.ResyncEvery == 0 {
		cfg.ResyncEvery = 2 * time.Second
	}
	if cfg.ReportGather == 0 {
		cfg.ReportGather = 5 * time.Millisecond
	}
	if cfg.BackoffBase == 0 {
		cfg.BackoffBase = 10 * time.Second
	}
	if cfg.BackoffMax == 0 {
		cfg.BackoffMax = 5 * time.Minute
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.MaxPods == 0 {
		cfg.MaxPods = 110
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 8
	}
	return &Agent{cfg: cfg, rt: rt, conn: conn, log: log.With().Str("node", cfg.Name).Logger(),
		desired: map[string]*binding{}, published: map[string]reported{}, removed: map[string]string{},
		backoff: map[string]*backoff{}}
}

// DefaultName derives a node name from the hostname's first label.
func DefaultName() (string, error) {
	h, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("node name from hostname: %w", err)
	}
	for i := 0; i < len(h); i++ {
		if h[i] == '.' {
			h = h[:i]
			break
		}
	}
	return h, nil
}

// Run registers the node, adopts what the runtime already runs, and follows
// the decisions addressed to the node until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	capacity, err := a.rt.Capacity(ctx)
	if err != nil {
		return fmt.Errorf("node %s capacity: %w", a.cfg.Name, err)
	}
	capacity[events.ResourcePods] = a.cfg.MaxPods
	labels := map[string]string{"kubernetes.io/hostname": a.cfg.Name, "gantry.dev/runtime": a.rt.Name()}
	for k, v := range a.cfg.Labels {
		labels[k] = v
	}
	a.info = events.NodeInfo{Name: a.cfg.Name, Labels: labels, Capacity: capacity, Allocatable: capacity,
		PodCIDR: a.cfg.PodCIDR, Address: a.cfg.Address, Runtime: a.rt.Name(), Version: a.cfg.Version, Taints: a.cfg.Taints}

	if err := a.register(ctx); err != nil {
		return err
	}
	if err := a.heartbeat(ctx); err != nil {
		return err
	}
	if err := a.restore(ctx); err != nil {
		return err
	}
	sub, err := a.serveLogs(ctx)
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()

	msgs := a.cfg.Feed
	var lost <-chan struct{} // the node's consumer was deleted under it
	stopConsume := func() {}
	if msgs == nil {
		own, stop, gone, err := a.consume(ctx)
		if err != nil {
			return err
		}
		msgs, lost, stopConsume = own, gone, stop
	}
	defer func() { stopConsume() }()
	if a.cfg.Ready != nil {
		a.cfg.Ready()
	}

	// Heartbeats are points in time on a stream of their own: a slow one
	// must not hold up the reports, nor the reports a heartbeat.
	hbCtx, stopHB := context.WithCancel(ctx)
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		a.heartbeats(hbCtx)
	}()
	defer func() {
		stopHB()
		<-hbDone
	}()

	a.reconcile(ctx)
	resync := time.NewTicker(a.cfg.ResyncEvery)
	defer resync.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case m, ok := <-msgs:
			if !ok {
				return nil
			}
			batch := []jetstream.Msg{m}
		drain:
			for len(batch) < 256 {
				select {
				case m, ok := <-msgs:
					if !ok {
						break drain
					}
					batch = append(batch, m)
				default:
					break drain
				}
			}
			for _, m := range batch {
				a.take(m)
			}
			a.reconcile(ctx)
			// Acknowledge only once the decisions have been acted on and the
			// resulting observations are stored (reconcile returns after
			// the log has answered for its reports).
			for _, m := range batch {
				if err := m.Ack(); err != nil {
					a.log.Warn().Err(err).Msg("ack decision")
				}
			}
		case <-lost:
			stopConsume()
			own, stop, gone, err := a.relearn(ctx)
			if err != nil {
				return nil // ctx ended while the log was away
			}
			msgs, lost, stopConsume = own, gone, stop
			a.reconcile(ctx)
		case <-a.rt.Changes():
			a.reconcile(ctx)
		case <-resync.C:
			a.reconcile(ctx)
		}
	}
}

// relearnRetry is how often relearn tries again while the decisions stream
// or its consumer cannot be had.
const relearnRetry = time.Second

// relearn follows the node's decisions afresh after its durable consumer was
// deleted under it (a restored log, an accepted loss, an operator): what the
// node should run is forgotten and read again from the newest decision of
// each of its pods, so a pod the log no longer binds here is stopped, and
// reported removed, by the next reconcile instead of running on unsaid.
func (a *Agent) relearn(ctx context.Context) (<-chan jetstream.Msg, func(), <-chan struct{}, error) {
	a.log.Warn().Str("consumer", ConsumerName(a.cfg.Name)).
		Msg("the node's decisions consumer was deleted (a restored or repaired log?): reading the newest decision of each pod again")
	a.mu.Lock()
	before := len(a.desired)
	a.desired = map[string]*binding{}
	a.mu.Unlock()
	for {
		err := a.restore(ctx)
		if err == nil {
			msgs, stop, lost, cerr := a.consume(ctx)
			if cerr == nil {
				a.log.Info().Int("before", before).Int("now", a.desiredCount()).Msg("decisions read again: pods bound here")
				return msgs, stop, lost, nil
			}
			err = cerr
		}
		if ctx.Err() != nil {
			return nil, nil, nil, ctx.Err()
		}
		a.log.Warn().Err(err).Msg("decisions not readable yet; trying again")
		select {
		case <-ctx.Done():
			return nil, nil, nil, ctx.Err()
		case <-time.After(relearnRetry):
		}
	}
}

// heartbeats beats every heartbeatInterval until ctx ends.
func (a *Agent) heartbeats(ctx context.Context) {
	hb := time.NewTicker(a.heartbeatInterval())
	defer hb.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hb.C:
			if err := a.heartbeat(ctx); err != nil && ctx.Err() == nil {
				a.log.Warn().Err(err).Msg("heartbeat")
			}
			if a.cfg.HeartbeatJitter > 0 {
				hb.Reset(a.heartbeatInterval())
			}
		}
	}
}

// consume follows the node's durable consumer; stop ends it. lost is closed
// when the consumer is deleted under it (msgs then stays open and silent).
func (a *Agent) consume(ctx context.Context) (msgs <-chan jetstream.Msg, stop func(), lost <-chan struct{}, err error) {
	cons, err := a.conn.JS.CreateOrUpdateConsumer(ctx, events.StreamDecisions, jetstream.ConsumerConfig{
		Durable:       ConsumerName(a.cfg.Name),
		FilterSubject: events.NodeFilter(a.cfg.Name),
		DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       time.Minute,
		MaxAckPending: 1024,
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("node %s consumer: %w", a.cfg.Name, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("node %s consume: %w", a.cfg.Name, err)
	}
	out := make(chan jetstream.Msg, 256)
	gone := make(chan struct{})
	go func() {
		for {
			m, err := it.Next()
			if err != nil {
				if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) {
					close(gone)
					return
				}
				if errors.Is(err, jetstream.ErrMsgIteratorClosed) || ctx.Err() != nil {
					close(out)
					return
				}
				a.log.Warn().Err(err).Msg("consume decisions")
				continue
			}
			select {
			case out <- m:
			case <-ctx.Done():
				close(out)
				return
			}
		}
	}()
	return out, it.Stop, gone, nil
}

// heartbeatInterval is HeartbeatEvery plus, with HeartbeatJitter, a random
// part of it.
func (a *Agent) heartbeatInterval() time.Duration {
	if a.cfg.HeartbeatJitter <= 0 {
		return a.cfg.HeartbeatEvery
	}
	return a.cfg.HeartbeatEvery + rand.N(a.cfg.HeartbeatJitter)
}

// restore reads the newest decision for every pod of this node and the
// newest report the node made of it, so a restarted agent knows what it runs
// and what it said, and neither starts nor reports anything twice.
func (a *Agent) restore(ctx context.Context) error {
	err := lastPerSubject(ctx, a.conn.JS, events.StreamDecisions, events.NodePodsFilter(a.cfg.Name), func(m jetstream.Msg) {
		a.take(m)
	})
	if err != nil {
		return fmt.Errorf("node %s restore decisions: %w", a.cfg.Name, err)
	}
	err = lastPerSubject(ctx, a.conn.JS, events.StreamObservations, "gantry.obs."+a.cfg.Name+".pod.>", func(m jetstream.Msg) {
		env, err := events.Parse(m.Data())
		if err != nil {
			return
		}
		ev, err := env.Decode()
		if err != nil {
			return
		}
		switch e := ev.(type) {
		case *events.PodStatusObserved:
			if b, err := events.Marshal(e); err == nil {
				a.published[key(e.Namespace, e.Name)] = reported{status: string(b), id: env.ID}
			}
		case *events.PodRemoved:
			a.removed[key(e.Namespace, e.Name)] = e.UID
		}
	})
	if err != nil {
		return fmt.Errorf("node %s restore observations: %w", a.cfg.Name, err)
	}
	return nil
}

// Actor is the identity a node agent writes its own events under (its
// registration), until nodes authenticate with identities of their own.
func Actor(node string) string { return "node/" + node }

// register announces the node under its creation time, carried over from its
// last registration, as the node's actor, caused by this run of the agent:
// the run's id (new at every start) is the registration's causation and
// correlation, so the log says which start of the agent each one records.
func (a *Agent) register(ctx context.Context) error {
	now := a.cfg.Clock().UTC()
	created, err := a.createdAt(ctx)
	if err != nil {
		return err
	}
	if created.IsZero() {
		created = now
	}
	a.info.CreatedAt = &created
	run, id := events.NewID(), events.NewID()
	env, err := events.Seal(&events.NodeRegistered{Node: a.info}, events.Meta{ID: id, Source: "node/" + a.cfg.Name,
		Subject: a.cfg.Name, Time: now, Actor: Actor(a.cfg.Name), CausationID: run, CorrelationID: run})
	if err != nil {
		return err
	}
	out := bus.Outgoing{Subject: events.ObsNodeSubject(a.cfg.Name), Envelope: env, MsgID: id}
	if _, err := bus.PublishOne(ctx, a.conn.JS, out); err != nil {
		return fmt.Errorf("node %s register: %w", a.cfg.Name, err)
	}
	return nil
}

// createdAt is the creation time the node's last registration carries (or
// that registration's time, when an older agent wrote it), else the one its
// last heartbeat carries (when the registration has aged out of the
// observations); zero when the node never registered.
func (a *Agent) createdAt(ctx context.Context) (time.Time, error) {
	for _, src := range []struct{ stream, subject string }{
		{events.StreamObservations, events.ObsNodeSubject(a.cfg.Name)},
		{events.StreamHeartbeats, events.HeartbeatSubject(a.cfg.Name)},
	} {
		st, err := a.conn.JS.Stream(ctx, src.stream)
		if err != nil {
			return time.Time{}, fmt.Errorf("node %s creation time: stream %s: %w", a.cfg.Name, src.stream, err)
		}
		m, err := st.GetLastMsgForSubject(ctx, src.subject)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("node %s creation time: last message on %s: %w", a.cfg.Name, src.subject, err)
		}
		env, err := events.Parse(m.Data)
		if err != nil {
			continue
		}
		ev, err := env.Decode()
		if err != nil {
			continue
		}
		switch e := ev.(type) {
		case *events.NodeRegistered:
			if e.Node.CreatedAt != nil {
				return e.Node.CreatedAt.UTC(), nil
			}
			return env.Time.UTC(), nil
		case *events.NodeHeartbeat:
			if e.Node.CreatedAt != nil {
				return e.Node.CreatedAt.UTC(), nil
			}
		}
	}
	return time.Time{}, nil
}

func lastPerSubject(ctx context.Context, js jetstream.JetStream, stream, filter string, fn func(jetstream.Msg)) error {
	last, err := bus.LastSeq(ctx, js, stream, filter)
	if err != nil || last == 0 {
		return err
	}
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{filter}, DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy})
	if err != nil {
		return err
	}
	for {
		batch, err := cons.FetchNoWait(1024)
		if err != nil {
			return err
		}
		n := 0
		done := false
		for m := range batch.Messages() {
			n++
			fn(m)
			if md, err := m.Metadata(); err == nil && md.NumPending == 0 {
				done = true
			}
		}
		if err := batch.Error(); err != nil {
			return err
		}
		if done {
			return nil
		}
		if n == 0 {
			// Nothing was waiting; fetch with a wait to be sure we are at the end.
			b2, err := cons.Fetch(1024, jetstream.FetchMaxWait(500*time.Millisecond))
			if err != nil {
				return err
			}
			got := 0
			for m := range b2.Messages() {
				got++
				fn(m)
			}
			if got == 0 {
				return nil
			}
		}
	}
}

// take folds one decision addressed to this node.
func (a *Agent) take(m jetstream.Msg) {
	env, err := events.Parse(m.Data())
	if err != nil {
		a.log.Error().Err(err).Msg("undecodable decision")
		return
	}
	ev, err := env.Decode()
	if err != nil {
		a.log.Error().Err(err).Msg("undecodable decision")
		return
	}
	switch e := ev.(type) {
	case *events.PodBound:
		if e.Node != a.cfg.Name {
			return
		}
		k := key(e.Pod.Namespace, e.Pod.Name)
		if cur := a.desired[k]; cur != nil && cur.bound != nil && cur.bound.Pod.UID == e.Pod.UID && cur.bound.Epoch > e.Epoch {
			return // fenced: an older binding
		}
		a.mu.Lock()
		a.desired[k] = &binding{bound: e, env: env}
		a.mu.Unlock()
	case *events.PodDeleted:
		k := key(e.Namespace, e.Name)
		if cur := a.desired[k]; cur != nil && cur.bound != nil && cur.bound.Pod.UID == e.UID {
			a.mu.Lock()
			cur.deleted = true
			cur.env = env
			a.mu.Unlock()
		}
	}
}

func key(ns, name string) string { return ns + "/" + name }

// desiredCount is how many pods this node should run.
func (a *Agent) desiredCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.desired)
}

// desiredCopy returns the binding of a pod this node should run, or nil.
func (a *Agent) desiredCopy(k string) *events.PodBound {
	a.mu.Lock()
	defer a.mu.Unlock()
	b := a.desired[k]
	if b == nil || b.deleted {
		return nil
	}
	return b.bound
}

// reconcile makes the runtime match the decisions: start what is bound,
// restart what exited (per restart policy, with back-off), remove what is
// not bound here any more, and report every change. The reports of one
// reconcile are stored together (publishReports) before it returns.
func (a *Agent) reconcile(ctx context.Context) {
	actual, err := a.rt.Pods(ctx)
	if err != nil {
		a.log.Error().Err(err).Msg("list pods")
		return
	}
	// Reports go out as they are made, group-committed: while one write is
	// in flight the next ones gather, so a burst becomes a few batches and
	// the first pod to run is not reported only after the slowest.
	reports := a.startReports(ctx)
	byKey := map[string]PodState{}
	gone := map[string]bool{} // uids removed by this reconcile
	for _, p := range actual {
		k := key(p.Namespace, p.Name)
		b := a.desired[k]
		if b == nil || b.deleted || b.bound.Pod.UID != p.UID {
			gone[p.UID] = true
			if r, ok := a.remove(ctx, p.Namespace, p.Name, p.UID, p.Epoch, b); ok {
				reports.send(r)
			}
			continue
		}
		byKey[k] = p
	}
	keys := make([]string, 0, len(a.desired))
	for k := range a.desired {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// Pods start in parallel (bounded): a node given 30 pods at once should
	// not start the last one only after the other 29.
	var wg sync.WaitGroup
	sem := make(chan struct{}, a.cfg.Parallel)
	for _, k := range keys {
		b := a.desired[k]
		if b.deleted {
			if _, running := byKey[k]; !running && !gone[b.bound.Pod.UID] {
				if r, ok := a.remove(ctx, b.bound.Pod.Namespace, b.bound.Pod.Name, b.bound.Pod.UID, b.bound.Epoch, b); ok {
					reports.send(r)
				}
			}
			continue
		}
		st, ok := byKey[k]
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			status := a.run(ctx, b, st, ok)
			if status == nil {
				return
			}
			r, ok, err := a.statusReport(b, status)
			if err != nil {
				a.log.Error().Err(err).Str("pod", k).Msg("report status")
				return
			}
			if ok {
				reports.send(r)
			}
		}()
	}
	wg.Wait()
	// Every report is stored, or left for the next reconcile. A deleted
	// binding goes once its removal is stored.
	for _, r := range reports.close() {
		a.mu.Lock()
		if a.desired[r.key] == r.forget {
			delete(a.desired, r.key)
		}
		a.mu.Unlock()
	}
}

// remove stops a pod and returns the report of its removal, unless the log
// holds it already. A deleted binding is dropped once the removal is stored.
func (a *Agent) remove(ctx context.Context, ns, name, uid string, epoch int64, b *binding) (report, bool) {
	k := key(ns, name)
	if err := a.rt.RemovePod(ctx, ns, name, uid); err != nil {
		a.log.Error().Err(err).Str("pod", k).Msg("remove pod")
		return report{}, false
	}
	a.smu.Lock()
	for c := range a.backoff {
		if len(c) > len(uid) && c[:len(uid)] == uid {
			delete(a.backoff, c)
		}
	}
	done := a.removed[k] == uid
	a.smu.Unlock()
	var forget *binding
	if b != nil && b.deleted && b.bound.Pod.UID == uid {
		forget = b
	}
	if done {
		if forget != nil {
			a.mu.Lock()
			delete(a.desired, k)
			a.mu.Unlock()
		}
		return report{}, false
	}
	cause := events.Envelope{}
	if b != nil {
		cause = b.env
	}
	r, err := a.removalReport(ns, name, uid, epoch, cause, forget)
	if err != nil {
		a.log.Error().Err(err).Str("pod", k).Msg("report removal")
		return report{}, false
	}
	return r, true
}

// run brings one bound pod towards running and returns its status.
func (a *Agent) run(ctx context.Context, b *binding, st PodState, exists bool) *events.PodStatusObserved {
	now := a.cfg.Clock()
	e := b.bound
	pod := Pod{Namespace: e.Pod.Namespace, Name: e.Pod.Name, UID: e.Pod.UID, Epoch: e.Epoch,
		Labels: e.Pod.Labels, Annotations: e.Pod.Annotations, Spec: e.Pod.Spec}
	k := key(pod.Namespace, pod.Name)
	status := &events.PodStatusObserved{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID, Node: a.cfg.Name, Epoch: e.Epoch}
	ip := st.IP
	if !exists || ip == "" {
		var err error
		ip, err = a.rt.CreateSandbox(ctx, pod)
		if err != nil {
			a.log.Error().Err(err).Str("pod", k).Msg("create sandbox")
			status.Phase, status.Reason, status.Message = events.PhasePending, "SandboxCreateError", err.Error()
			return status
		}
	}
	status.PodIP = ip
	have := map[string]ContainerState{}
	for _, c := range st.Containers {
		have[c.Name] = c
	}
	policy := pod.Spec.RestartPolicy
	changed := false
	for _, c := range pod.Spec.Containers {
		cs, ok := have[c.Name]
		bkey := pod.UID + "/" + c.Name
		start := false
		switch {
		case !ok:
			start = true
		case cs.Running:
		case cs.Exited:
			start = policy == "" || policy == "Always" || (policy == "OnFailure" && cs.ExitCode != 0)
		default:
			start = true // created, never started
		}
		if !start || now.Before(a.backoffUntil(bkey)) {
			continue
		}
		restart := ok && cs.Exited
		if restart {
			a.fail(bkey, now, "CrashLoopBackOff",
				fmt.Sprintf("back-off restarting failed container %s (exit code %d)", c.Name, cs.ExitCode))
		}
		if err := a.rt.StartContainer(ctx, pod, c); err != nil {
			reason := "CreateContainerError"
			if errors.Is(err, ErrImageNotFound) {
				reason = "ErrImagePull"
			}
			a.fail(bkey, now, reason, err.Error())
			a.log.Warn().Err(err).Str("pod", k).Str("container", c.Name).Msg("start container")
			continue
		}
		changed = true
		if !restart {
			a.smu.Lock()
			delete(a.backoff, bkey)
			a.smu.Unlock()
		}
	}
	if changed {
		if fresh, ok, err := a.rt.Pod(ctx, pod.UID); err == nil && ok {
			have = map[string]ContainerState{}
			for _, c := range fresh.Containers {
				have[c.Name] = c
			}
		}
	}
	for _, c := range pod.Spec.Containers {
		status.Containers = append(status.Containers, a.containerStatus(pod.UID, c.Name, c.Image, have, now))
	}
	status.Phase = Phase(policy, status.Containers)
	return status
}

// backoffUntil is when a container may be started again.
func (a *Agent) backoffUntil(k string) time.Time {
	a.smu.Lock()
	defer a.smu.Unlock()
	if bk := a.backoff[k]; bk != nil {
		return bk.until
	}
	return time.Time{}
}

// fail records a failed start or an exit and pushes the next start out:
// BackoffBase doubled per failure, at most BackoffMax.
func (a *Agent) fail(k string, now time.Time, reason, msg string) {
	a.smu.Lock()
	defer a.smu.Unlock()
	bk := a.backoff[k]
	if bk == nil {
		bk = &backoff{}
		a.backoff[k] = bk
	}
	d := a.cfg.BackoffBase << min(bk.failures, 16)
	if d > a.cfg.BackoffMax || d <= 0 {
		d = a.cfg.BackoffMax
	}
	bk.failures++
	bk.until = now.Add(d)
	bk.reason, bk.message = reason, msg
}

func (a *Agent) containerStatus(uid, name, image string, have map[string]ContainerState, now time.Time) events.ContainerStatus {
	cs, ok := have[name]
	out := events.ContainerStatus{Name: name, Image: image, State: events.ContainerWaiting, Reason: "ContainerCreating"}
	if ok {
		out.ContainerID = cs.ID
		out.RestartCount = cs.Restarts
		switch {
		case cs.Running:
			out.State, out.Reason, out.Ready = events.ContainerRunning, "", true
			t := cs.StartedAt
			out.StartedAt = &t
		case cs.Exited:
			code := cs.ExitCode
			out.State, out.ExitCode = events.ContainerTerminated, &code
			out.Reason = "Completed"
			if code != 0 {
				out.Reason = "Error"
			}
			s, f := cs.StartedAt, cs.FinishedAt
			out.StartedAt, out.FinishedAt = &s, &f
		}
	}
	a.smu.Lock()
	bk := a.backoff[uid+"/"+name]
	var bkc backoff
	if bk != nil {
		bkc = *bk
	}
	a.smu.Unlock()
	if bk := &bkc; bk.reason != "" && now.Before(bk.until) && !(ok && cs.Running) {
		out.State, out.Reason, out.Message, out.Ready = events.ContainerWaiting, bk.reason, bk.message, false
		if bk.reason == "ErrImagePull" && bk.failures > 1 {
			out.Reason = "ImagePullBackOff"
		}
	}
	return out
}

// Phase derives a pod's phase from its containers, as Kubernetes does.
func Phase(policy string, cs []events.ContainerStatus) string {
	if len(cs) == 0 {
		return events.PhasePending
	}
	running, terminated, failed, waitingNever := 0, 0, 0, 0
	for _, c := range cs {
		switch c.State {
		case events.ContainerRunning:
			running++
		case events.ContainerTerminated:
			terminated++
			if c.ExitCode != nil && *c.ExitCode != 0 {
				failed++
			}
		default:
			if c.StartedAt == nil && c.RestartCount == 0 {
				waitingNever++
			}
		}
	}
	switch {
	case terminated == len(cs) && (policy == "Never" || (policy == "OnFailure" && failed == 0)):
		if failed > 0 {
			return events.PhaseFailed
		}
		return events.PhaseSucceeded
	case waitingNever > 0 && running == 0:
		return events.PhasePending
	default:
		return events.PhaseRunning
	}
}

// heartbeat says the node is alive and how many pods it runs; it has a
// fresh id, being a point in time.
func (a *Agent) heartbeat(ctx context.Context) error {
	n := 0
	a.mu.Lock()
	for _, b := range a.desired {
		if !b.deleted {
			n++
		}
	}
	a.mu.Unlock()
	return a.publishObs(ctx, events.HeartbeatSubject(a.cfg.Name), &events.NodeHeartbeat{Node: a.info, Pods: n}, events.Envelope{}, a.cfg.Name)
}

// publishObs appends one observation with a fresh id (registration,
// heartbeats) and waits for the log to store it.
func (a *Agent) publishObs(ctx context.Context, subject string, ev events.Event, cause events.Envelope, object string) error {
	out, err := a.outgoing(subject, ev, cause, object, events.NewID())
	if err != nil {
		return err
	}
	if _, err := bus.PublishOne(ctx, a.conn.JS, out); err != nil {
		return fmt.Errorf("node %s report %s: %w", a.cfg.Name, ev.Type(), err)
	}
	return nil
}

// Info is what the node announced.
func (a *Agent) Info() events.NodeInfo { return a.info }
