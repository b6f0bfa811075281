package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/cli/client"
	"github.com/gantry-sh/gantry/events/identity"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/node"
	"github.com/gantry-sh/gantry/node/sim"
)

// simFlags are the flags of `gantry sim`.
type simFlags struct {
	nodes         int
	cpu, memory   string
	pods          int64
	labels        []string
	taints        []string
	startDelay    time.Duration
	readyDelay    time.Duration
	prefix        string
	heartbeat     time.Duration
	jitter        time.Duration
	resync        time.Duration
	conns         int
	startParallel int
	consumers     string
	agentLogLevel string
}

func newSimCmd(g *client.Globals) *cobra.Command {
	var f simFlags
	c := &cobra.Command{
		Use:   "sim",
		Short: "Run many simulated nodes in this process against a cluster (--nats), for scale tests",
		Long: `Run N simulated nodes in one process: each is the real node agent on the simulated
runtime (no containers), named <prefix>-0 … <prefix>-<N-1>, with its own /24 pod CIDR
out of 100.64.0.0/10 and the label topology.kubernetes.io/zone spread over a, b and c
(unless --labels sets it). The agents share a few NATS connections (--conns) and start
at most --start-parallel at a time.

By default (--consumers shared) one ordered consumer in this process follows every
node's decisions (gantry.node.*.pod.>) and hands each to its node's agent, which takes,
reconciles and reports as it does with its own consumer. --consumers durable gives
each agent its own durable consumer node-<name>, exactly like a real node; nats-server
refuses more than 1,000 consumers on a stream unless the stream sets a limit, and
5,000 durable consumers cost the server about 450 MB and a minute to create.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, agentLevel, err := f.config()
			if err != nil {
				return err
			}
			ctx, stop, log, err := daemon(g, cmd)
			if err != nil {
				return err
			}
			defer stop()
			agentLog := log.Level(max(agentLevel, log.GetLevel()))
			// One dial first, so no cluster is one clear line, not an error per connection.
			url, opts, err := g.Cluster()
			if err != nil {
				return err
			}
			// The simulator's nodes share one identity (identity.Simulator),
			// whose answers come under its own inbox prefix.
			cfg.Options = append(opts, nats.CustomInboxPrefix(identity.SimulatorInbox))
			check, err := client.DialCluster(url, "gantry-sim", true, cfg.Options...)
			if err != nil {
				return err
			}
			check.Close()
			fleet, err := sim.NewFleet(url, cfg, log.With().Str("sim", cfg.NamePrefix).Logger(), agentLog)
			if err != nil {
				return err
			}
			defer fleet.Close()
			log.Info().Int("nodes", cfg.Nodes).Int64("millicpu", cfg.MilliCPU).Int64("memory", cfg.Memory).Int64("pods", cfg.MaxPods).
				Str("consumers", cfg.Consume).Int("conns", cfg.Conns).Str("heartbeat", cfg.Heartbeat.String()).Msg("starting simulated nodes")
			if err := fleet.Start(ctx); err != nil && ctx.Err() == nil {
				stop()
				fleet.Wait()
				return err
			}
			if ctx.Err() == nil {
				fmt.Fprintf(g.Out, "gantry sim: %d nodes ready (%s-0 … %s)\n", cfg.Nodes, cfg.NamePrefix, cfg.NodeName(cfg.Nodes-1))
			}
			<-ctx.Done()
			fleet.Wait()
			return nil
		},
	}
	fl := c.Flags()
	fl.IntVar(&f.nodes, "nodes", 100, "how many nodes to simulate (at least 1, at most 16384)")
	fl.StringVar(&f.cpu, "cpu", "32", "cpu of each node (a quantity: 32, 500m)")
	fl.StringVar(&f.memory, "memory", "128Gi", "memory of each node (a quantity: 128Gi)")
	fl.Int64Var(&f.pods, "pods", 110, "most pods each node runs")
	fl.StringSliceVar(&f.labels, "labels", nil, "labels of every node, key=value[,key=value]; "+sim.ZoneLabel+" overrides the a/b/c spread")
	fl.StringSliceVar(&f.taints, "taints", nil, "taints of every node, key[=value]:NoSchedule|PreferNoSchedule|NoExecute[,…]")
	fl.DurationVar(&f.startDelay, "start-delay", 0, "how long a simulated container takes to start")
	fl.DurationVar(&f.readyDelay, "ready-delay", 0, "how long a simulated container runs before it is reported Ready (a simulated warm-up; 0: ready at once)")
	fl.StringVar(&f.prefix, "name-prefix", "sim", "node names are <prefix>-<i>")
	fl.DurationVar(&f.heartbeat, "heartbeat", node.DefaultHeartbeat, "heartbeat interval of each node")
	fl.DurationVar(&f.jitter, "heartbeat-jitter", node.DefaultHeartbeat/2, "random extra (0..jitter) on every heartbeat interval, so nodes do not beat together")
	fl.DurationVar(&f.resync, "resync", 10*time.Second, "how often each node reconciles with nothing new")
	fl.IntVar(&f.conns, "conns", 8, "NATS connections shared by the nodes")
	fl.IntVar(&f.startParallel, "start-parallel", 64, "nodes starting (register, restore, consumer) at once")
	fl.StringVar(&f.consumers, "consumers", sim.ConsumeShared, "shared: one ordered consumer in this process feeds every node; durable: each node its own durable consumer node-<name>, as a real node (nats-server allows 1,000 consumers per stream by default)")
	fl.StringVar(&f.agentLogLevel, "agent-log-level", "warn", "log level of the simulated node agents")
	return c
}

// config validates the flags.
func (f *simFlags) config() (sim.FleetConfig, zerolog.Level, error) {
	var cfg sim.FleetConfig
	if f.nodes < 1 {
		return cfg, 0, fmt.Errorf("--nodes %d: want at least 1", f.nodes)
	}
	cpu, err := manifest.ParseQuantity(f.cpu)
	if err != nil {
		return cfg, 0, fmt.Errorf("--cpu: %w", err)
	}
	mem, err := manifest.ParseQuantity(f.memory)
	if err != nil {
		return cfg, 0, fmt.Errorf("--memory: %w", err)
	}
	if cpu.MilliValue() <= 0 {
		return cfg, 0, fmt.Errorf("--cpu %s: must be positive", f.cpu)
	}
	if mem.Value() <= 0 {
		return cfg, 0, fmt.Errorf("--memory %s: must be positive", f.memory)
	}
	if f.pods < 1 {
		return cfg, 0, fmt.Errorf("--pods %d: want at least 1", f.pods)
	}
	if fe := manifest.ValidateName("--name-prefix", f.prefix); fe != nil {
		return cfg, 0, fe
	}
	// The longest name must be a DNS label too (63 characters).
	if fe := client.ValidateNodeName(fmt.Sprintf("%s-%d", f.prefix, max(f.nodes-1, 0))); fe != nil {
		return cfg, 0, fmt.Errorf("--name-prefix %q: %w", f.prefix, fe)
	}
	labels, err := parseLabels(f.labels)
	if err != nil {
		return cfg, 0, err
	}
	taints, err := parseTaints(f.taints)
	if err != nil {
		return cfg, 0, err
	}
	if f.startDelay < 0 {
		return cfg, 0, fmt.Errorf("--start-delay %s: must not be negative", f.startDelay)
	}
	if f.readyDelay < 0 {
		return cfg, 0, fmt.Errorf("--ready-delay %s: must not be negative", f.readyDelay)
	}
	if f.heartbeat <= 0 {
		return cfg, 0, fmt.Errorf("--heartbeat %s: must be positive", f.heartbeat)
	}
	if f.jitter < 0 {
		return cfg, 0, fmt.Errorf("--heartbeat-jitter %s: must not be negative", f.jitter)
	}
	if f.resync <= 0 {
		return cfg, 0, fmt.Errorf("--resync %s: must be positive", f.resync)
	}
	if f.conns < 1 {
		return cfg, 0, fmt.Errorf("--conns %d: want at least 1", f.conns)
	}
	if f.startParallel < 1 {
		return cfg, 0, fmt.Errorf("--start-parallel %d: want at least 1", f.startParallel)
	}
	if f.consumers != sim.ConsumeDurable && f.consumers != sim.ConsumeShared {
		return cfg, 0, fmt.Errorf("--consumers %q: want %s or %s", f.consumers, sim.ConsumeDurable, sim.ConsumeShared)
	}
	lvl, err := zerolog.ParseLevel(f.agentLogLevel)
	if err != nil || f.agentLogLevel == "" {
		return cfg, 0, fmt.Errorf("--agent-log-level %q: want debug, info, warn or error", f.agentLogLevel)
	}
	cfg = sim.FleetConfig{Nodes: f.nodes, NamePrefix: f.prefix, MilliCPU: cpu.MilliValue(), Memory: mem.Value(), MaxPods: f.pods,
		Labels: labels, Taints: taints, StartDelay: f.startDelay, ReadyDelay: f.readyDelay, Heartbeat: f.heartbeat, Jitter: f.jitter, Resync: f.resync,
		Conns: f.conns, StartParallel: f.startParallel, Consume: f.consumers, Version: version}
	if err := cfg.Validate(); err != nil {
		return cfg, 0, fmt.Errorf("sim: %w", err)
	}
	return cfg, lvl, nil
}

// parseTaints reads key[=value]:Effect items.
func parseTaints(items []string) ([]manifest.Taint, error) {
	var out []manifest.Taint
	seen := map[string]bool{}
	for _, it := range items {
		kv, effect, ok := strings.Cut(it, ":")
		if !ok {
			return nil, fmt.Errorf("--taints %q: want key[=value]:Effect", it)
		}
		switch effect {
		case manifest.TaintNoSchedule, manifest.TaintPreferNoSchedule, manifest.TaintNoExecute:
		default:
			return nil, fmt.Errorf("--taints %q: effect %q: want %s, %s or %s", it, effect,
				manifest.TaintNoSchedule, manifest.TaintPreferNoSchedule, manifest.TaintNoExecute)
		}
		k, v, _ := strings.Cut(kv, "=")
		if msg := manifest.LabelKeyProblem(k); msg != "" {
			return nil, fmt.Errorf("--taints %q: %s", it, msg)
		}
		if msg := manifest.LabelValueProblem(v); msg != "" {
			return nil, fmt.Errorf("--taints %q: %s", it, msg)
		}
		if seen[k+":"+effect] {
			return nil, fmt.Errorf("--taints %q: key %s with effect %s given twice", it, k, effect)
		}
		seen[k+":"+effect] = true
		out = append(out, manifest.Taint{Key: k, Value: v, Effect: effect})
	}
	return out, nil
}
