package containerd

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"

	"github.com/gantry-sh/gantry/node"
)

// gantryFilter selects the containers Gantry made.
var gantryFilter = `labels."` + labelPodUID + `"`

// podFilter selects the containers of the pod uid.
func podFilter(uid string) string {
	return `labels."` + labelPodUID + `"==` + strconv.Quote(uid)
}

// Pods lists every pod the runtime holds: pods with containers (from their
// labels) and pods with only a sandbox. Running tasks whose exit nobody
// watches (after a restart of the agent) are watched again.
func (r *Runtime) Pods(ctx context.Context) ([]node.PodState, error) {
	sandboxes, err := r.listSandboxes()
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	return r.collect(ctx, sandboxes, gantryFilter)
}

// Pod returns the state of one pod, found by uid, without listing the others.
func (r *Runtime) Pod(ctx context.Context, uid string) (node.PodState, bool, error) {
	var sandboxes []*sandboxRecord
	rec, err := r.loadSandbox(sandboxID(uid))
	if err != nil {
		return node.PodState{}, false, fmt.Errorf("pod %s: %w", uid, err)
	}
	if rec != nil {
		sandboxes = append(sandboxes, rec)
	}
	ps, err := r.collect(ctx, sandboxes, podFilter(uid))
	if err != nil || len(ps) == 0 {
		return node.PodState{}, false, err
	}
	return ps[0], true, nil
}

// collect groups the sandboxes and the containers matching filter into pods.
func (r *Runtime) collect(ctx context.Context, sandboxes []*sandboxRecord, filter string) ([]node.PodState, error) {
	ctx = r.nsCtx(ctx)
	conts, err := r.client.Containers(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("list pods: containers: %w", err)
	}

	pods := map[string]*node.PodState{}
	for _, sb := range sandboxes {
		pods[sb.UID] = &node.PodState{Namespace: sb.Namespace, Name: sb.Name, UID: sb.UID, Epoch: sb.Epoch, IP: sb.IP}
	}
	for _, c := range conts {
		info, err := c.Info(ctx, client.WithoutRefreshedMetadata)
		if err != nil {
			return nil, fmt.Errorf("list pods: %w", err)
		}
		l := info.Labels
		uid := l[labelPodUID]
		p := pods[uid]
		if p == nil {
			p = &node.PodState{Namespace: l[labelPodNamespace], Name: l[labelPodName], UID: uid}
			pods[uid] = p
		}
		if e, err := strconv.ParseInt(l[labelPodEpoch], 10, 64); err == nil && e > p.Epoch {
			p.Epoch = e
		}
		cs, err := r.containerState(ctx, c, info.Image, l)
		if err != nil {
			if errdefs.IsNotFound(err) {
				continue // removed while we listed
			}
			return nil, fmt.Errorf("list pods: %s/%s: %w", p.Namespace, p.Name, err)
		}
		p.Containers = append(p.Containers, cs)
	}

	out := make([]node.PodState, 0, len(pods))
	for _, p := range pods {
		sort.Slice(p.Containers, func(i, j int) bool { return p.Containers[i].Name < p.Containers[j].Name })
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.UID < b.UID
	})
	return out, nil
}

// containerState reads the task of container c and watches it if it runs.
func (r *Runtime) containerState(ctx context.Context, c client.Container, image string, labels map[string]string) (node.ContainerState, error) {
	cs := node.ContainerState{Name: labels[labelContainer], ID: c.ID(), Image: image}
	if n, err := strconv.ParseInt(labels[labelRestarts], 10, 32); err == nil {
		cs.Restarts = int32(n)
	}
	if t, err := time.Parse(time.RFC3339Nano, labels[labelStartedAt]); err == nil {
		cs.StartedAt = t
	}
	cs.Last = decodeLastState(labels[labelLastState])
	task, err := c.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return cs, nil
	}
	if err != nil {
		return cs, fmt.Errorf("task of %s: %w", c.ID(), err)
	}
	st, err := task.Status(ctx)
	if errdefs.IsNotFound(err) {
		return cs, nil
	}
	if err != nil {
		return cs, fmt.Errorf("task of %s: %w", c.ID(), err)
	}
	switch st.Status {
	case client.Running, client.Paused, client.Pausing:
		cs.Running = true
		r.watch(c.ID(), task)
	case client.Stopped:
		cs.Exited = true
		cs.ExitCode = int32(st.ExitStatus)
		cs.FinishedAt = st.ExitTime
		cs.OOMKilled = r.oomKilled(ctx, c, st.ExitStatus)
	}
	return cs, nil
}

// watch starts an exit watcher for the task of container id unless one runs.
func (r *Runtime) watch(id string, task client.Task) {
	gen, ok := r.claimWatch(id, false)
	if !ok {
		return
	}
	exitc, err := task.Wait(r.base)
	if err != nil {
		r.releaseWatch(id, gen)
		r.wg.Done()
		r.log.Warn().Err(err).Str("container", id).Msg("watch task exit")
		return
	}
	r.runWatch(id, gen, exitc)
}

// watchChan watches the exit channel of a task just started; it replaces a
// watcher of an older task of the same container still winding down.
func (r *Runtime) watchChan(id string, exitc <-chan client.ExitStatus) {
	gen, ok := r.claimWatch(id, true)
	if !ok {
		return
	}
	r.runWatch(id, gen, exitc)
}

// claimWatch registers a watcher of container id and counts it in wg. It
// fails when the runtime is closed, or when one runs and replace is false.
func (r *Runtime) claimWatch(id string, replace bool) (uint64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, false
	}
	if _, ok := r.watching[id]; ok && !replace {
		return 0, false
	}
	r.watchGen++
	r.watching[id] = r.watchGen
	r.wg.Add(1)
	return r.watchGen, true
}

func (r *Runtime) releaseWatch(id string, gen uint64) {
	r.mu.Lock()
	if r.watching[id] == gen {
		delete(r.watching, id)
	}
	r.mu.Unlock()
}

func (r *Runtime) runWatch(id string, gen uint64, exitc <-chan client.ExitStatus) {
	go func() {
		defer r.wg.Done()
		defer r.releaseWatch(id, gen)
		select {
		case st, ok := <-exitc:
			if r.base.Err() != nil {
				return // closing: not an exit
			}
			if ok {
				if err := st.Error(); err != nil {
					r.log.Warn().Err(err).Str("container", id).Msg("lost the exit watch of a task")
				} else {
					r.log.Info().Str("container", id).Uint32("code", st.ExitCode()).Msg("container exited")
				}
			}
			// Released before the signal, so the Pods it prompts can watch
			// again if the task still runs (a lost watch).
			r.releaseWatch(id, gen)
			r.notify()
		case <-r.base.Done():
		}
	}()
}
