// Package containerd runs Gantry's pods with containerd: one network
// namespace per pod (node/network), one containerd container per pod
// container in the namespace "gantry", its output in a log file per container
// instance (the current one and the one before the last restart).
// Everything the runtime knows survives a restart of the agent: pod identity
// is kept in container labels and in sandbox records under the state dir.
package containerd

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/defaults"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/node"
	"github.com/gantry-sh/gantry/node/network"
)

// Defaults for Config.
const (
	DefaultAddress     = defaults.DefaultAddress
	DefaultNamespace   = "gantry"
	DefaultStopTimeout = 10 * time.Second
	DefaultPullTimeout = 15 * time.Second
	// MaxPods is the pod capacity a node reports.
	MaxPods = 110
)

// Config configures the containerd runtime.
type Config struct {
	// Address is containerd's socket; default /run/containerd/containerd.sock.
	Address string
	// Namespace is the containerd namespace Gantry owns; default "gantry".
	Namespace string
	// StateDir holds sandbox records (StateDir/sandboxes), container logs
	// (StateDir/logs/<ns>_<pod>_<uid>/<container>.log, and .log.previous for
	// the instance before the last restart) and IP leases.
	StateDir string
	// PodCIDR is the node's pod subnet; default 10.42.0.0/24.
	PodCIDR string
	// ClusterCIDR holds every node's pod CIDR (pod to pod across nodes is
	// not masqueraded); default PodCIDR.
	ClusterCIDR string
	// BridgeName is the pods' bridge; default gantry0.
	BridgeName string
	// CNIPluginDirs hold the CNI plugins; default /usr/lib/cni, /opt/cni/bin.
	CNIPluginDirs []string
	// NetNSDir is where pod namespaces are mounted; default /var/run/netns.
	NetNSDir string
	// NodeName is recorded on every container.
	NodeName string
	// Snapshotter unpacks images and holds root filesystems; default is
	// containerd's default (overlayfs).
	Snapshotter string
	// StopTimeout is how long RemovePod waits after SIGTERM; default 10 s.
	StopTimeout time.Duration
	// PullTimeout bounds the pull of an image missing from the store;
	// default 15 s.
	PullTimeout time.Duration
	// DNSServers, DNSSearch and DNSOptions make the pods' resolv.conf; when
	// DNSServers is empty the host's is used without its loopback name
	// servers.
	DNSServers []string
	DNSSearch  []string
	DNSOptions []string
	// ClusterDomain, with DNSServers naming the node's cluster DNS, gives
	// each pod Kubernetes' ClusterFirst resolv.conf: search
	// <ns>.svc.<domain> svc.<domain> <domain>, then DNSSearch or else the
	// host's search domains, and options ndots:5.
	ClusterDomain string
	// ResolvConf is the host's resolver configuration; default
	// /etc/resolv.conf.
	ResolvConf string
}

func (c *Config) setDefaults() {
	if c.Address == "" {
		c.Address = DefaultAddress
	}
	if c.Namespace == "" {
		c.Namespace = DefaultNamespace
	}
	if c.PodCIDR == "" {
		c.PodCIDR = network.DefaultPodCIDR
	}
	if c.BridgeName == "" {
		c.BridgeName = network.DefaultBridgeName
	}
	if len(c.CNIPluginDirs) == 0 {
		c.CNIPluginDirs = network.DefaultPluginDirs
	}
	if c.NetNSDir == "" {
		c.NetNSDir = network.DefaultNetNSDir
	}
	if c.Snapshotter == "" {
		c.Snapshotter = defaults.DefaultSnapshotter
	}
	if c.StopTimeout <= 0 {
		c.StopTimeout = DefaultStopTimeout
	}
	if c.PullTimeout <= 0 {
		c.PullTimeout = DefaultPullTimeout
	}
	if c.ResolvConf == "" {
		c.ResolvConf = "/etc/resolv.conf"
	}
}

// Runtime is node.Runtime on containerd.
type Runtime struct {
	cfg     Config
	client  *client.Client
	net     *network.Network
	log     zerolog.Logger
	changes chan struct{}

	// base is the context of the exit watchers; Close cancels it.
	base   context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	watching map[string]uint64 // container id → generation of its exit watcher
	watchGen uint64
	podLocks map[string]*podLock
	closed   bool
}

