package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/cli/client"
	"github.com/gantry-sh/gantry/events/authz"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/identity"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/events/sealed"
	"github.com/gantry-sh/gantry/node"
	"github.com/gantry-sh/gantry/node/containerd"
	"github.com/gantry-sh/gantry/node/dns"
	"github.com/gantry-sh/gantry/node/network"
	"github.com/gantry-sh/gantry/node/proxy"
	"github.com/gantry-sh/gantry/node/sim"
	"github.com/gantry-sh/gantry/services"
	"github.com/gantry-sh/gantry/services/health"
	"github.com/gantry-sh/gantry/services/ipam"
	"github.com/gantry-sh/gantry/services/replica"
	"github.com/gantry-sh/gantry/services/runner"
	"github.com/gantry-sh/gantry/services/scheduler"
)

// nodeFlags configure a node agent, in `up` and in `node`.
type nodeFlags struct {
	name     string
	runtime  string
	podCIDR  string
	nodeIP   string
	bridge   string
	labels   []string
	taints   []string
	dataDir  string
	ctrdSock string
	ctrdNS   string
}

func (f *nodeFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&f.name, "node-name", "", "node name (default: the hostname's first label)")
	c.Flags().StringVar(&f.runtime, "runtime", "containerd", "node runtime: containerd, or simulated (no containers; for tests)")
	c.Flags().StringVar(&f.podCIDR, "pod-cidr", "", "this node's pod CIDR (default: one the control plane allocates from its cluster CIDR, 10.42.0.0/16)")
	c.Flags().StringVar(&f.nodeIP, "node-ip", "", "the address other nodes and clients reach this node on (default: the host's address on its default route)")
	c.Flags().StringVar(&f.bridge, "pod-bridge", "gantry0", "the Linux bridge this node's pods join (at most 15 bytes; give each cluster on one machine its own)")
	c.Flags().StringSliceVar(&f.labels, "labels", nil, "node labels, key=value[,key=value]")
	c.Flags().StringSliceVar(&f.taints, "taints", nil, "node taints, key[=value]:NoSchedule|PreferNoSchedule|NoExecute[,…]")
	c.Flags().StringVar(&f.ctrdSock, "containerd", "/run/containerd/containerd.sock", "containerd socket")
	c.Flags().StringVar(&f.ctrdNS, "containerd-namespace", "gantry", "containerd namespace the node's containers live in")
}

