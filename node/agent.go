package node

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/events/sealed"
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
	// FenceAfter is how long the agent keeps its pods running without a
	// heartbeat acknowledged by the log: past it, it stops them all (fences
	// itself, fence.go), so that a control plane that has lost the node can
	// run them elsewhere with no second copy. It must be shorter than the
	// health service's grace plus the pods' toleration, minus the time to
	// stop the pods (default 5 s, against 5 s + 2 s; at least three
	// heartbeat intervals). Negative: never fence.
	FenceAfter time.Duration
	// BackoffBase and BackoffMax bound restart back-off (10 s and 5 min, as in
	// Kubernetes): a crashed container's first restart is at once, the next
	// ones wait BackoffBase doubled per crash, at most BackoffMax.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// BackoffReset is how long a container must have run, when it exits,
	// for its back-off to start over (default 10 min, as in Kubernetes).
	BackoffReset time.Duration
	Clock        func() time.Time
	Version      string
	// Parallel bounds how many pods are started at once (default 8).
	Parallel int
	// Taints the node declares (none by default).
	Taints []manifest.Taint
	// VolumesDir is where the local-path provisioner's volumes of this node
	// live, one directory each (<data-dir>/node/volumes for `gantry up`;
	// "": the node offers no local volumes).
	VolumesDir string
	// ReportGather is how long the report writer waits, after a report, for
	// others to write with it (default 5 ms): pods that come up together
	// share one write, and a real pod, whose start takes hundreds of
	// milliseconds, is reported barely later.
	ReportGather time.Duration

	// The fields below serve many agents in one process (gantry sim); a real
	// agent leaves them zero.

	// HeartbeatConn, when set, carries the heartbeats: agents sharing
	// connections (gantry sim) would otherwise have their heartbeats' answers
	// queued behind other agents' decisions, where a real agent's
	// connection is its own.
	HeartbeatConn *bus.Conn
	// HeartbeatJitter, when positive, adds a random 0..HeartbeatJitter to
	// every heartbeat interval, so agents started together do not heartbeat
	// together. 0: a fixed HeartbeatEvery.
	HeartbeatJitter time.Duration
	// Feed, when set, delivers the decisions addressed to this node and the
	// agent creates no durable consumer of its own: whoever feeds it follows
	// gantry.node.<name>.pod.> (and .config.>) from at most the log's end
	// before the agent started, and in order. The agent takes each message and reconciles
	// exactly as with its own consumer, then calls Ack on it.
	Feed <-chan jetstream.Msg
	// Ready, when set, is called once the agent has registered, restored its
	// state from the log and follows its decisions.
	Ready func()
	// Services are programmed from the cluster's Services while the agent
	// runs (WatchServices): its proxy and DNS server. None: the node serves
	// no Service (gantry sim).
	Services []ServiceSyncer
	// Routes, when set, is given the routes to the other nodes' pods
	// (WatchRoutes: host-gw) while the agent runs.
	Routes RouteSyncer
	// Volumes makes the pods' volumes and resolves their mounts and env
	// (node/volumes, under the agent's state dir). None: pods get their
	// literal env only and no volumes (gantry sim).
	Volumes Volumes
	// KeyDir keeps the node's own key (a sealed.Keyring: keyring.json, mode
	// 0600, made at the first start): the Secrets its pods use are
	// delivered sealed to its public key, which the node announces
	// (NodeInfo.SealKey). SealKey, when set, is the key instead (gantry
	// sim's agents share one); with neither, the agent makes a key for this
	// run.
	KeyDir  string
	SealKey *sealed.KeyPair
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
	// claims is what the node was told of its volumes (claims.go).
	claims *claimStore
	// volumesCollected: the pods' volumes left by an earlier run were
	// removed (volumes.go; only the reconcile loop reads and writes it).
	volumesCollected bool

	// desired is written only by the agent's loop, under mu; the logs server
	// and the heartbeats read it from other goroutines under mu.
	mu      sync.Mutex
	desired map[string]*binding // ns/name → newest decision for this node

	// rmu guards what the log holds of the agent's reports: the report
	// writer stores into it while a reconcile's pod workers read it.
	rmu       sync.Mutex
	published map[string]reported // ns/name → the last status the log stored
	removed   map[string]string   // ns/name → uid whose removal was reported

	// Owned by the loop: only reconcile reads and writes them (its pod
	// workers read a snapshot and hand back their changes).
	backoff map[string]Backoff // uid/container → restart back-off
	wakeAt  time.Time          // when a held-back container may start (zero: none)

	// Fencing (fence.go). lastAck is when the newest heartbeat the log
	// stored was made (unix ns). fenced: the planner stops every pod.
	// silent: no heartbeats, from the fence until the agent has caught up
	// with the log.
	lastAck atomic.Int64
	beats   atomic.Int32 // heartbeats waiting for the log's answer
	fenced  atomic.Bool
	silent  atomic.Bool
	// rcCancel ends the reconcile in flight (the fence does not wait for a
	// reconcile stuck on an unreachable log).
	rcMu     sync.Mutex
	rcCancel context.CancelFunc

	// lc runs probes, hooks, kills and graceful stops beyond a reconcile;
	// kicks asks the loop to plan again when one of them found something.
	lc    *lifecycle
	kicks chan struct{}

	// key is the node's own key (Config.KeyDir) and pub its public half;
	// configs what it was given of its pods' ConfigMaps and Secrets
	// (configs.go).
	key     nodeKey
	pub     sealed.PublicKey
	configs *configStore
}

