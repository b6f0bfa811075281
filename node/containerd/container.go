package containerd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gantry-sh/gantry/deploy/images/hello/behaviour"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/node"
	"github.com/gantry-sh/gantry/node/network"
)

// CPU mapping as the kubelet does it on cgroup v1.
const (
	cpuPeriod    = 100_000 // µs
	minCPUQuota  = 1_000   // µs
	minCPUShares = 2
	maxCPUShares = 262_144
)

// logDir is where the pod's container logs are kept.
func (r *Runtime) logDir(namespace, name, uid string) string {
	return filepath.Join(r.cfg.StateDir, "logs", pathComponent(namespace)+"_"+pathComponent(name)+"_"+pathComponent(uid))
}

func (r *Runtime) logPath(namespace, name, uid, container string) string {
	return filepath.Join(r.logDir(namespace, name, uid), logFile(container))
}

// logFile is the name of a container's log in its pod's log directory.
func logFile(container string) string { return pathComponent(container) + ".log" }

// previousSuffix names the log of a container's instance before its last
// restart: <container>.log.previous, which no container's current log
// can be named.
const previousSuffix = ".previous"

// keepPreviousLog makes the current log of an instance that has ended the
// previous one (replacing the one before), so the new instance starts an
// empty log, as the kubelet keeps one log per instance. Nothing to keep
// (no log yet) is success.
func keepPreviousLog(path string) error {
	if err := os.Rename(path, path+previousSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("keep the previous log: %w", err)
	}
	return nil
}

// StartContainer creates container c of pod if missing and starts its task
// in the pod's sandbox. An exited task is deleted and started again, which
// counts a restart and keeps its log as the previous one; a running one is
// left alone.
func (r *Runtime) StartContainer(ctx context.Context, pod node.Pod, c manifest.Container) error {
	ctx = r.nsCtx(ctx)
	unlock := r.lockPod(pod.UID)
	defer unlock()
	if err := r.startContainer(ctx, pod, c); err != nil {
		return fmt.Errorf("start container %s of %s/%s: %w", c.Name, pod.Namespace, pod.Name, err)
	}
	return nil
}

func (r *Runtime) startContainer(ctx context.Context, pod node.Pod, c manifest.Container) error {
	if c.Name == "" {
		return fmt.Errorf("container has no name")
	}
	sb, err := r.loadSandbox(sandboxID(pod.UID))
	if err != nil {
		return err
	}
	if sb == nil || sb.IP == "" {
		return fmt.Errorf("pod has no sandbox: create it first")
	}
	if alive, err := network.IsNetNS(sb.NetNS); err != nil || !alive {
		return fmt.Errorf("the sandbox's network namespace %s is gone: create the sandbox again", sb.NetNS)
	}
	id := containerID(pod.UID, c.Name)

	cont, err := r.client.LoadContainer(ctx, id)
	if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("load container %s: %w", id, err)
	}
	restarts := 0
	ranBefore := false // a container made again after it ran: its log is kept as previous
	if err == nil {
		info, err := cont.Info(ctx, client.WithoutRefreshedMetadata)
		if err != nil {
			return fmt.Errorf("container %s: %w", id, err)
		}
		if ip := info.Labels[labelPodIP]; ip != sb.IP {
			// The sandbox was made again with another address (after a
			// reboot): the container's spec names the old one. Make the
			// container again; the restart still counts.
			r.log.Info().Str("container", id).Str("old_ip", ip).Str("ip", sb.IP).Msg("pod address changed; recreating container")
			restarts, _ = strconv.Atoi(info.Labels[labelRestarts])
			if info.Labels[labelStartedAt] != "" {
				restarts++
				ranBefore = true
			}
			if err := r.removeContainer(ctx, cont); err != nil {
				return err
			}
			cont = nil
		}
	}
	if cont == nil {
		img, err := r.ensureImage(ctx, c.Image)
		if err != nil {
			return err
		}
		cont, err = r.createContainer(ctx, id, pod, c, sb, img, restarts)
		if err != nil {
			return err
		}
	}

	info, err := cont.Info(ctx, client.WithoutRefreshedMetadata)
	if err != nil {
		return fmt.Errorf("container %s: %w", id, err)
	}
	restart := info.Labels[labelStartedAt] != ""
	var last *node.Termination // how the ended instance ended, when its task says
	task, err := cont.Task(ctx, nil)
	switch {
	case errdefs.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("task of %s: %w", id, err)
	default:
		st, err := task.Status(ctx)
		if err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("task of %s: %w", id, err)
		}
		switch st.Status {
		case client.Running, client.Paused, client.Pausing:
			r.watch(id, task)
			return nil
		case client.Created:
			// Made but never started (an interrupted start): not a restart.
			restart = false
		case client.Stopped:
			// Read before the task's deletion takes its cgroup along.
			started, _ := time.Parse(time.RFC3339Nano, info.Labels[labelStartedAt])
			last = &node.Termination{ExitCode: int32(st.ExitStatus), OOMKilled: r.oomKilled(ctx, cont, st.ExitStatus),
				StartedAt: started, FinishedAt: st.ExitTime}
		}
		if _, err := task.Delete(ctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("delete old task of %s: %w", id, err)
		}
	}

	labels := map[string]string{}
	if restart {
		n, _ := strconv.Atoi(info.Labels[labelRestarts])
		// The new instance sees its restart count; set before the label,
		// so a start that fails between the two sets the same count again.
		if err := setRestartCount(ctx, cont, n+1); err != nil {
			return err
		}
		labels[labelRestarts] = strconv.Itoa(n + 1)
		// The ended instance is accounted for: should this start fail, the
		// next does not count it again nor keep its (empty) log as previous.
		labels[labelStartedAt] = ""
		if last != nil {
			labels[labelLastState] = encodeLastState(*last)
		}
	}
	if pod.Epoch > 0 && strconv.FormatInt(pod.Epoch, 10) != info.Labels[labelPodEpoch] {
		labels[labelPodEpoch] = strconv.FormatInt(pod.Epoch, 10)
	}
	if len(labels) > 0 {
		if _, err := cont.SetLabels(ctx, labels); err != nil {
			return fmt.Errorf("label %s: %w", id, err)
		}
	}

	logPath := r.logPath(pod.Namespace, pod.Name, pod.UID, c.Name)
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return fmt.Errorf("log dir: %w", err)
	}
	if restart || ranBefore {
		if err := keepPreviousLog(logPath); err != nil {
			return err
		}
	}
	task, err = cont.NewTask(ctx, cio.LogFile(logPath))
	if err != nil {
		return fmt.Errorf("new task of %s: %w", id, err)
	}
	// Wait before Start, so an instant exit is not missed. The wait lives
	// as long as the runtime, not as long as this call.
	exitc, err := task.Wait(r.base)
	if err != nil {
		task.Delete(ctx, client.WithProcessKill)
		return fmt.Errorf("wait task of %s: %w", id, err)
	}
	if err := task.Start(ctx); err != nil {
		if _, derr := task.Delete(ctx, client.WithProcessKill); derr != nil {
			r.log.Warn().Err(derr).Str("container", id).Msg("delete task that failed to start")
		}
		return fmt.Errorf("start task of %s: %w", id, err)
	}
	if _, err := cont.SetLabels(ctx, map[string]string{labelStartedAt: time.Now().UTC().Format(time.RFC3339Nano)}); err != nil {
		r.log.Warn().Err(err).Str("container", id).Msg("record start time")
	}
	r.watchChan(id, exitc)
	r.log.Info().Str("pod", pod.Namespace+"/"+pod.Name).Str("container", c.Name).Str("id", id).
		Uint32("pid", task.Pid()).Bool("restart", restart).Msg("container started")
	return nil
}