func newUpCmd(g *client.Globals) *cobra.Command {
	var listen string
	var pf planeFlags
	var withNode, acceptLoss, noAuth bool
	var nf nodeFlags
	c := &cobra.Command{
		Use:   "up",
		Short: "Run a one-node cluster in this process: embedded NATS, every service and a node agent",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			offLoopback, err := checkListen(listen, noAuth)
			if err != nil {
				return err
			}
			if err := pf.validate(); err != nil {
				return err
			}
			ctx, stop, log, err := daemon(g, cmd)
			if err != nil {
				return err
			}
			defer stop()
			defer stopped(log, &err) // last: after NATS has shut down
			if err := os.MkdirAll(nf.dataDir, 0o755); err != nil {
				return fmt.Errorf("--data-dir %s: %w", nf.dataDir, err)
			}
			if withNode {
				if nf.name, err = nodeName(nf.name); err != nil {
					return err
				}
			}
			var ids *upIdentities
			if !noAuth {
				if ids, err = makeIdentities(filepath.Join(nf.dataDir, "identity"), nf.name, withNode); err != nil {
					return err
				}
			} else {
				log.Warn().Msg("authentication is off (--insecure-no-auth): any client that reaches NATS may write anything")
			}
			if ids != nil {
				// A data dir from before authentication keeps its log.
				if err := bus.AdoptStore(filepath.Join(nf.dataDir, "nats"), ids.set.AccountKey); err != nil {
					return err
				}
			}
			// Off loopback the server speaks TLS only (a CA made at first
			// start); plain text is refused on every connection.
			var tlsCfg *tls.Config
			if offLoopback {
				if tlsCfg, err = ids.serverTLS(listen); err != nil {
					return err
				}
			}
			srv, err := bus.StartServer(bus.ServerConfig{StoreDir: filepath.Join(nf.dataDir, "nats"), Listen: listen,
				Log: log, Disk: &bus.DiskConfig{}, Auth: ids.server(), TLS: tlsCfg})
			if err != nil {
				return err
			}
			defer srv.Shutdown()
			url := localURL(srv.ClientURL())
			log.Info().Str("nats", url).Str("data", nf.dataDir).Bool("auth", ids != nil).Msg("embedded NATS with JetStream (sync always) ready")
			conn, err := bus.Connect(url, "gantry-up", ids.controlPlane()...)
			if err != nil {
				return err
			}
			defer conn.Close()
			keep, err := guardLog(ctx, cmd, conn, nf.dataDir, acceptLoss, log)
			if err != nil {
				return err
			}
			defer keep()
			start := time.Now()
			pf.keyringDir = filepath.Join(nf.dataDir, "keyring") // the Secrets' keys (docs/configuration.md)
			if ids != nil {
				pf.identityDir = filepath.Join(nf.dataDir, "identity") // intents' signers (docs/security-signing.md)
			}
			plane, err := startPlane(ctx, conn, nil, pf, log)
			if err != nil {
				return err
			}
			log.Info().Str("replay", time.Since(start).Round(100*time.Microsecond).String()).Msg("control plane ready")
			agentErr := make(chan error, 1)
			agentRunning := withNode
			if agentRunning {
				go func() { agentErr <- runNode(ctx, g, &nf, url, ids.node(), log) }()
			}
			fmt.Fprintf(g.Out, "gantry is up: NATS at %s (export GANTRY_NATS=%s)\n", url, url)
			if ids != nil {
				if err := ids.writeContext(g.Out, url); err != nil {
					return err
				}
			}
			var failed error
			select {
			case <-ctx.Done():
			case <-plane.Failed(): // a service failed, or a stream was deleted
				failed = plane.Wait()
			case err := <-agentErr:
				agentRunning = false
				if ctx.Err() == nil {
					failed = cmp.Or(err, errors.New("node agent stopped"))
					// The agent may have stopped because the log did (a stream
					// deleted under it): then the log's failure is the reason.
					select {
					case <-plane.Failed():
						failed = plane.Wait()
					case <-time.After(agentBlameWait):
					}
				}
			}
			if failed != nil {
				log.Error().Err(failed).Msg("stopping")
			} else {
				log.Info().Str("signal", signalOf(ctx)).Msg("stopping")
			}
			stop()
			if agentRunning {
				// The agent stops its containers' supervision and its
				// heartbeats before NATS goes away.
				select {
				case <-agentErr:
				case <-time.After(agentStopTimeout):
					log.Warn().Str("waited", agentStopTimeout.String()).Msg("node agent not stopped; going on")
				}
			}
			if err := planeStopped(plane.Wait()); err != nil {
				return err
			}
			return failed
		},
	}
	c.Flags().StringVar(&listen, "listen", "127.0.0.1:4222", "HOST:PORT for the NATS client port; off loopback it speaks TLS only, with a certificate from the cluster's CA (<data-dir>/identity/ca.crt)")
	c.Flags().BoolVar(&noAuth, "insecure-no-auth", false, "for benchmarks only: run NATS without authentication (anyone who reaches it may write anything)")
	_ = c.Flags().MarkHidden("insecure-no-auth")
	c.Flags().StringVar(&nf.dataDir, "data-dir", "/var/lib/gantry", "where the log and node state live")
	c.Flags().BoolVar(&withNode, "node", true, "run a node agent for this machine in the same process")
	c.Flags().BoolVar(&acceptLoss, acceptLossFlag, false, acceptLossUsage)
	pf.register(c)
	nf.register(c)
	return c
}

