// Package sim is the simulated node runtime: it runs no containers, only
// keeps their state in memory. It exists for scale tests (thousands of nodes
// in one process) and for tests of the control plane without containerd;
// everything above the runtime is the real node agent.
//
// Every container behaves as the demo image (deploy/images/hello) does with
// the same environment, by the same rules (package behaviour): with
// HELLO_RUN_FOR and HELLO_EXIT_CODE it runs for that long and exits with that
// code, with HELLO_FAIL_TIMES its first runs fail, with HELLO_TICK its log
// gains a line per tick, with HELLO_ALLOCATE over its memory limit the OOM
// killer ends it at once (137, OOMKilled), and an invalid variable makes it
// exit with code 2 at once. Without them it runs until it is removed (or Exit
// ends it).
//
// With a ReadyDelay every container instance runs that long before it is
// reported Ready (a simulated warm-up; a real runtime has no such thing).
//
// Probes and hooks are answered without a network (Runtime is a
// probe.Checker): an httpGet is answered as the demo image answers the path
// (/healthz, /ready and /status by HELLO_UNHEALTHY_AFTER, HELLO_UNREADY_AFTER
// and HELLO_QUEUE_DEPTH, a CEL check over that answer; any other path 200,
// so probes written for other images pass), tcpSocket and grpc pass once the container serves
// (HELLO_START_DELAY), exec passes (the demo image's `hello log` and `hello
// probe` do what they do in the image). Tests script results with SetProbe
// and ScriptExec. A stop (StopContainer, StopPod) ends the container at once
// (code 0, or 143 for a run that would have ended by itself), or at the end
// of its grace period (137) when HELLO_IGNORE_SIGTERM=true.
package sim

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"time"

	"github.com/gantry-sh/gantry/deploy/images/hello/behaviour"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/events/probecheck"
	"github.com/gantry-sh/gantry/node"
	"github.com/gantry-sh/gantry/node/probe"
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
	// ReadyDelay is how long a running container stays not ready (a
	// simulated readiness delay, as an application warming up without a
	// probe): each instance is reported Running and not Ready, then Ready
	// once the delay has passed, and the runtime signals Changes (0: ready
	// at once, as a container without probes is).
	ReadyDelay time.Duration
	// InitRunFor is how long an init container runs before it exits 0
	// when its environment does not say (0: DefaultInitRunFor).
	InitRunFor time.Duration
	Clock      func() time.Time
	// AfterFunc runs f after d and returns a function that cancels it
	// (reporting whether it did); default time.AfterFunc. Tests inject a
	// fake clock here and in Clock.
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
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
	starting map[string]func() bool
	// runs holds the containers with an environment (which may ask for a
	// demo image behaviour, or be invalid), for their current instance.
	runs map[string]*run
	// probes and execs are the results tests script (SetProbe, ScriptExec).
	probes map[probeKey]probe.Result
	execs  func(uid, container string, cmd []string) (code int, output []byte, ok bool)
	// cel holds the compiled CEL checks of httpGet probes.
	cel *probecheck.Cache
}

// run is one instance of a container with a demo image behaviour.
type run struct {
	spec    behaviour.Spec
	invalid error       // the environment's error: the instance exits with code 2 at once
	limit   int64       // the container's memory limit in bytes (0: none)
	stop    func() bool // cancels the timer that ends the instance
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
	if cfg.AfterFunc == nil {
		cfg.AfterFunc = func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
	}
	prefix = prefix.Masked()
	if !prefix.Addr().Is4() || prefix.Bits() > 30 {
		return nil, fmt.Errorf("simulated runtime pod cidr %q: want an IPv4 prefix of /30 or wider", cfg.PodCIDR)
	}
	return &Runtime{cfg: cfg, prefix: prefix, pods: map[string]*node.PodState{}, logs: map[string][]byte{}, prev: map[string][]byte{},
		ips: map[netip.Addr]bool{}, next: first(prefix), changes: make(chan struct{}, 1),
		starting: map[string]func() bool{}, runs: map[string]*run{}, probes: map[probeKey]probe.Result{},
		cel: probecheck.NewCache(0)}, nil
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
		cs.Last = cs.Ended()
		cs.Exited, cs.OOMKilled, cs.Restarts = false, false, cs.Restarts+1
		// The ended instance's log becomes the previous one, as the kubelet keeps it.
		r.prev[k] = r.logs[k]
		r.logs[k] = fmt.Appendf(nil, "simulated container %s of %s/%s started (restart %d)\n", c.Name, pod.Namespace, pod.Name, cs.Restarts)
	}
	r.behave(k, c, cs.Restarts)
	r.initBehaviour(k, pod, c) // init.go
	if r.cfg.StartDelay <= 0 {
		if r.begin(pod.UID, cs) {
			r.signal() // never blocks
		}
		return nil
	}
	uid, name := pod.UID, c.Name
	r.starting[k] = r.cfg.AfterFunc(r.cfg.StartDelay, func() { r.started(uid, name) })
	return nil
}

