package client

import (
	"fmt"
	"strings"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/projections"
)

// initStatusColumn is kubectl's STATUS while a pod's init containers are not
// done: Init:N/M (N of M completed), Init:<reason> for one that failed or
// waits with a reason (Init:Error, Init:CrashLoopBackOff); initializing is
// false once every init container completed, and the containers decide.
func initStatusColumn(p *projections.Pod) (reason string, initializing bool) {
	total := len(p.Spec.InitContainers)
	for i, c := range p.Status.InitContainers {
		switch {
		case c.State == events.ContainerTerminated && c.ExitCode != nil && *c.ExitCode == 0:
			continue
		case c.State == events.ContainerTerminated && c.Reason != "":
			return "Init:" + c.Reason, true
		case c.State == events.ContainerTerminated:
			code := int32(0)
			if c.ExitCode != nil {
				code = *c.ExitCode
			}
			return fmt.Sprintf("Init:ExitCode:%d", code), true
		case c.State == events.ContainerWaiting && c.Reason != "" && c.Reason != "PodInitializing":
			return "Init:" + c.Reason, true
		default:
			return fmt.Sprintf("Init:%d/%d", i, total), true
		}
	}
	return "", false
}

// initRestarts is kubectl's RESTARTS while the init containers are not
// done: their restarts.
func initRestarts(p *projections.Pod) (n int32, initializing bool) {
	if p.Status == nil {
		return 0, false
	}
	if _, initializing = initStatusColumn(p); !initializing {
		return 0, false
	}
	for _, c := range p.Status.InitContainers {
		n += c.RestartCount
	}
	return n, true
}

// initializedCondition is the pod's Initialized condition as Kubernetes
// writes it: False, naming the init containers that have not completed,
// until every one has.
func initializedCondition(p *projections.Pod) k8sCondition {
	done := map[string]bool{}
	if p.Status != nil {
		for _, c := range p.Status.InitContainers {
			done[c.Name] = c.State == events.ContainerTerminated && c.ExitCode != nil && *c.ExitCode == 0
		}
	}
	var incomplete []string
	for _, c := range p.Spec.InitContainers {
		if !done[c.Name] {
			incomplete = append(incomplete, c.Name)
		}
	}
	if len(incomplete) == 0 {
		return k8sCondition{Type: "Initialized", Status: "True"}
	}
	return k8sCondition{Type: "Initialized", Status: "False", Reason: "ContainersNotInitialized",
		Message: "containers with incomplete status: [" + strings.Join(incomplete, " ") + "]"}
}