func newServeCmd(g *client.Globals) *cobra.Command {
	var names []string
	var pf planeFlags
	var acceptLoss bool
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run control-plane services against an external NATS (--nats)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			if err := pf.validate(); err != nil {
				return err
			}
			ctx, stop, log, err := daemon(g, cmd)
			if err != nil {
				return err
			}
			defer stop()
			defer stopped(log, &err)
			conn, err := g.Connect("serve")
			if err != nil {
				return err
			}
			defer conn.Close()
			keep, err := guardLog(ctx, cmd, conn, "", acceptLoss, log)
			if err != nil {
				return err
			}
			defer keep()
			plane, err := startPlane(ctx, conn, names, pf, log)
			if err != nil {
				return err
			}
			log.Info().Strs("services", names).Msg("services ready")
			defer logStopping(ctx, log)()
			return planeStopped(plane.Wait())
		},
	}
	pf.register(c)
	c.Flags().BoolVar(&acceptLoss, acceptLossFlag, false, acceptLossUsage)
	c.Flags().StringSliceVar(&names, "services", nil, "services to run (default all: "+strings.Join(services.Names(), ",")+")")
	c.Flags().StringVar(&pf.keyringDir, "keyring-dir", "", "where the keyring that seals Secrets is kept (made when absent); without it, Secrets with data are refused")
	c.Flags().StringVar(&pf.identityDir, "identity-dir", "", "the cluster's identities (gantry up's <data-dir>/identity): admission verifies intents' signatures against its users; without it, intents are not verified")
	return c
}

func newNodeCmd(g *client.Globals) *cobra.Command {
	var nf nodeFlags
	c := &cobra.Command{
		Use:   "node",
		Short: "Run a node agent against an external NATS (--nats)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			ctx, stop, log, err := daemon(g, cmd)
			if err != nil {
				return err
			}
			defer stop()
			defer stopped(log, &err)
			defer logStopping(ctx, log)()
			url, opts, err := g.Cluster()
			if err != nil {
				return err
			}
			return runNode(ctx, g, &nf, url, opts, log)
		},
	}
	c.Flags().StringVar(&nf.dataDir, "data-dir", "/var/lib/gantry", "where node state and logs live")
	nf.register(c)
	c.AddCommand(client.CordonCmds(g)...)
	c.AddCommand(client.DrainCmd(g), newNodeCredentialsCmd(g))
	return c
}

