package scheduler

import (
	"testing"

	"github.com/gantry-sh/gantry/events/manifest"
)

func TestHostPortsFilter(t *testing.T) {
	f := HostPorts{}
	if f.Name() != NameHostPorts || f.Relevant(testPod()) || !f.Relevant(testPod(hostPorts(80))) {
		t.Errorf("name %q; relevant only with host ports", f.Name())
	}
	const no = "node(s) didn't have free ports for the requested pod ports"
	udp := spec(func(s *manifest.PodSpec) {
		s.Containers[0].Ports = []manifest.ContainerPort{{ContainerPort: 53, HostPort: 53, Protocol: "UDP"}}
	})
	cases := []struct {
		name string
		held []podOpt // pods on the node
		pod  podOpt
		want string
	}{
		{"free node", nil, hostPorts(80), ""},
		{"same port taken", []podOpt{hostPorts(80)}, hostPorts(80), no},
		{"another port taken", []podOpt{hostPorts(8080)}, hostPorts(80), ""},
		{"one of several taken", []podOpt{hostPorts(443)}, hostPorts(80, 443), no},
		{"same number, other protocol", []podOpt{udp}, hostPorts(53), ""},
		{"container ports without host ports hold nothing", []podOpt{spec(func(s *manifest.PodSpec) {
			s.Containers[0].Ports = []manifest.ContainerPort{{ContainerPort: 80}}
		})}, hostPorts(80), ""},
	}
	for _, tc := range cases {
		n := testNode("n1", 1000, 1<<30, 0)
		for _, o := range tc.held {
			on(n, testPod(o))
		}
		if got := f.Filter(testPod(tc.pod), n); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	// A port is free again once its pod is off the node.
	n := testNode("n1", 1000, 1<<30, 0)
	a, b := testPod(hostPorts(80)), testPod(hostPorts(80))
	on(n, a, b)
	n.remove(a)
	if got := f.Filter(testPod(hostPorts(80)), n); got != no {
		t.Errorf("one of two holders left: %q", got)
	}
	n.remove(b)
	if got := f.Filter(testPod(hostPorts(80)), n); got != "" {
		t.Errorf("both holders left: %q", got)
	}
}
