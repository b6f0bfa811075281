package sim

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/events/sealed"
	"github.com/gantry-sh/gantry/node"
)

// Consumer modes of a fleet: how the agents receive their decisions.
const (
	// ConsumeDurable: every agent follows its own durable consumer
	// node-<name>, exactly as a real agent does.
	ConsumeDurable = "durable"
	// ConsumeShared: the fleet follows gantry.node.*.pod.> and
	// gantry.node.*.config.> with one ordered consumer and hands each
	// decision to its node's agent (node.Config.Feed); the agents' take,
	// reconcile and report are unchanged.
	ConsumeShared = "shared"
)

// durableWarn is how many durable consumers the fleet creates without a
// warning: nats-server's default_max_consumers is 1,000 per stream, and the
// control plane's services hold a few.
const durableWarn = 990

// ZoneLabel is the topology label a fleet spreads over zones a, b and c
// unless the fleet's labels set it.
const ZoneLabel = "topology.kubernetes.io/zone"

// DefaultCIDRs is carved into one /24 per simulated node: 16,384 of them.
var DefaultCIDRs = netip.MustParsePrefix("100.64.0.0/10")

// FleetConfig describes many simulated nodes run in one process.
type FleetConfig struct {
	Nodes      int
	NamePrefix string // nodes are <prefix>-0 … <prefix>-<n-1>
	MilliCPU   int64
	Memory     int64
	MaxPods    int64
	Labels     map[string]string // on every node; ZoneLabel is spread unless set here
	Taints     []manifest.Taint
	StartDelay time.Duration // how long a container takes to start
	ReadyDelay time.Duration // how long a running container stays not ready (simulated)
	// Heartbeat is each agent's heartbeat interval (default
	// node.DefaultHeartbeat), plus a
	// random 0..Jitter per beat so agents started together drift apart
	// (0: no jitter).
	Heartbeat time.Duration
	Jitter    time.Duration
	// Resync is how often every agent reconciles with no news (default 10 s).
	Resync time.Duration
	// Options add to every connection's (credentials, inbox prefix).
	Options []nats.Option
	// Conns is how many NATS connections the agents share (default 8).
	Conns int
	// StartParallel bounds how many agents start (register, restore,
	// consumer) at once (default 64).
	StartParallel int
	// Consume is ConsumeShared (default) or ConsumeDurable.
	Consume string
	// CIDRs is carved into one /24 per node (default DefaultCIDRs).
	CIDRs   netip.Prefix
	Version string
}

// Validate checks the config and fills its defaults.
func (c *FleetConfig) Validate() error {
	if c.Nodes < 1 {
		return fmt.Errorf("nodes: %d, want at least 1", c.Nodes)
	}
	if c.NamePrefix == "" {
		c.NamePrefix = "sim"
	}
	if !c.CIDRs.IsValid() {
		c.CIDRs = DefaultCIDRs
	}
	if !c.CIDRs.Addr().Is4() || c.CIDRs.Bits() > 24 {
		return fmt.Errorf("pod CIDRs %s: want an IPv4 prefix of /24 or wider", c.CIDRs)
	}
	if max := 1 << (24 - c.CIDRs.Bits()); c.Nodes > max {
		return fmt.Errorf("nodes: %d, but %s holds only %d /24 pod CIDRs", c.Nodes, c.CIDRs, max)
	}
	if c.MilliCPU <= 0 || c.Memory <= 0 || c.MaxPods <= 0 {
		return fmt.Errorf("cpu, memory and pods must be positive (cpu %dm, memory %d, pods %d)", c.MilliCPU, c.Memory, c.MaxPods)
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = node.DefaultHeartbeat
	}
	if c.Heartbeat < 0 || c.Jitter < 0 {
		return fmt.Errorf("heartbeat %s and jitter %s must not be negative", c.Heartbeat, c.Jitter)
	}
	if c.Resync == 0 {
		c.Resync = 10 * time.Second
	}
	if c.Conns <= 0 {
		c.Conns = 8
	}
	if c.StartParallel <= 0 {
		c.StartParallel = 64
	}
	switch c.Consume {
	case "":
		c.Consume = ConsumeShared
	case ConsumeDurable, ConsumeShared:
	default:
		return fmt.Errorf("consumer mode %q: want %s or %s", c.Consume, ConsumeDurable, ConsumeShared)
	}
	return nil
}

// NodeName is the name of the i-th node.
func (c *FleetConfig) NodeName(i int) string { return c.NamePrefix + "-" + strconv.Itoa(i) }

