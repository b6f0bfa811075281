package node

import (
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

// podStatus is the status of a bound pod as the runtime holds it (have: its
// containers by name) and as back-off and probes colour it at now.
func podStatus(node string, b *events.PodBound, ip string, have map[string]ContainerState, w World) *events.PodStatusObserved {
	pod := b.Pod
	status := &events.PodStatusObserved{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID, Node: node, Epoch: b.Epoch, PodIP: ip}
	for _, c := range pod.Spec.Containers {
		k := containerKey(pod.UID, c.Name)
		cs, ok := have[c.Name]
		fact, found := factOf(w, pod.UID, cs)
		if !found {
			// Nothing probed yet: ready unless a probe must pass first.
			fact = ProbeResult{Ready: readyAtStart(c)}
		}
		out := containerStatus(c, cs, ok, w.Backoff[k], fact, true, w.Now)
		status.Containers = append(status.Containers, withLifecycle(out, fact))
	}
	status.Phase = Phase(pod.Spec.RestartPolicy, status.Containers)
	withInit(status, pod.Spec, have, w) // init.go
	return status
}

// withLifecycle is a container's status as its hooks and probes colour it:
// not running until its postStart hook has passed (as Kubernetes reports
// it), not ready once condemned, and why the agent killed it (this instance,
// or the one before).
func withLifecycle(out events.ContainerStatus, f ProbeResult) events.ContainerStatus {
	if f.PostStart && out.State == events.ContainerRunning {
		out.State, out.Reason, out.StartedAt, out.Ready = events.ContainerWaiting, "ContainerCreating", nil, false
	}
	if f.Kill != nil {
		out.Ready = false
		if out.State == events.ContainerTerminated {
			out.Message = f.Kill.Message
		}
	}
	if ls := out.LastState; ls != nil {
		for _, k := range []*Kill{f.Kill, f.Previous} {
			if k != nil && ls.StartedAt.Equal(k.StartedAt) {
				ls.Message = k.Message
			}
		}
	}
	return out
}

// sandboxFailed is the status of a pod whose sandbox could not be made.
func sandboxFailed(node string, b *events.PodBound, err error) *events.PodStatusObserved {
	return &events.PodStatusObserved{Namespace: b.Pod.Namespace, Name: b.Pod.Name, UID: b.Pod.UID, Node: node, Epoch: b.Epoch,
		Phase: events.PhasePending, Reason: "SandboxCreateError", Message: err.Error()}
}

// containerStatus is one container's status: cs as the runtime holds it
// (ok: it holds one), Waiting with the back-off's reason while bk holds it
// from running. LastState is how the run before ended: the exited one while
// the back-off holds it (Waiting, as Kubernetes shows a crash loop), else
// the one before the current run.
func containerStatus(c manifest.Container, cs ContainerState, ok bool, bk Backoff, probe ProbeResult, probed bool, now time.Time) events.ContainerStatus {
	out := events.ContainerStatus{Name: c.Name, Image: c.Image, State: events.ContainerWaiting, Reason: "ContainerCreating"}
	if ok {
		out.ContainerID = cs.ID
		out.RestartCount = cs.Restarts
		out.LastState = terminated(cs.Last)
		switch {
		case cs.Running:
			out.State, out.Reason, out.Ready = events.ContainerRunning, "", (!probed || probe.Ready) && !cs.Unready
			t := cs.StartedAt
			out.StartedAt = &t
		case cs.Exited:
			code := cs.ExitCode
			out.State, out.ExitCode = events.ContainerTerminated, &code
			out.Reason = terminationReason(code, cs.OOMKilled)
			s, f := cs.StartedAt, cs.FinishedAt
			out.StartedAt, out.FinishedAt = &s, &f
		}
	}
	if bk.Reason != "" && bk.holds(now) && !(ok && cs.Running) {
		if ok && cs.Exited {
			out.LastState = terminated(cs.Ended())
			out.ExitCode, out.FinishedAt = nil, nil
		}
		out.State, out.Reason, out.Message, out.Ready = events.ContainerWaiting, bk.Reason, bk.Message, false
		if bk.Reason == "ErrImagePull" && bk.Failures > 1 {
			out.Reason = "ImagePullBackOff"
		}
	}
	return out
}

// terminated is a run's end as a status reports it; nil for none.
func terminated(t *Termination) *events.TerminatedState {
	if t == nil {
		return nil
	}
	return &events.TerminatedState{ExitCode: t.ExitCode, Reason: terminationReason(t.ExitCode, t.OOMKilled),
		StartedAt: t.StartedAt, FinishedAt: t.FinishedAt}
}

// terminationReason is Kubernetes' reason for a run that ended with code.
func terminationReason(code int32, oomKilled bool) string {
	switch {
	case oomKilled:
		return "OOMKilled"
	case code == 0:
		return "Completed"
	default:
		return "Error"
	}
}

// Phase derives a pod's phase from its containers, as Kubernetes does.
func Phase(policy string, cs []events.ContainerStatus) string {
	if len(cs) == 0 {
		return events.PhasePending
	}
	running, terminated, failed, waitingNever := 0, 0, 0, 0
	for _, c := range cs {
		switch c.State {
		case events.ContainerRunning:
			running++
		case events.ContainerTerminated:
			terminated++
			if c.ExitCode != nil && *c.ExitCode != 0 {
				failed++
			}
		default:
			if c.StartedAt == nil && c.RestartCount == 0 {
				waitingNever++
			}
		}
	}
	switch {
	case terminated == len(cs) && (policy == "Never" || (policy == "OnFailure" && failed == 0)):
		if failed > 0 {
			return events.PhaseFailed
		}
		return events.PhaseSucceeded
	case waitingNever > 0 && running == 0:
		return events.PhasePending
	default:
		return events.PhaseRunning
	}
}
