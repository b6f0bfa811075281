package scheduler

import (
	"testing"

	"github.com/gantry-sh/gantry/events/manifest"
)

func TestResourceFitFilter(t *testing.T) {
	f := ResourceFit{}
	if f.Name() != NameResourceFit {
		t.Errorf("name %q", f.Name())
	}
	if f.Relevant(testPod()) || !f.Relevant(testPod(requests("cpu", "1m"))) {
		t.Error("relevant only to pods that request something")
	}
	const gpu = "example.com/gpu"
	cases := []struct {
		name string
		req  []string // the pod's requests
		used []string // requests of a pod already on the node
		want string
	}{
		{"fits an empty node", []string{"cpu", "500m", "memory", "512Mi"}, nil, ""},
		{"fits exactly", []string{"cpu", "1", "memory", "1Gi"}, nil, ""},
		{"fits what is left exactly", []string{"cpu", "250m", "memory", "256Mi"}, []string{"cpu", "750m", "memory", "768Mi"}, ""},
		{"one millicore too many", []string{"cpu", "1001m"}, nil, "Insufficient cpu"},
		{"cpu taken by others", []string{"cpu", "500m"}, []string{"cpu", "600m"}, "Insufficient cpu"},
		{"one byte too many", []string{"memory", "1073741825"}, nil, "Insufficient memory"},
		{"memory taken by others", []string{"memory", "512Mi"}, []string{"memory", "768Mi"}, "Insufficient memory"},
		{"cpu is checked before memory", []string{"cpu", "2", "memory", "2Gi"}, nil, "Insufficient cpu"},
		{"extended resource declared", []string{gpu, "2"}, nil, ""},
		{"extended resource exhausted", []string{gpu, "2"}, []string{gpu, "3"}, "Insufficient " + gpu},
		{"extended resource not declared", []string{"example.com/fpga", "1"}, nil, "Insufficient example.com/fpga"},
		{"extended after memory", []string{"memory", "2Gi", gpu, "9"}, nil, "Insufficient memory"},
		{"no requests fit a full node", nil, []string{"cpu", "1", "memory", "1Gi", gpu, "4"}, ""},
		{"a limit without a request is the request", nil, nil, "Insufficient cpu"},
	}
	for i, tc := range cases {
		n := testNode("n1", 1000, 1<<30, 0, offers(gpu, 4))
		if tc.used != nil {
			on(n, testPod(requests(tc.used...)))
		}
		p := testPod(requests(tc.req...))
		if i == len(cases)-1 {
			p = testPod(spec(func(s *manifest.PodSpec) {
				s.Containers[0].Resources.Limits = manifest.ResourceList{"cpu": manifest.MustQuantity("2")}
			}))
		}
		if got := f.Filter(p, n); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestResourceFitOnANodeWithoutTheResource(t *testing.T) {
	n := testNode("n1", 0, 0, 0)
	if got := (ResourceFit{}).Filter(testPod(requests("cpu", "1m")), n); got != "Insufficient cpu" {
		t.Errorf("cpu request on a node offering none: %q", got)
	}
}