// runNode runs a node agent until ctx ends.
func runNode(ctx context.Context, g *client.Globals, nf *nodeFlags, url string, opts []nats.Option, log zerolog.Logger) error {
	name, err := nodeName(nf.name)
	if err != nil {
		return err
	}
	labels, err := parseLabels(nf.labels)
	if err != nil {
		return err
	}
	taints, err := parseTaints(nf.taints)
	if err != nil {
		return err
	}
	// Dial before making the runtime: no bridge or sandbox state for a
	// node that cannot reach its cluster.
	// The node's answers come under its own inbox prefix, the only one its
	// credentials may subscribe to.
	opts = append(opts[:len(opts):len(opts)], nats.CustomInboxPrefix(identity.NodeInbox(name)))
	conn, err := client.DialCluster(url, "gantry-node-"+name, false, opts...)
	if err != nil {
		return err
	}
	defer conn.Close()
	var rt node.Runtime
	var vols node.Volumes             // containerd only: the simulated runtime mounts nothing
	var services []node.ServiceSyncer // programmed from the cluster's Services
	var routes node.RouteSyncer       // the routes to other nodes' pods
	address := ""                     // where other nodes and clients reach this one
	podCIDR := nf.podCIDR
	switch nf.runtime {
	case "containerd":
		// The pods' network is made from the CIDR the control plane gives.
		podCIDR, err = node.RequestPodCIDR(ctx, conn, name, nf.podCIDR, podCIDRWait)
		if err != nil {
			return err
		}
		log.Info().Str("node", name).Str("podCIDR", podCIDR).Msg("pod CIDR allocated")
		// The cluster DNS answers the pods on their gateway (the bridge's
		// address, the pod CIDR's first), port 53.
		gw, err := podGateway(podCIDR)
		if err != nil {
			return err
		}
		resolver, err := dns.New(log, dns.Config{Listen: net.JoinHostPort(gw, "53")})
		if err != nil {
			return err
		}
		if err := resolver.Start(ctx); err != nil {
			return fmt.Errorf("cluster DNS on %s: %w", gw, err)
		}
		defer resolver.Close()
		services = append(services, resolver)
		// Services' virtual IPs, node ports and load-balancer ports, and the
		// routes to the other nodes' pods.
		nodeIP, err := nodeAddress(nf.nodeIP)
		if err != nil && nf.nodeIP == "" {
			// A host with no default route: a one-node cluster still
			// serves its node ports on loopback.
			log.Warn().Err(err).Msg("node address: serving node ports on 127.0.0.1 only")
			nodeIP, err = netip.MustParseAddr("127.0.0.1"), nil
		}
		if err != nil {
			return err
		}
		address = nodeIP.String()
		clusterCIDR, _ := netip.ParsePrefix(ipam.DefaultClusterCIDR)
		// One nftables table per pod bridge: a cluster's own on a host shared
		// with another (the end-to-end tests beside gantry up).
		table := proxy.Table
		if nf.bridge != network.DefaultBridgeName {
			table += "-" + nf.bridge
		}
		px, err := proxy.New(log, proxy.Config{NodeName: name, NodeIPs: []netip.Addr{nodeIP}, ClusterCIDR: clusterCIDR, Table: table})
		if err != nil {
			return err
		}
		defer px.Close()
		services = append(services, px)
		rtable, err := network.NewRouteTable("")
		if err != nil {
			return err
		}
		defer rtable.Close()
		routes = routeTable{rtable}
		r, err := containerd.New(ctx, containerd.Config{Address: nf.ctrdSock, Namespace: nf.ctrdNS, StateDir: filepath.Join(nf.dataDir, "node"),
			PodCIDR: podCIDR, ClusterCIDR: clusterCIDR.String(), BridgeName: nf.bridge, NodeName: name, DNSServers: []string{gw}, ClusterDomain: dns.DefaultDomain}, log)
		if err != nil {
			return err
		}
		defer r.Close()
		rt = r
		if vols, err = nodeVolumes(ctx, r, filepath.Join(nf.dataDir, "node", "pods"), name, address, log); err != nil {
			return err
		}
	case "simulated":
		r, err := sim.New(sim.Config{MilliCPU: 8000, Memory: 16 << 30, PodCIDR: podCIDR})
		if err != nil {
			return err
		}
		rt = r
	default:
		return fmt.Errorf("--runtime %q: want containerd or simulated", nf.runtime)
	}
	volumes, err := filepath.Abs(filepath.Join(nf.dataDir, "node", "volumes"))
	if err != nil {
		return err
	}
	agent := node.New(node.Config{Name: name, Labels: labels, Taints: taints, PodCIDR: podCIDR, Address: address, Version: version,
		Services: services, Routes: routes, VolumesDir: volumes, Volumes: vols, KeyDir: filepath.Join(nf.dataDir, "node", node.KeyDirName)}, rt, conn, log)
	log.Info().Str("node", name).Str("runtime", rt.Name()).Msg("node agent starting")
	return agent.Run(ctx)
}

// nodeName is --node-name, or the host's name; a valid node name.
func nodeName(flag string) (string, error) {
	name := flag
	if name == "" {
		var err error
		if name, err = node.DefaultName(); err != nil {
			return "", err
		}
	}
	if fe := client.ValidateNodeName(name); fe != nil {
		return "", fe
	}
	return name, nil
}

// routeTable hands the node's route plans to the kernel's main table.
type routeTable struct{ t *network.RouteTable }

func (r routeTable) SyncRoutes(plan []node.PodRoute) error {
	out := make([]network.Route, len(plan))
	for i, p := range plan {
		out[i] = network.Route{Dst: p.CIDR, Via: p.Via}
	}
	return r.t.Sync(out)
}

