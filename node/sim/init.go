package sim

import (
	"time"

	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/node"
)

// DefaultInitRunFor is how long a simulated init container runs before it
// exits 0, unless Config.InitRunFor or its environment says otherwise.
const DefaultInitRunFor = 100 * time.Millisecond

// initBehaviour makes an init container of pod end by itself: one whose
// environment asks for no end (HELLO_RUN_FOR, HELLO_EXIT_CODE) runs for
// Config.InitRunFor and exits 0, as an init container that prepares
// something does; the demo image would serve forever. r.mu is held.
func (r *Runtime) initBehaviour(k string, pod node.Pod, c manifest.Container) {
	if !isInit(pod.Spec, c.Name) {
		return
	}
	ru := r.runs[k]
	if ru == nil {
		ru = &run{}
		r.runs[k] = ru
	}
	if ru.invalid != nil || ru.spec.Exits {
		return
	}
	ru.spec.Exits, ru.spec.RunFor = true, r.cfg.InitRunFor
	if ru.spec.RunFor <= 0 {
		ru.spec.RunFor = DefaultInitRunFor
	}
}

// isInit says whether name is one of spec's init containers.
func isInit(spec manifest.PodSpec, name string) bool {
	for _, c := range spec.InitContainers {
		if c.Name == name {
			return true
		}
	}
	return false
}