// behave reads the behaviour the container's environment asks of the
// instance after restarts restarts, as the demo image reads it from the
// environment containerd gives it (the container's env, then
// GANTRY_RESTART_COUNT). r.mu is held.
func (r *Runtime) behave(k string, c manifest.Container, restarts int32) {
	if old := r.runs[k]; old != nil && old.stop != nil {
		old.stop()
	}
	delete(r.runs, k)
	if len(c.Env) == 0 {
		return
	}
	env := make([]string, 0, len(c.Env)+1)
	for _, e := range c.Env {
		env = append(env, e.Name+"="+e.Value)
	}
	env = append(env, fmt.Sprintf("%s=%d", behaviour.EnvRestartCount, restarts))
	spec, err := behaviour.Parse(env)
	var limit int64
	if q, ok := c.Resources.Limits["memory"]; ok {
		limit = q.Value()
	}
	r.runs[k] = &run{spec: spec, invalid: err, limit: limit}
}

// begin runs container cs of pod uid: it logs the behaviour's first line and
// arranges the instance's end. It reports whether the instance ended at once
// (an invalid environment, or a run of 0 s). r.mu is held.
func (r *Runtime) begin(uid string, cs *node.ContainerState) bool {
	now := r.cfg.Clock()
	cs.Running, cs.StartedAt = true, now
	k := uid + "/" + cs.Name
	if r.cfg.ReadyDelay > 0 {
		cs.Unready = true
		name := cs.Name
		r.cfg.AfterFunc(r.cfg.ReadyDelay, func() { r.readied(uid, name, now) })
	}
	ru := r.runs[k]
	switch {
	case ru == nil:
		return false
	case ru.invalid != nil:
		r.logs[k] = append(r.logs[k], behaviour.Stamp(now, "hello: "+ru.invalid.Error())...)
		r.exit(uid, cs, behaviour.ExitInvalid, now)
		return true
	}
	if ru.spec.Active() {
		r.logs[k] = append(r.logs[k], behaviour.Stamp(now, ru.spec.StartLine())...)
	}
	if ru.spec.OOMKilled(ru.limit) {
		r.exit(uid, cs, behaviour.ExitOOMKilled, now)
		cs.OOMKilled = true
		return true
	}
	o := ru.spec.Outcome()
	if !o.Ends {
		return false
	}
	if o.After <= 0 {
		r.end(uid, cs, o, now)
		return true
	}
	name, restarts := cs.Name, cs.Restarts
	ru.stop = r.cfg.AfterFunc(o.After, func() { r.ended(uid, name, restarts) })
	return false
}

// ended ends the instance of a container that has run its time, unless it
// was removed or restarted meanwhile, and signals Changes.
func (r *Runtime) ended(uid, container string, restarts int32) {
	r.mu.Lock()
	k := uid + "/" + container
	ru, p := r.runs[k], r.pods[uid]
	done := false
	if ru != nil && p != nil {
		for i := range p.Containers {
			if cs := &p.Containers[i]; cs.Name == container && cs.Running && cs.Restarts == restarts {
				// The instance ends exactly when its time is up, whatever the
				// clock says when the timer runs.
				o := ru.spec.Outcome()
				r.end(uid, cs, o, cs.StartedAt.Add(o.After))
				done = true
			}
		}
	}
	r.mu.Unlock()
	if done {
		r.signal()
	}
}

// end ends an instance that ran its behaviour's course at time at: its ticks
// and the demo image's exit line join its log. r.mu is held.
func (r *Runtime) end(uid string, cs *node.ContainerState, o behaviour.Outcome, at time.Time) {
	k := uid + "/" + cs.Name
	r.logs[k] = append(r.logs[k], r.ticks(k, cs, 0, at)...)
	r.logs[k] = append(r.logs[k], behaviour.Stamp(at, o.ExitLine())...)
	r.exit(uid, cs, int32(o.Code), at)
}

// ticks is the tick lines of container k's running instance after the
// first skip, up to now. r.mu is held.
func (r *Runtime) ticks(k string, cs *node.ContainerState, skip int, now time.Time) []byte {
	ru := r.runs[k]
	if ru == nil || ru.invalid != nil || !cs.Running {
		return nil
	}
	var out []byte
	for n := skip + 1; n <= ru.spec.Ticks(now.Sub(cs.StartedAt)); n++ {
		out = append(out, behaviour.Stamp(cs.StartedAt.Add(time.Duration(n)*ru.spec.Tick), ru.spec.TickLine(n))...)
	}
	return out
}