// nodeAddress is --node-ip, or the host's address on its default route.
func nodeAddress(flag string) (netip.Addr, error) {
	if flag == "" {
		return network.DefaultAddress()
	}
	a, err := netip.ParseAddr(flag)
	if err != nil || !a.Is4() {
		return netip.Addr{}, fmt.Errorf("--node-ip %q: must be an IPv4 address", flag)
	}
	return a, nil
}

// podGateway is the pods' gateway in a pod CIDR: its first address, the
// bridge's (node/network).
func podGateway(cidr string) (string, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return "", fmt.Errorf("pod CIDR %q: %w", cidr, err)
	}
	return p.Masked().Addr().Next().String(), nil
}

// podCIDRWait bounds how long a node waits for the control plane to give
// it its pod CIDR (gantry up's own node asks its own control plane, which
// is starting alongside).
const podCIDRWait = 60 * time.Second

// agentBlameWait is how long gantry up waits, when its node agent stops on
// its own, for the control plane to say it failed first (the stream watch
// hears of a deleted stream at once).
const agentBlameWait = 2 * time.Second

// agentStopTimeout bounds how long `gantry up` waits for its node agent to
// stop before it shuts NATS down.
const agentStopTimeout = 10 * time.Second

// signalOf names the signal that ended a daemon's context ("interrupt",
// "terminated"), or the context's error when no signal did.
func signalOf(ctx context.Context) string {
	cause := context.Cause(ctx)
	if cause == nil {
		return ""
	}
	if name, ok := strings.CutSuffix(cause.Error(), " signal received"); ok {
		return name
	}
	return cause.Error()
}

// logStopping logs "stopping", with the signal, when ctx ends before the
// returned function is called; that function returns once it is done, so
// "stopping" never follows "stopped".
func logStopping(ctx context.Context, log zerolog.Logger) (release func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-ctx.Done():
			log.Info().Str("signal", signalOf(ctx)).Msg("stopping")
		case <-quit:
		}
	}()
	return func() { close(quit); <-done }
}

// stopped logs that a daemon has stopped cleanly; one that stops on an
// error ends with that error instead.
func stopped(log zerolog.Logger, err *error) {
	if *err == nil {
		log.Info().Msg("stopped")
	}
}

