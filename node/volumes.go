package node

import (
	"context"
	"errors"
	"fmt"
)

// Volumes makes a pod's volumes on the node and resolves what its
// containers mount and read from their environment (node/volumes). The
// executor calls Prepare before it starts a container and Remove once the
// runtime has removed the pod; each reconcile calls Sync with the pods that
// run, whose configMap, secret and projected files follow their objects.
type Volumes interface {
	// Prepare makes pod's volumes (idempotent) and returns each container's
	// mounts and env (in pod.Mounts and pod.Env), ip being the pod's.
	// A source not known yet gives an error wrapping ErrVolumesPending (the
	// pod waits: ContainerCreating); a required object or key that does not
	// exist a *ConfigError (CreateContainerConfigError).
	Prepare(ctx context.Context, pod Pod, ip string, src Sources) (Pod, error)
	// Sync brings the files of the running pods' configMap, secret,
	// projected and downwardAPI volumes up to date (in place, atomically).
	Sync(ctx context.Context, pods []Pod, src Sources)
	// Remove unmounts and removes what Prepare made for pod uid.
	Remove(ctx context.Context, uid string) error
	// Collect removes, as Remove does, what Prepare made for every pod
	// keep says no to: the volumes of pods whose removal an agent that
	// stopped in between did not finish.
	Collect(ctx context.Context, keep func(uid string) bool) error
}

// Sources is what the node knows of its pods' ConfigMaps, Secrets and
// claims (a nil one: pods that use it wait).
type Sources struct {
	Configs Configs
	Claims  Claims
}

// Mount is one bind mount of a container: Source on the node at
// Destination in the container.
type Mount struct {
	Source      string
	Destination string
	ReadOnly    bool
}

// ErrVolumesPending classifies a pod whose volumes or env cannot be made yet:
// the node has not been told of an object or a claim they use.
var ErrVolumesPending = errors.New("volumes pending")

// ConfigError is a container's configuration that refers to something that
// does not exist; Message is Kubernetes' (configmap "x" not found).
type ConfigError struct{ Message string }

func (e *ConfigError) Error() string { return e.Message }

// ConfigErrorf makes a ConfigError.
func ConfigErrorf(format string, args ...any) *ConfigError {
	return &ConfigError{Message: fmt.Sprintf(format, args...)}
}

// prepareVolumes is the executor's one hook before a pod's containers
// start: the pod with its mounts and env, or why it waits.
func (a *Agent) prepareVolumes(ctx context.Context, pod Pod, ip string) (Pod, error) {
	if a.cfg.Volumes == nil {
		return pod, nil
	}
	return a.cfg.Volumes.Prepare(ctx, pod, ip, a.volumeSources())
}

// volumeSources is the agent's stores of ConfigMaps and Secrets (filled from
// its config deliveries, configs.go) and of claims (its volume deliveries,
// claims.go).
func (a *Agent) volumeSources() Sources { return Sources{Configs: a.configs, Claims: a.claims} }

// removeVolumes is the executor's hook after the runtime removed pod uid.
func (a *Agent) removeVolumes(ctx context.Context, uid, k string) {
	if a.cfg.Volumes == nil {
		return
	}
	if err := a.cfg.Volumes.Remove(ctx, uid); err != nil {
		a.log.Warn().Err(err).Str("pod", k).Msg("remove volumes")
	}
}

// syncVolumes hands the pods that run, as bound here, to Volumes.Sync.
func (a *Agent) syncVolumes(ctx context.Context, actual []PodState) {
	if a.cfg.Volumes == nil {
		return
	}
	running := map[string]bool{}
	for _, p := range actual {
		running[p.UID] = true
	}
	var pods []Pod
	a.mu.Lock()
	for _, b := range a.desired {
		if b.deleted || b.bound == nil || !running[b.bound.Pod.UID] {
			continue
		}
		e := b.bound
		pods = append(pods, Pod{Namespace: e.Pod.Namespace, Name: e.Pod.Name, UID: e.Pod.UID, Epoch: e.Epoch,
			Labels: e.Pod.Labels, Annotations: e.Pod.Annotations, Spec: e.Pod.Spec})
	}
	a.mu.Unlock()
	a.cfg.Volumes.Sync(ctx, pods, a.volumeSources())
	if !a.volumesCollected {
		// Once a start: the volumes of pods neither bound here nor held
		// by the runtime were left by an agent stopped mid-removal.
		a.mu.Lock()
		known := map[string]bool{}
		for _, b := range a.desired {
			if b.bound != nil {
				known[b.bound.Pod.UID] = true
			}
		}
		a.mu.Unlock()
		err := a.cfg.Volumes.Collect(ctx, func(uid string) bool { return known[uid] || running[uid] })
		if err != nil {
			a.log.Warn().Err(err).Msg("collect volumes of removed pods")
		} else {
			a.volumesCollected = true
		}
	}
}

// volumeFailure is the back-off reason and message of a container that
// cannot start because of its volumes or env; pending: it waits without one.
func volumeFailure(err error) (reason string, pending bool) {
	var ce *ConfigError
	switch {
	case errors.Is(err, ErrVolumesPending):
		return "", true
	case errors.As(err, &ce):
		return "CreateContainerConfigError", false
	default:
		return "CreateContainerError", false
	}
}