// createContainer makes the containerd container with a fresh snapshot and
// the spec of c in the sandbox sb.
func (r *Runtime) createContainer(ctx context.Context, id string, pod node.Pod, c manifest.Container, sb *sandboxRecord, img client.Image, restarts int) (client.Container, error) {
	// A snapshot under our key without a container is left from an
	// interrupted create: drop it.
	if err := r.client.SnapshotService(r.cfg.Snapshotter).Remove(ctx, id); err != nil && !errdefs.IsNotFound(err) {
		return nil, fmt.Errorf("remove stale snapshot %s: %w", id, err)
	}
	ispec, err := img.Spec(ctx)
	if err != nil {
		return nil, fmt.Errorf("image config of %s: %w", c.Image, err)
	}
	specOpts := []oci.SpecOpts{
		oci.WithImageConfig(img),
		oci.WithProcessArgs(processArgs(ispec.Config.Entrypoint, ispec.Config.Cmd, c.Command, c.Args)...),
		oci.WithEnv(podEnv(pod, sb.IP, c, restarts)),
		oci.WithHostname(hostname(pod)),
		oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: sb.NetNS}),
		oci.WithMounts(append([]specs.Mount{
			{Destination: "/etc/hosts", Type: "bind", Source: r.hostsPath(sb.ID), Options: []string{"rbind", "ro"}},
			{Destination: "/etc/resolv.conf", Type: "bind", Source: r.resolvPath(sb.ID), Options: []string{"rbind", "ro"}},
		}, volumeMounts(pod.Mounts[c.Name])...)),
	}
	specOpts = append(specOpts, resourceOpts(c.Resources)...)
	if len(ispec.Config.Entrypoint)+len(ispec.Config.Cmd)+len(c.Command)+len(c.Args) == 0 {
		return nil, fmt.Errorf("no command: the image %s has no entrypoint or cmd and the container sets none", c.Image)
	}

	labels := map[string]string{
		labelPodNamespace: pod.Namespace,
		labelPodName:      pod.Name,
		labelPodUID:       pod.UID,
		labelPodEpoch:     strconv.FormatInt(pod.Epoch, 10),
		labelContainer:    c.Name,
		labelRestarts:     strconv.Itoa(restarts),
		labelPodIP:        sb.IP,
	}
	if r.cfg.NodeName != "" {
		labels[labelNode] = r.cfg.NodeName
	}
	cont, err := r.client.NewContainer(ctx, id,
		client.WithImage(img),
		client.WithSnapshotter(r.cfg.Snapshotter),
		client.WithNewSnapshot(id, img),
		client.WithNewSpec(specOpts...),
		client.WithContainerLabels(labels),
	)
	if err != nil {
		// Do not leave the snapshot behind a container that was not made.
		if rerr := r.client.SnapshotService(r.cfg.Snapshotter).Remove(ctx, id); rerr != nil && !errdefs.IsNotFound(rerr) {
			r.log.Warn().Err(rerr).Str("container", id).Msg("remove snapshot of a failed create")
		}
		return nil, fmt.Errorf("create container %s: %w", id, err)
	}
	return cont, nil
}

