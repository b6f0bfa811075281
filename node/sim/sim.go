// Package sim is the simulated node runtime: it runs no containers, only
// keeps their state in memory. It exists for scale tests (thousands of nodes
// in one process) and for tests of the control plane without containerd;
// everything above the runtime is the real node agent.
package sim

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"time"

	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/node"
)

// Config shapes a simulated machine.
type Config struct {
	MilliCPU int64
	Memory   int64
	PodCIDR  string
	// MissingImages are images the simulated store does not have.
	MissingImages map[string]bool
	// StartDelay is how long a container takes to start: it is created at
	// once and reported waiting (ContainerCreating), then runs after the
	// delay and the runtime signals Changes (0: it runs at once).
	StartDelay time.Duration
	Clock      func() time.Time
}

// Runtime is a simulated node.Runtime.
type Runtime struct {
	cfg     Config
	prefix  netip.Prefix
	mu      sync.Mutex
	pods    map[string]*node.PodState // uid → state
	logs    map[string][]byte         // uid/container → log
	prev    map[string][]byte         // uid/container → log of the instance before the last restart
	ips     map[netip.Addr]bool       // addresses held by a sandbox
	next    netip.Addr                // where the search for a free address starts
	changes chan struct{}
	// starting holds the containers (uid/container) waiting out StartDelay.
	starting map[string]*time.Timer
}

// New returns an empty simulated runtime.
func New(cfg Config) (*Runtime, error) {
	if cfg.PodCIDR == "" {
		cfg.PodCIDR = "10.42.0.0/24"
	}
	prefix, err := netip.ParsePrefix(cfg.PodCIDR)
	if err != nil {
		return nil, fmt.Errorf("simulated runtime pod cidr %q: %w", cfg.PodCIDR, err)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	prefix = prefix.Masked()
	if !prefix.Addr().Is4() || prefix.Bits() > 30 {
		return nil, fmt.Errorf("simulated runtime pod cidr %q: want an IPv4 prefix of /30 or wider", cfg.PodCIDR)
	}
	return &Runtime{cfg: cfg, prefix: prefix, pods: map[string]*node.PodState{}, logs: map[string][]byte{}, prev: map[string][]byte{},
		ips: map[netip.Addr]bool{}, next: first(prefix), changes: make(chan struct{}, 1),
		starting: map[string]*time.Timer{}}, nil
}

// first is the first address given to pods: the network address and the
// one after it (the bridge's gateway) are never handed out.
func first(p netip.Prefix) netip.Addr { return p.Addr().Next().Next() }

// allocate returns a free address of the pod CIDR, the lowest at or after
// the previous one (wrapping), so addresses are reused only once released
// and never leave the CIDR. r.mu is held.
func (r *Runtime) allocate() (netip.Addr, error) {
	a := r.next
	for range 1 << (32 - r.prefix.Bits()) {
		if !r.prefix.Contains(a) || isBroadcast(r.prefix, a) {
			a = first(r.prefix)
		}
		if !r.ips[a] {
			r.ips[a] = true
			r.next = a.Next()
			return a, nil
		}
		a = a.Next()
	}
	return netip.Addr{}, fmt.Errorf("pod cidr %s is exhausted (%d pods hold an address)", r.prefix, len(r.ips))
}

func isBroadcast(p netip.Prefix, a netip.Addr) bool {
	n := a.Next()
	return !n.IsValid() || !p.Contains(n)
}

// Name implements node.Runtime.
func (r *Runtime) Name() string { return "simulated" }

// Capacity implements node.Runtime.
func (r *Runtime) Capacity(context.Context) (map[string]int64, error) {
	return map[string]int64{"cpu": r.cfg.MilliCPU, "memory": r.cfg.Memory}, nil
}

// Pods implements node.Runtime.
func (r *Runtime) Pods(context.Context) ([]node.PodState, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]node.PodState, 0, len(r.pods))
	for _, p := range r.pods {
		cp := *p
		cp.Containers = append([]node.ContainerState(nil), p.Containers...)
		out = append(out, cp)
	}
	return out, nil
}

// Pod implements node.Runtime.
func (r *Runtime) Pod(_ context.Context, uid string) (node.PodState, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pods[uid]
	if p == nil {
		return node.PodState{}, false, nil
	}
	cp := *p
	cp.Containers = append([]node.ContainerState(nil), p.Containers...)
	return cp, true, nil
}

