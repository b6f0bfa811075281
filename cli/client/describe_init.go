package client

import (
	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

// describeInitContainers is describe's "Init Containers:" section, before
// "Containers:" as kubectl prints it, when the spec has any: each with its
// status (statuses non-nil: a pod) or as a template's (statuses nil).
func describeInitContainers(d *describer, level int, spec manifest.PodSpec, statuses []events.ContainerStatus) {
	if len(spec.InitContainers) == 0 {
		return
	}
	d.line(level, "Init Containers:")
	byName := map[string]events.ContainerStatus{}
	for _, c := range statuses {
		byName[c.Name] = c
	}
	for _, c := range spec.InitContainers {
		if statuses == nil {
			describeContainer(d, level+1, c, nil, false)
			continue
		}
		st, ok := byName[c.Name]
		describeContainer(d, level+1, c, &st, ok)
	}
}