// binding is the newest decision of one pod for this node.
type binding struct {
	bound   *events.PodBound
	env     events.Envelope // the decision's envelope: the cause of the node's reports
	deleted bool
	// grace, on a deletion that sets one, overrides the pod's
	// terminationGracePeriodSeconds.
	grace *int64
}

// New makes an agent for one node.
func New(cfg Config, rt Runtime, conn *bus.Conn, log zerolog.Logger) *Agent {
	if cfg.HeartbeatEvery == 0 {
		cfg.HeartbeatEvery = DefaultHeartbeat
	}
	if cfg.FenceAfter == 0 {
		cfg.FenceAfter = max(defaultFenceAfter, 3*(cfg.HeartbeatEvery+cfg.HeartbeatJitter))
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
	if cfg.BackoffReset == 0 {
		cfg.BackoffReset = 10 * time.Minute
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
	a := &Agent{cfg: cfg, rt: rt, conn: conn, log: log.With().Str("node", cfg.Name).Logger(),
		desired: map[string]*binding{}, published: map[string]reported{}, removed: map[string]string{},
		backoff: map[string]Backoff{}, kicks: make(chan struct{}, 1), configs: newConfigStore(), claims: newClaimStore()}
	if cfg.SealKey != nil {
		a.key, a.pub = *cfg.SealKey, cfg.SealKey.Public
	}
	a.lc = newLifecycle(rt, a.log, cfg.Clock, a.kick)
	return a
}

// watch runs a watcher of the log (services, routes) until ctx ends or
// the returned stop is called, starting it again after an error.
func (a *Agent) watch(ctx context.Context, what string, run func(context.Context) error) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if err := run(ctx); err != nil {
				a.log.Warn().Err(err).Str("watch", what).Msg("watching again")
				select {
				case <-ctx.Done():
				case <-time.After(serviceRetry):
				}
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// kick asks the loop to plan again, without blocking.
func (a *Agent) kick() {
	select {
	case a.kicks <- struct{}{}:
	default:
	}
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
	if a.key == nil {
		if a.key, a.pub, err = a.loadKey(); err != nil {
			return fmt.Errorf("node %s key: %w", a.cfg.Name, err)
		}
	}
	a.info = events.NodeInfo{Name: a.cfg.Name, Labels: labels, Capacity: capacity, Allocatable: capacity,
		PodCIDR: a.cfg.PodCIDR, Address: a.cfg.Address, Runtime: a.rt.Name(), Version: a.cfg.Version, Taints: a.cfg.Taints,
		VolumesDir: a.cfg.VolumesDir, FenceAfterMillis: max(a.cfg.FenceAfter.Milliseconds(), 0), SealKey: a.pub.String()}

	if err := a.register(ctx); err != nil {
		return err
	}
	a.lastAck.Store(a.cfg.Clock().UnixNano())
	if err := a.restore(ctx); err != nil {
		return err
	}
	sub, err := a.serveLogs(ctx)
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	stopPF, err := a.servePortForward(ctx)
	if err != nil {
		return err
	}
	defer stopPF()

	dec, err := a.follow(ctx)
	if err != nil {
		return err
	}
	defer func() { dec.end() }()

	// Probes, hooks and graceful stops end with the loop.
	defer a.lc.close()

	if len(a.cfg.Services) > 0 {
		// The endpoints take the view last, after the proxy and DNS: a
		// pod being stopped waits to leave them (lifecycle's drain).
		eps := newEndpointSet()
		a.lc.setDrain(eps.waitGone)
		syncers := append(append([]ServiceSyncer(nil), a.cfg.Services...), eps)
		defer a.watch(ctx, "services", func(ctx context.Context) error {
			return WatchServices(ctx, a.conn.JS, a.log, syncers...)
		})()
	}
	if a.cfg.Routes != nil {
		defer a.watch(ctx, "routes", func(ctx context.Context) error {
			return WatchRoutes(ctx, a.conn.JS, a.log, a.cfg.Name, a.cfg.Routes)
		})()
	}

	// wake fires when a back-off the last plan waits out ends.
	wake := time.NewTimer(time.Hour)
	wake.Stop()
	defer wake.Stop()
	reconcile := func() {
		a.reconcile(ctx)
		if !a.wakeAt.IsZero() {
			wake.Reset(max(a.wakeAt.Sub(a.cfg.Clock()), time.Millisecond))
		}
	}
	// The first heartbeat follows the first reconcile: a restarted agent
	// has removed what is no longer bound here before the node is seen
	// alive.
	reconcile()
	if err := a.heartbeat(ctx); err != nil && ctx.Err() == nil {
		// The heartbeats go on; the fence counts from the registration.
		a.log.Warn().Err(err).Msg("first heartbeat")
	}
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
	// The fence's watchdog stops with the heartbeats (stopHB).
	fenceC, rejoinC := make(chan struct{}, 1), make(chan struct{}, 1)
	if a.cfg.FenceAfter > 0 {
		fenceDone := make(chan struct{})
		go func() {
			defer close(fenceDone)
			a.watchFence(hbCtx, fenceC, rejoinC)
		}()
		defer func() {
			stopHB()
			<-fenceDone
		}()
	}

	resync := time.NewTicker(a.cfg.ResyncEvery)
	defer resync.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case m, ok := <-dec.msgs:
			if !ok {
				return nil
			}
			batch := []jetstream.Msg{m}
		drain:
			for len(batch) < 256 {
				select {
				case m, ok := <-dec.msgs:
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
			reconcile()
			// Acknowledge only once the decisions have been acted on and the
			// resulting observations are stored (reconcile returns after
			// the log has answered for its reports).
			for _, m := range batch {
				if err := m.Ack(); err != nil {
					a.log.Warn().Err(err).Msg("ack decision")
				}
			}
		case <-dec.lost:
			dec.end()
			if dec, err = a.relearn(ctx, "the node's decisions consumer was deleted (a restored or repaired log?): reading the newest decision of each pod again"); err != nil {
				return nil // ctx ended while the log was away
			}
			reconcile()
		case <-fenceC:
			reconcile() // fenced: the plan stops every pod
		case <-rejoinC:
			if !a.silent.Load() {
				continue
			}
			dec.end()
			if dec, err = a.relearn(ctx, "the log answers again after the node fenced itself: reading the newest decision of each pod before the next heartbeat"); err != nil {
				return nil
			}
			a.rejoin(ctx)
		case <-a.rt.Changes():
			reconcile()
		case <-resync.C:
			reconcile()
		case <-wake.C:
			reconcile()
		case <-a.kicks:
			reconcile()
		}
	}
}

// Info is what the node announced.
func (a *Agent) Info() events.NodeInfo { return a.info }