// CreateSandbox implements node.Runtime.
func (r *Runtime) CreateSandbox(_ context.Context, pod node.Pod) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.pods[pod.UID]; p != nil {
		return p.IP, nil
	}
	ip, err := r.allocate()
	if err != nil {
		return "", fmt.Errorf("create sandbox of %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	r.pods[pod.UID] = &node.PodState{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID, Epoch: pod.Epoch, IP: ip.String()}
	return ip.String(), nil
}

// StartContainer implements node.Runtime.
func (r *Runtime) StartContainer(_ context.Context, pod node.Pod, c manifest.Container) error {
	if r.cfg.MissingImages[c.Image] {
		return fmt.Errorf("start container %s of %s/%s: image %q: %w", c.Name, pod.Namespace, pod.Name, c.Image, node.ErrImageNotFound)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pods[pod.UID]
	if p == nil {
		return fmt.Errorf("start container %s of %s/%s: no sandbox", c.Name, pod.Namespace, pod.Name)
	}
	k := pod.UID + "/" + c.Name
	if r.starting[k] != nil {
		return nil // waiting out StartDelay
	}
	var cs *node.ContainerState
	for i := range p.Containers {
		if p.Containers[i].Name == c.Name {
			cs = &p.Containers[i]
		}
	}
	switch {
	case cs == nil:
		p.Containers = append(p.Containers, node.ContainerState{Name: c.Name, ID: "sim-" + pod.UID[:min(8, len(pod.UID))] + "-" + c.Name, Image: c.Image})
		cs = &p.Containers[len(p.Containers)-1]
		r.logs[k] = fmt.Appendf(nil, "simulated container %s of %s/%s started\n", c.Name, pod.Namespace, pod.Name)
	case cs.Running:
		return nil
	case cs.Exited:
		cs.Exited, cs.Restarts = false, cs.Restarts+1
		// The ended instance's log becomes the previous one, as the kubelet keeps it.
		r.prev[k] = r.logs[k]
		r.logs[k] = fmt.Appendf(nil, "simulated container %s of %s/%s started (restart %d)\n", c.Name, pod.Namespace, pod.Name, cs.Restarts)
	}
	if r.cfg.StartDelay <= 0 {
		cs.Running, cs.StartedAt = true, r.cfg.Clock()
		return nil
	}
	uid, name := pod.UID, c.Name
	r.starting[k] = time.AfterFunc(r.cfg.StartDelay, func() { r.started(uid, name) })
	return nil
}

// started runs a container whose StartDelay has passed, unless its pod was
// removed meanwhile, and signals Changes.
func (r *Runtime) started(uid, container string) {
	r.mu.Lock()
	delete(r.starting, uid+"/"+container)
	if p := r.pods[uid]; p != nil {
		for i := range p.Containers {
			if cs := &p.Containers[i]; cs.Name == container && !cs.Running && !cs.Exited {
				cs.Running, cs.StartedAt = true, r.cfg.Clock()
			}
		}
	}
	r.mu.Unlock()
	r.signal()
}

func (r *Runtime) signal() {
	select {
	case r.changes <- struct{}{}:
	default:
	}
}

// Exit ends a running container with a code, as if its process had exited;
// tests use it to drive restarts.
func (r *Runtime) Exit(uid, container string, code int32) {
	r.mu.Lock()
	if p := r.pods[uid]; p != nil {
		for i := range p.Containers {
			if cs := &p.Containers[i]; cs.Name == container && cs.Running {
				cs.Running, cs.Exited, cs.ExitCode, cs.FinishedAt = false, true, code, r.cfg.Clock()
				k := uid + "/" + container
				r.logs[k] = fmt.Appendf(r.logs[k], "simulated container %s exited with code %d\n", container, code)
			}
		}
	}
	r.mu.Unlock()
	r.signal()
}

// RemovePod implements node.Runtime.
func (r *Runtime) RemovePod(_ context.Context, _, _, uid string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.pods[uid]; p != nil {
		for _, c := range p.Containers {
			k := uid + "/" + c.Name
			delete(r.logs, k)
			delete(r.prev, k)
			if t := r.starting[k]; t != nil {
				t.Stop()
				delete(r.starting, k)
			}
		}
		if ip, err := netip.ParseAddr(p.IP); err == nil {
			delete(r.ips, ip)
		}
	}
	delete(r.pods, uid)
	return nil
}

// Logs implements node.Runtime.
func (r *Runtime) Logs(ctx context.Context, ns, name, container string, opts node.LogOptions, w io.Writer) error {
	r.mu.Lock()
	var data, prev []byte
	found, restarted := false, false
	for uid, p := range r.pods {
		if p.Namespace == ns && p.Name == name {
			data, found = r.logs[uid+"/"+container]
			prev, restarted = r.prev[uid+"/"+container]
		}
	}
	r.mu.Unlock()
	switch {
	case !found:
		return fmt.Errorf("logs of %s/%s container %s: not found", ns, name, container)
	case opts.Previous && !restarted:
		return fmt.Errorf("logs of %s/%s container %s: %w", ns, name, container, node.ErrNoPreviousLog)
	case opts.Previous:
		data = prev
	}
	if _, err := w.Write(data); err != nil {
		return err
	}
	if opts.Follow && !opts.Previous {
		<-ctx.Done()
	}
	return nil
}

// Changes implements node.Runtime.
func (r *Runtime) Changes() <-chan struct{} { return r.changes }

var _ node.Runtime = (*Runtime)(nil)