// processArgs is what the container runs, as Kubernetes decides it: command
// replaces the image's entrypoint (and drops its cmd), args replace its cmd.
func processArgs(entrypoint, cmd, command, args []string) []string {
	switch {
	case len(command) > 0:
		return append(append([]string{}, command...), args...)
	case len(args) > 0:
		return append(append([]string{}, entrypoint...), args...)
	default:
		return append(append([]string{}, entrypoint...), cmd...)
	}
}

// volumeMounts are the OCI bind mounts of a container's volumes, as the
// node's Volumes resolved them (a subPath is its own source).
func volumeMounts(mounts []node.Mount) []specs.Mount {
	out := make([]specs.Mount, 0, len(mounts))
	for _, m := range mounts {
		opts := []string{"rbind", "rprivate"}
		if m.ReadOnly {
			opts = append(opts, "ro")
		}
		out = append(out, specs.Mount{Destination: m.Destination, Type: "bind", Source: m.Source, Options: opts})
	}
	return out
}

// podEnv is the container's environment on top of the image's: its own
// variables (as the node's Volumes resolved them, valueFrom and envFrom
// included; the literal ones without), then the pod's identity and how many
// times the container was restarted before this instance
// (GANTRY_RESTART_COUNT).
func podEnv(pod node.Pod, ip string, c manifest.Container, restarts int) []string {
	env, resolved := pod.Env[c.Name]
	if !resolved {
		env = make([]string, 0, len(c.Env)+4)
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				env = append(env, e.Name+"="+e.Value)
			}
		}
	}
	env = append([]string(nil), env...)
	return append(env, "POD_NAME="+pod.Name, "POD_NAMESPACE="+pod.Namespace, "POD_IP="+ip,
		restartCountEnv(restarts))
}

func restartCountEnv(n int) string { return behaviour.EnvRestartCount + "=" + strconv.Itoa(n) }

// setRestartCount sets GANTRY_RESTART_COUNT in the container's spec, which
// the next task (the restarted instance) runs with. A restart keeps the
// container and its root filesystem, so the count is the one thing a run
// needs to know it is a later one (the demo image's HELLO_FAIL_TIMES); it is
// the count the runtime reports as Restarts.
func setRestartCount(ctx context.Context, cont client.Container, n int) error {
	spec, err := cont.Spec(ctx)
	if err != nil {
		return fmt.Errorf("spec of %s: %w", cont.ID(), err)
	}
	if err := cont.Update(ctx, client.UpdateContainerOpts(client.WithSpec(spec, oci.WithEnv([]string{restartCountEnv(n)})))); err != nil {
		return fmt.Errorf("set the restart count of %s: %w", cont.ID(), err)
	}
	return nil
}

// resourceOpts maps requests and limits to cgroup settings as the kubelet
// does: limits.memory → memory limit; limits.cpu → CFS quota over a 100 ms
// period; requests.cpu (or limits.cpu when no request) → cpu shares, 2 when
// neither is set.
func resourceOpts(res manifest.ResourceRequirements) []oci.SpecOpts {
	var opts []oci.SpecOpts
	if q, ok := res.Limits["memory"]; ok && q.Value() > 0 {
		opts = append(opts, oci.WithMemoryLimit(uint64(q.Value())))
	}
	limit, hasLimit := res.Limits["cpu"]
	if hasLimit && limit.MilliValue() > 0 {
		opts = append(opts, oci.WithCPUCFS(cpuQuota(limit.MilliValue()), cpuPeriod))
	}
	request, hasRequest := res.Requests["cpu"]
	if !hasRequest && hasLimit {
		request = limit
	}
	opts = append(opts, oci.WithCPUShares(cpuShares(request.MilliValue())))
	return opts
}

func cpuQuota(milli int64) int64 {
	q := milli * cpuPeriod / 1000
	if q < minCPUQuota {
		q = minCPUQuota
	}
	return q
}

func cpuShares(milli int64) uint64 {
	s := milli * 1024 / 1000
	switch {
	case s < minCPUShares:
		s = minCPUShares
	case s > maxCPUShares:
		s = maxCPUShares
	}
	return uint64(s)
}

// hostname is the pod's host name: spec.hostname when set (an Indexed Job's
// pods), else its name.
func hostname(pod node.Pod) string {
	if pod.Spec.Hostname != "" {
		return pod.Spec.Hostname
	}
	return pod.Name
}