// exit ends a running instance with code at time at. r.mu is held.
func (r *Runtime) exit(uid string, cs *node.ContainerState, code int32, at time.Time) {
	k := uid + "/" + cs.Name
	if ru := r.runs[k]; ru != nil && ru.stop != nil {
		ru.stop()
		ru.stop = nil
	}
	cs.Running, cs.Exited, cs.ExitCode, cs.FinishedAt, cs.Unready = false, true, code, at, false
	r.logs[k] = fmt.Appendf(r.logs[k], "simulated container %s exited with code %d\n", cs.Name, code)
}

// readied makes the instance of a container that started at startedAt
// ready once its ReadyDelay has passed, unless it ended, restarted or was
// removed meanwhile, and signals Changes.
func (r *Runtime) readied(uid, container string, startedAt time.Time) {
	r.mu.Lock()
	done := false
	if p := r.pods[uid]; p != nil {
		for i := range p.Containers {
			if cs := &p.Containers[i]; cs.Name == container && cs.Running && cs.Unready && cs.StartedAt.Equal(startedAt) {
				cs.Unready, done = false, true
			}
		}
	}
	r.mu.Unlock()
	if done {
		r.signal()
	}
}

// started runs a container whose StartDelay has passed, unless its pod was
// removed meanwhile, and signals Changes.
func (r *Runtime) started(uid, container string) {
	r.mu.Lock()
	delete(r.starting, uid+"/"+container)
	if p := r.pods[uid]; p != nil {
		for i := range p.Containers {
			if cs := &p.Containers[i]; cs.Name == container && !cs.Running && !cs.Exited {
				r.begin(uid, cs)
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
				now := r.cfg.Clock()
				k := uid + "/" + container
				r.logs[k] = append(r.logs[k], r.ticks(k, cs, 0, now)...)
				r.exit(uid, cs, code, now)
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
			if stop := r.starting[k]; stop != nil {
				stop()
				delete(r.starting, k)
			}
			if ru := r.runs[k]; ru != nil && ru.stop != nil {
				ru.stop()
			}
			delete(r.runs, k)
		}
		if ip, err := netip.ParseAddr(p.IP); err == nil {
			delete(r.ips, ip)
		}
		for pk := range r.probes {
			if pk.uid == uid {
				delete(r.probes, pk)
			}
		}
	}
	delete(r.pods, uid)
	return nil
}

// Logs implements node.Runtime. A running container that ticks (HELLO_TICK)
// shows a line per tick up to the clock's now; following it writes each new
// tick as it comes.
func (r *Runtime) Logs(ctx context.Context, ns, name, container string, opts node.LogOptions, w io.Writer) error {
	r.mu.Lock()
	data, found, restarted, uid := r.logOf(ns, name, container)
	r.mu.Unlock()
	switch {
	case !found:
		return fmt.Errorf("logs of %s/%s container %s: not found", ns, name, container)
	case opts.Previous && !restarted:
		return fmt.Errorf("logs of %s/%s container %s: %w", ns, name, container, node.ErrNoPreviousLog)
	case opts.Previous:
		r.mu.Lock()
		data = r.prev[uid+"/"+container]
		r.mu.Unlock()
	}
	if _, err := w.Write(data); err != nil {
		return err
	}
	if !opts.Follow || opts.Previous {
		return nil
	}
	// Follow: write what the log gains, once per tick of a ticking
	// container (the others gain only their exit line, written when ctx
	// ends, as before).
	tick := r.tickOf(uid + "/" + container)
	if tick <= 0 {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for sent := len(data); ; {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		r.mu.Lock()
		cur, ok, _, id := r.logOf(ns, name, container)
		r.mu.Unlock()
		if !ok || id != uid {
			return nil // removed, or another pod of the name
		}
		if len(cur) > sent {
			if _, err := w.Write(cur[sent:]); err != nil {
				return err
			}
			sent = len(cur)
		}
	}
}

// logOf is the current log of a container of the pod ns/name (its tick
// lines so far included), whether it has a previous log, and the pod's uid.
// r.mu is held.
func (r *Runtime) logOf(ns, name, container string) (data []byte, found, restarted bool, uid string) {
	for id, p := range r.pods {
		if p.Namespace != ns || p.Name != name {
			continue
		}
		k := id + "/" + container
		stored, ok := r.logs[k]
		if !ok {
			continue
		}
		_, restarted = r.prev[k]
		found, uid, data = true, id, stored
		for i := range p.Containers {
			if cs := &p.Containers[i]; cs.Name == container {
				if t := r.ticks(k, cs, 0, r.cfg.Clock()); len(t) > 0 {
					data = append(append([]byte(nil), stored...), t...)
				}
			}
		}
	}
	return data, found, restarted, uid
}

// tickOf is the tick interval of container k's instance, 0 when it does
// not tick.
func (r *Runtime) tickOf(k string) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ru := r.runs[k]; ru != nil && ru.invalid == nil {
		return ru.spec.Tick
	}
	return 0
}

// Changes implements node.Runtime.
func (r *Runtime) Changes() <-chan struct{} { return r.changes }

var _ node.Runtime = (*Runtime)(nil)