// planeStopped is the error the control plane stopped on, if any: a service
// that was stopping when it was told to stop (one taking its lease when the
// signal came) did not fail.
func planeStopped(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// daemon prepares a long-running command: its logger, and a context that
// ends on SIGINT or SIGTERM.
func daemon(g *client.Globals, cmd *cobra.Command) (context.Context, context.CancelFunc, zerolog.Logger, error) {
	log, err := g.Logger()
	if err != nil {
		return nil, nil, log, err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	return ctx, stop, log, nil
}

// startPlane runs the named services (all when none) and waits until they
// have replayed the log.
func startPlane(ctx context.Context, conn *bus.Conn, names []string, pf planeFlags, log zerolog.Logger) (*services.Plane, error) {
	cfg := pf.config()
	cfg.Runner = runner.Config{Instance: instanceName()}
	if pf.keyringDir != "" {
		kr, err := sealed.LoadOrCreate(pf.keyringDir)
		if err != nil {
			return nil, fmt.Errorf("keyring: %w", err)
		}
		cfg.Keyring = kr
	}
	if pf.identityDir != "" {
		users, err := identity.LoadUsers(pf.identityDir)
		if err != nil {
			return nil, fmt.Errorf("users: %w", err)
		}
		cfg.Users = users
	}
	plane, err := services.Start(ctx, conn, names, cfg, log)
	if err != nil {
		return nil, err
	}
	if err := plane.WaitReady(ctx, 5*time.Minute); err != nil {
		return nil, err
	}
	return plane, nil
}

// planeFlags tune the control plane, in `up` and in `serve`.
type planeFlags struct {
	policy     string
	maxPods    int32
	grace      time.Duration
	toleration int64
	keyringDir string // the Secrets' keyring (up: <data-dir>/keyring; serve: --keyring-dir)
	// identityDir is where the users whose signed intents admission
	// accepts are (up: <data-dir>/identity); empty: intents are not verified.
	identityDir string
	authz       string // --authorization
}

func (f *planeFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&f.policy, "scheduler-policy", scheduler.PolicyBinPack,
		"how the scheduler scores nodes: binpack (most allocated) or spread (least allocated)")
	// services.DefaultMaxPodsPerWorkload says why 10,000.
	c.Flags().Int32Var(&f.maxPods, "max-pods-per-workload", services.DefaultMaxPodsPerWorkload,
		"the most pods one workload may ask for; admission refuses a Deployment with more replicas")
	c.Flags().DurationVar(&f.grace, "node-monitor-grace-period", health.DefaultGrace,
		"how long a node may go without a heartbeat before it is NotReady and tainted unreachable")
	c.Flags().Int64Var(&f.toleration, "default-unreachable-toleration-seconds", int64(replica.DefaultToleration/time.Second),
		"how long a pod that says nothing of it stays on an unreachable node before it is evicted and replaced")
	c.Flags().StringVar(&f.authz, "authorization", "",
		"rbac: enforce Roles and bindings on every intent (the cluster's mode, set at its first start; see docs/security-rbac.md)")
}

func (f *planeFlags) validate() error {
	if err := (scheduler.Config{Policy: f.policy}).Validate(); err != nil {
		return fmt.Errorf("--scheduler-policy: %w", err)
	}
	if f.grace < time.Second {
		return fmt.Errorf("--node-monitor-grace-period %s: must be at least 1s", f.grace)
	}
	switch strings.ToLower(f.authz) {
	case "", "rbac":
	default:
		return fmt.Errorf("--authorization %q: want rbac", f.authz)
	}
	if f.toleration < 0 {
		return fmt.Errorf("--default-unreachable-toleration-seconds %d: must not be negative", f.toleration)
	}
	return nil
}

func (f *planeFlags) config() services.Config {
	cfg := services.Config{Scheduler: scheduler.Config{Policy: f.policy}, MaxPodsPerWorkload: f.maxPods,
		NodeGrace: f.grace, DefaultToleration: time.Duration(f.toleration) * time.Second}
	if strings.EqualFold(f.authz, "rbac") {
		// The identity starting the cluster is its cluster-admin.
		cfg.Authorization, cfg.Admin = authz.ModeRBAC, client.Actor()
	}
	return cfg
}

// instanceName names this process in the services' leases: only the holder
// of a service's lease acts, so several `gantry serve` can run as standbys.
func instanceName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}

// checkListen checks --listen and says whether it is off loopback (then
// the server speaks TLS only, and authentication cannot be off).
func checkListen(addr string, noAuth bool) (offLoopback bool, err error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("--listen %q: want HOST:PORT: %w", addr, err)
	}
	if port == "" {
		return false, fmt.Errorf("--listen %q: port is missing", addr)
	}
	ip := net.ParseIP(host)
	if host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return false, nil
	}
	if noAuth {
		return false, fmt.Errorf("--listen %q: --insecure-no-auth listens on loopback only", addr)
	}
	return true, nil
}

// localURL is url with an unspecified host (0.0.0.0, ::) made 127.0.0.1:
// where this process's own connections go.
func localURL(url string) string {
	for _, any := range []string{"://0.0.0.0:", "://[::]:"} {
		url = strings.Replace(url, any, "://127.0.0.1:", 1)
	}
	return url
}

func parseLabels(kvs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--labels %q: want key=value", kv)
		}
		if msg := manifest.LabelKeyProblem(k); msg != "" {
			return nil, fmt.Errorf("--labels %q: %s", kv, msg)
		}
		if msg := manifest.LabelValueProblem(v); msg != "" {
			return nil, fmt.Errorf("--labels %q: %s", kv, msg)
		}
		out[k] = v
	}
	return out, nil
}