type podLock struct {
	mu   sync.Mutex
	refs int
}

var _ node.Runtime = (*Runtime)(nil)

// New connects to containerd, prepares the state dir and the pod network,
// and adopts the running containers it finds: their exits are watched again.
func New(ctx context.Context, cfg Config, log zerolog.Logger) (*Runtime, error) {
	cfg.setDefaults()
	if cfg.StateDir == "" {
		return nil, fmt.Errorf("containerd runtime: state dir is required")
	}
	abs, err := filepath.Abs(cfg.StateDir)
	if err != nil {
		return nil, fmt.Errorf("containerd runtime: state dir: %w", err)
	}
	cfg.StateDir = abs
	for _, d := range []string{cfg.StateDir, filepath.Join(cfg.StateDir, "sandboxes"), filepath.Join(cfg.StateDir, "logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("containerd runtime: %w", err)
		}
	}
	netw, err := network.New(network.Config{
		PodCIDR:     cfg.PodCIDR,
		ClusterCIDR: cfg.ClusterCIDR,
		BridgeName:  cfg.BridgeName,
		PluginDirs:  cfg.CNIPluginDirs,
		StateDir:    cfg.StateDir,
		NetNSDir:    cfg.NetNSDir,
	}, log)
	if err != nil {
		return nil, fmt.Errorf("containerd runtime: %w", err)
	}

	c, err := client.New(cfg.Address, client.WithDefaultNamespace(cfg.Namespace), client.WithTimeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("containerd runtime: connect to %s: %w", cfg.Address, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	v, err := c.Version(pctx)
	cancel()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("containerd runtime: containerd is not reachable at %s (is it running? `go tool task setup` starts it): %w", cfg.Address, err)
	}

	base, stop := context.WithCancel(namespaces.WithNamespace(context.Background(), cfg.Namespace))
	r := &Runtime{
		cfg:      cfg,
		client:   c,
		net:      netw,
		log:      log,
		changes:  make(chan struct{}, 1),
		base:     base,
		cancel:   stop,
		watching: map[string]uint64{},
		podLocks: map[string]*podLock{},
	}
	log.Info().Str("address", cfg.Address).Str("version", v.Version).Str("namespace", cfg.Namespace).Msg("connected to containerd")
	if _, err := r.Pods(ctx); err != nil {
		r.Close()
		return nil, fmt.Errorf("containerd runtime: adopt running containers: %w", err)
	}
	return r, nil
}

// Close stops watching exits and closes the connection. Containers keep
// running: a new Runtime adopts them.
func (r *Runtime) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
	return r.client.Close()
}

// Name is "containerd".
func (r *Runtime) Name() string { return "containerd" }

// Changes signals when a watched container exits.
func (r *Runtime) Changes() <-chan struct{} { return r.changes }

// Client is the containerd client, for tools that need more than the
// runtime offers.
func (r *Runtime) Client() *client.Client { return r.client }

// Config is the configuration in force, defaults filled in.
func (r *Runtime) Config() Config { return r.cfg }

func (r *Runtime) notify() {
	select {
	case r.changes <- struct{}{}:
	default:
	}
}

// nsCtx puts the runtime's containerd namespace on ctx.
func (r *Runtime) nsCtx(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, r.cfg.Namespace)
}

// lockPod serializes operations on one pod; the returned func unlocks.
func (r *Runtime) lockPod(uid string) func() {
	r.mu.Lock()
	l := r.podLocks[uid]
	if l == nil {
		l = &podLock{}
		r.podLocks[uid] = l
	}
	l.refs++
	r.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		r.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(r.podLocks, uid)
		}
		r.mu.Unlock()
	}
}

// Capacity is the machine's cpu (millicores), memory (bytes) and pod slots.
func (r *Runtime) Capacity(ctx context.Context) (map[string]int64, error) {
	mem, err := memTotal("/proc/meminfo")
	if err != nil {
		return nil, fmt.Errorf("capacity: %w", err)
	}
	return map[string]int64{
		"cpu":    int64(goruntime.NumCPU()) * 1000,
		"memory": mem,
		"pods":   MaxPods,
	}, nil
}

// memTotal reads MemTotal from a meminfo file, in bytes.
func memTotal(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: MemTotal: %w", path, err)
			}
			return kb * 1024, nil
		}
	}
	if err := s.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s: no MemTotal", path)
}