// PodCIDR is the i-th /24 of CIDRs.
func (c *FleetConfig) PodCIDR(i int) string {
	b := c.CIDRs.Masked().Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += uint32(i) << 8
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 24).String()
}

// NodeLabels are the labels of the i-th node.
func (c *FleetConfig) NodeLabels(i int) map[string]string {
	out := make(map[string]string, len(c.Labels)+1)
	for k, v := range c.Labels {
		out[k] = v
	}
	if _, ok := out[ZoneLabel]; !ok {
		out[ZoneLabel] = string(rune('a' + i%3))
	}
	return out
}

// Fleet runs simulated nodes: the real node agent (node.Agent) on the
// simulated runtime, many agents sharing a few NATS connections.
type Fleet struct {
	cfg    FleetConfig
	log    zerolog.Logger
	agtLog zerolog.Logger
	conns  []*bus.Conn
	beats  []*bus.Conn // the heartbeats' connections

	rts   []*Runtime
	feeds map[string]chan jetstream.Msg // node → decisions (shared mode)
	// key is the one key every simulated node announces and opens its
	// Secrets with: thousands of agents need no key each.
	key sealed.KeyPair

	ready    atomic.Int64
	restarts atomic.Int64
	wg       sync.WaitGroup
}

// NewFleet dials the fleet's connections. log is the fleet's own logger,
// agentLog the agents'.
func NewFleet(url string, cfg FleetConfig, log, agentLog zerolog.Logger) (*Fleet, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f := &Fleet{cfg: cfg, log: log, agtLog: agentLog}
	var err error
	if f.key, err = sealed.NewKeyPair(); err != nil {
		return nil, err
	}
	for i := range cfg.Conns {
		c, err := bus.Connect(url, fmt.Sprintf("gantry-sim-%s-%d", cfg.NamePrefix, i), cfg.Options...)
		if err != nil {
			f.Close()
			return nil, err
		}
		f.conns = append(f.conns, c)
	}
	for i := range max(cfg.Conns/4, 1) {
		c, err := bus.Connect(url, fmt.Sprintf("gantry-sim-%s-beats-%d", cfg.NamePrefix, i), cfg.Options...)
		if err != nil {
			f.Close()
			return nil, err
		}
		f.beats = append(f.beats, c)
	}
	for i := range cfg.Nodes {
		rt, err := New(Config{MilliCPU: cfg.MilliCPU, Memory: cfg.Memory, PodCIDR: cfg.PodCIDR(i), StartDelay: cfg.StartDelay, ReadyDelay: cfg.ReadyDelay})
		if err != nil {
			f.Close()
			return nil, err
		}
		f.rts = append(f.rts, rt)
	}
	return f, nil
}

// Close closes the fleet's connections; call it after Wait.
func (f *Fleet) Close() {
	for _, c := range append(f.conns, f.beats...) {
		c.Close()
	}
}

// Runtime is the simulated runtime of the i-th node.
func (f *Fleet) Runtime(i int) *Runtime { return f.rts[i] }

// Ready is how many agents follow their decisions.
func (f *Fleet) Ready() int { return int(f.ready.Load()) }

// Start runs every agent until ctx ends, at most StartParallel starting at
// once, and returns when all of them follow their decisions (or ctx ends).
// An agent whose Run fails is started again, as a restarted agent would be.
func (f *Fleet) Start(ctx context.Context) error {
	if f.cfg.Consume == ConsumeShared {
		if err := f.startFeed(ctx); err != nil {
			return err
		}
	} else if f.cfg.Nodes > durableWarn {
		f.log.Warn().Int("nodes", f.cfg.Nodes).Msg("durable consumers: nats-server refuses more than 1,000 consumers on " +
			events.StreamDecisions + " unless the stream sets MaxConsumers; agents refused keep retrying")
	}
	started := time.Now()
	sem := make(chan struct{}, f.cfg.StartParallel)
	all := make(chan struct{})
	var pending sync.WaitGroup
	pending.Add(f.cfg.Nodes)
	go func() { pending.Wait(); close(all) }()
	progress := time.NewTicker(5 * time.Second)
	defer progress.Stop()
	for i := range f.cfg.Nodes {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		var readyOnce, releaseOnce sync.Once
		release := func() { releaseOnce.Do(func() { <-sem }) }
		ready := func() {
			readyOnce.Do(func() {
				f.ready.Add(1)
				pending.Done()
			})
			release()
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.runAgent(ctx, i, ready, release)
		}()
		select {
		case <-progress.C:
			f.log.Info().Int("ready", f.Ready()).Int("nodes", f.cfg.Nodes).Str("elapsed", time.Since(started).Round(time.Millisecond).String()).Msg("starting simulated nodes")
		default:
		}
	}
	for {
		select {
		case <-all:
			f.log.Info().Int("nodes", f.cfg.Nodes).Str("took", time.Since(started).Round(time.Millisecond).String()).Str("consumers", f.cfg.Consume).
				Int("conns", f.cfg.Conns).Str("rss", rss()).Msg("simulated nodes ready")
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-progress.C:
			f.log.Info().Int("ready", f.Ready()).Int("nodes", f.cfg.Nodes).Str("elapsed", time.Since(started).Round(time.Millisecond).String()).Msg("starting simulated nodes")
		}
	}
}

