package node

// Init containers (spec.initContainers) run one after another, each to
// completion (exit 0), before the pod's containers start, as Kubernetes
// runs them. planInit decides their step of a pod's plan; initStatuses and
// initPhase colour the pod's report. Worked example, init containers
// "fetch" and "migrate", restartPolicy Always, back-off 10 s:
//
//	runtime holds nothing          start fetch
//	fetch running                  (nothing: wait for its exit)
//	fetch exited 0                 start migrate
//	migrate exited 1               restart migrate backoff=1 (Never: the pod fails, Init:Error)
//	migrate exited 1 again         wait out the back-off (Init:CrashLoopBackOff)
//	migrate exited 0               the containers start
//
// What ran stays in the runtime (exited, with its code), so an agent that
// restarts finds fetch and migrate exited 0 and starts the containers; once
// any container exists the init containers are done for good, so a pod
// whose containers restart does not run them again.

import (
	"fmt"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

// initDone says whether pod's init containers are behind it: it has none,
// every one exited 0, or one of its containers exists already (created
// only after the init containers succeeded).
func initDone(spec manifest.PodSpec, have map[string]ContainerState) bool {
	for _, c := range spec.Containers {
		if _, ok := have[c.Name]; ok {
			return true
		}
	}
	for _, c := range spec.InitContainers {
		if cs, ok := have[c.Name]; !ok || !cs.Exited || cs.ExitCode != 0 {
			return false
		}
	}
	return true
}

// initFailed says whether the pod failed in its init containers: one
// exited non-zero and restartPolicy Never lets none run again.
func initFailed(spec manifest.PodSpec, have map[string]ContainerState) bool {
	if spec.RestartPolicy != manifest.RestartNever || initDone(spec, have) {
		return false
	}
	for _, c := range spec.InitContainers {
		if cs, ok := have[c.Name]; ok && cs.Exited && cs.ExitCode != 0 {
			return true
		}
	}
	return false
}

// planInit is the init containers' step of a pod's plan while they are not
// done: start the first that has not run, wait for the one that runs,
// restart one that failed (restartPolicy Always or OnFailure, after its
// back-off; until is when that ends) or nothing (Never: the pod failed).
// act builds one of the pod's actions.
func planInit(bp backoffPolicy, w World, b *binding, have map[string]ContainerState,
	act func(actionKind, string) Action) (acts []Action, until time.Time) {
	pod := b.bound.Pod
	for _, c := range pod.Spec.InitContainers {
		cs, ok := have[c.Name]
		exited := ok && cs.Exited
		switch {
		case ok && cs.Running:
			return nil, time.Time{}
		case exited && cs.ExitCode == 0:
			continue
		case exited && pod.Spec.RestartPolicy == manifest.RestartNever:
			return nil, time.Time{}
		}
		// Never ran, created and never started, or failed: (re)start it
		// unless its back-off (a failed start's, an image pull's) holds it.
		bk := w.Backoff[containerKey(pod.UID, c.Name)]
		if exited {
			bk = bp.after(bk, cs.FinishedAt.Sub(cs.StartedAt))
		}
		if bk.holds(w.Now) {
			return nil, bk.Until
		}
		if !exited {
			return []Action{act(actStart, c.Name)}, time.Time{}
		}
		a := act(actRestart, c.Name)
		a.Backoff = bp.fail(bk, w.Now, "CrashLoopBackOff",
			fmt.Sprintf("back-off restarting failed init container %s (exit code %d)", c.Name, cs.ExitCode))
		return []Action{a}, time.Time{}
	}
	return nil, time.Time{}
}

// initStatuses is the status of each init container, as the runtime holds
// it and its back-off colours it; one that exited 0 is ready, as Kubernetes
// reports it.
func initStatuses(spec manifest.PodSpec, uid string, have map[string]ContainerState, w World) []events.ContainerStatus {
	var out []events.ContainerStatus
	for _, c := range spec.InitContainers {
		cs, ok := have[c.Name]
		st := containerStatus(c, cs, ok, w.Backoff[containerKey(uid, c.Name)], ProbeResult{}, false, w.Now)
		if st.State == events.ContainerWaiting && st.Reason == "ContainerCreating" {
			st.Reason = "PodInitializing" // as the kubelet reports one not started yet
		}
		st.Ready = ok && cs.Exited && cs.ExitCode == 0
		out = append(out, st)
	}
	return out
}

// initPhase is the pod's phase while its init containers are not done:
// Failed when one failed and restartPolicy Never, else Pending; ok is false
// once they are done (the containers decide the phase).
func initPhase(spec manifest.PodSpec, have map[string]ContainerState) (phase string, ok bool) {
	switch {
	case initFailed(spec, have):
		return events.PhaseFailed, true
	case !initDone(spec, have):
		return events.PhasePending, true
	}
	return "", false
}

// withInit adds the init containers' statuses to a pod's status and, while
// they are not done, its phase (Pending, or Failed); its containers not
// created yet wait with reason PodInitializing, as Kubernetes reports them.
func withInit(status *events.PodStatusObserved, spec manifest.PodSpec, have map[string]ContainerState, w World) {
	if len(spec.InitContainers) == 0 {
		return
	}
	status.InitContainers = initStatuses(spec, status.UID, have, w)
	if phase, ok := initPhase(spec, have); ok {
		status.Phase = phase
	}
	for i := range status.Containers {
		c := &status.Containers[i]
		if _, created := have[c.Name]; !created && c.State == events.ContainerWaiting && c.Reason == "ContainerCreating" {
			c.Reason = "PodInitializing"
		}
	}
}
