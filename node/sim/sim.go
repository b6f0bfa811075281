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
	// StartDelay delays a container's start (0: at once).
	StartDelay time.Duration
	Clock      func() time.Time
}

// Runtime is a simulated node.Runtime.
type Runtime struct {
	cfg     Config
	mu      sync.Mutex
	pods    map[string]*node.PodState // uid → state
	logs    map[string][]byte         // uid/container → log
	next    netip.Addr
	changes chan struct{}
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
	return &Runtime{cfg: cfg, pods: map[string]*node.PodState{}, logs: map[string][]byte{},
		next: prefix.Masked().Addr().Next(), changes: make(chan struct{}, 1)}, nil
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
	r.next = r.next.Next()
	r.pods[pod.UID] = &node.PodState{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID, Epoch: pod.Epoch, IP: r.next.String()}
	return r.next.String(), nil
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
	now := r.cfg.Clock().Add(r.cfg.StartDelay)
	for i := range p.Containers {
		cs := &p.Containers[i]
		if cs.Name != c.Name {
			continue
		}
		if cs.Running {
			return nil
		}
		cs.Running, cs.Exited, cs.Restarts, cs.StartedAt = true, false, cs.Restarts+1, now
		return nil
	}
	p.Containers = append(p.Containers, node.ContainerState{Name: c.Name, ID: "sim-" + pod.UID[:8] + "-" + c.Name,
		Image: c.Image, Running: true, StartedAt: now})
	r.logs[pod.UID+"/"+c.Name] = fmt.Appendf(nil, "simulated container %s of %s/%s started\n", c.Name, pod.Namespace, pod.Name)
	return nil
}

// Exit ends a running container with a code, as if its process had exited;
// tests use it to drive restarts.
func (r *Runtime) Exit(uid, container string, code int32) {
	r.mu.Lock()
	if p := r.pods[uid]; p != nil {
		for i := range p.Containers {
			if cs := &p.Containers[i]; cs.Name == container && cs.Running {
				cs.Running, cs.Exited, cs.ExitCode, cs.FinishedAt = false, true, code, r.cfg.Clock()
			}
		}
	}
	r.mu.Unlock()
	select {
	case r.changes <- struct{}{}:
	default:
	}
}

// RemovePod implements node.Runtime.
func (r *Runtime) RemovePod(_ context.Context, _, _, uid string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.pods[uid]; p != nil {
		for _, c := range p.Containers {
			delete(r.logs, uid+"/"+c.Name)
		}
	}
	delete(r.pods, uid)
	return nil
}

// Logs implements node.Runtime.
func (r *Runtime) Logs(ctx context.Context, ns, name, container string, follow bool, w io.Writer) error {
	r.mu.Lock()
	var data []byte
	found := false
	for uid, p := range r.pods {
		if p.Namespace == ns && p.Name == name {
			data, found = r.logs[uid+"/"+container]
		}
	}
	r.mu.Unlock()
	if !found {
		return fmt.Errorf("logs of %s/%s container %s: not found", ns, name, container)
	}
	if _, err := w.Write(data); err != nil {
		return err
	}
	if follow {
		<-ctx.Done()
	}
	return nil
}

// Changes implements node.Runtime.
func (r *Runtime) Changes() <-chan struct{} { return r.changes }

var _ node.Runtime = (*Runtime)(nil)