// Wait returns when every agent has stopped (after ctx of Start ends).
func (f *Fleet) Wait() { f.wg.Wait() }

// runAgent runs the i-th node's agent until ctx ends, restarting it (with
// back-off) when Run fails. ready is called when the agent follows its
// decisions, release when its first Run ends (whichever comes first frees
// the agent's start slot).
func (f *Fleet) runAgent(ctx context.Context, i int, ready, release func()) {
	name := f.cfg.NodeName(i)
	cfg := node.Config{Name: name, Labels: f.cfg.NodeLabels(i), PodCIDR: f.cfg.PodCIDR(i), MaxPods: f.cfg.MaxPods,
		HeartbeatEvery: f.cfg.Heartbeat, HeartbeatJitter: f.cfg.Jitter, ResyncEvery: f.cfg.Resync,
		Version: f.cfg.Version, Taints: f.cfg.Taints, Ready: ready, HeartbeatConn: f.beats[i%len(f.beats)], SealKey: &f.key}
	if f.feeds != nil {
		cfg.Feed = f.feeds[name]
	}
	wait := time.Second
	for {
		err := node.New(cfg, f.rts[i], f.conns[i%len(f.conns)], f.agtLog).Run(ctx)
		release()
		if ctx.Err() != nil {
			return
		}
		f.restarts.Add(1)
		f.log.Warn().Err(err).Str("node", name).Str("retry", wait.String()).Msg("simulated node agent stopped; restarting it")
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// fedMsg is a decision handed to an agent by the fleet's shared consumer: it
// is ordered and acknowledges nothing, so the agent's Ack is a no-op.
type fedMsg struct{ jetstream.Msg }

func (fedMsg) Ack() error { return nil }

// startFeed follows every node's decisions from the end of the log as it is
// now (each agent restores what came before) and hands each to its agent.
func (f *Fleet) startFeed(ctx context.Context) error {
	f.feeds = make(map[string]chan jetstream.Msg, f.cfg.Nodes)
	for i := range f.cfg.Nodes {
		f.feeds[f.cfg.NodeName(i)] = make(chan jetstream.Msg, 256)
	}
	js := f.conns[0].JS
	var last uint64
	filters := []string{events.SubjectNodePodAll, events.SubjectNodeConfigAll}
	for _, flt := range filters {
		l, err := bus.LastSeq(ctx, js, events.StreamDecisions, flt)
		if err != nil {
			return err
		}
		last = max(last, l)
	}
	cons, err := js.OrderedConsumer(ctx, events.StreamDecisions, jetstream.OrderedConsumerConfig{
		FilterSubjects: filters,
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy, OptStartSeq: last + 1})
	if err != nil {
		return fmt.Errorf("simulated nodes: follow decisions: %w", err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(4096))
	if err != nil {
		return fmt.Errorf("simulated nodes: follow decisions: %w", err)
	}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		<-ctx.Done()
		it.Stop()
	}()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			m, err := it.Next()
			if err != nil {
				if errors.Is(err, jetstream.ErrMsgIteratorClosed) || ctx.Err() != nil {
					return
				}
				f.log.Warn().Err(err).Msg("follow decisions")
				continue
			}
			// gantry.node.<node>.pod.<ns>.<pod>, gantry.node.<node>.config.…
			tok := strings.SplitN(m.Subject(), ".", 4)
			if len(tok) < 4 {
				continue
			}
			feed := f.feeds[tok[2]]
			if feed == nil {
				continue // another node's
			}
			select {
			case feed <- fedMsg{m}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return nil
}

// rss is this process's resident and peak memory, for the log.
func rss() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	var cur, peak string
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			cur = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			peak = strings.TrimSpace(v)
		}
	}
	return cur + " (peak " + peak + ")"
}
