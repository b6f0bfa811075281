package client

import (
	"fmt"

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
