package scheduler

import (
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

func TestNodeStateCountsAndUncounts(t *testing.T) {
	const gpu = "example.com/gpu"
	n := testNode("n1", 1000, 1<<30, 2, offers(gpu, 4), labels("zone", "a"))
	if n.Labels[manifest.HostnameTopologyKey] != "n1" || n.Labels["zone"] != "a" {
		t.Errorf("labels %v", n.Labels)
	}
	a := testPod(requests("cpu", "300m", "memory", "100Mi", gpu, "1"), hostPorts(80))
	b := testPod(requests("cpu", "200m"))
	on(n, a, b)
	check := func(step string, cpu, mem, pods, g int64) {
		t.Helper()
		if n.Requested(events.ResourceCPU) != cpu || n.Requested(events.ResourceMemory) != mem ||
			n.Requested(events.ResourcePods) != pods || n.Requested(gpu) != g {
			t.Errorf("%s: cpu %d mem %d pods %d gpu %d", step, n.Requested(events.ResourceCPU), n.Requested(events.ResourceMemory),
				n.Requested(events.ResourcePods), n.Requested(gpu))
		}
	}
	check("two pods", 500, 100<<20, 2, 1)
	if n.Free(events.ResourcePods) != 0 || n.Free(gpu) != 3 || n.Allocatable(gpu) != 4 || !n.portTaken(hostPort{"TCP", 80}) {
		t.Errorf("free pods %d gpu %d", n.Free(events.ResourcePods), n.Free(gpu))
	}
	// The node stops offering gpus: what its pods use is still counted.
	info := n.info
	info.Allocatable = map[string]int64{events.ResourceCPU: 2000, events.ResourceMemory: 1 << 30}
	n.setInfo(info)
	if n.Allocatable(gpu) != 0 || n.Requested(gpu) != 1 || n.Free(gpu) != -1 || n.Allocatable(events.ResourcePods) != -1 {
		t.Errorf("after the change: gpu alloc %d used %d; pods %d", n.Allocatable(gpu), n.Requested(gpu), n.Allocatable(events.ResourcePods))
	}
	n.remove(a)
	check("one pod", 200, 0, 1, 0)
	if n.portTaken(hostPort{"TCP", 80}) || a.node != nil || b.slot != 0 || n.bound[0] != b {
		t.Error("a is still counted")
	}
	n.remove(b)
	check("none", 0, 0, 0, 0)
}
