package scheduler

import (
	"testing"

	"github.com/gantry-sh/gantry/events/manifest"
)

func TestTaintTolerationFilter(t *testing.T) {
	f := TaintToleration{}
	if f.Name() != NameTaintToleration || !f.Relevant(testPod()) {
		t.Errorf("name %q", f.Name())
	}
	gpu := manifest.Taint{Key: "dedicated", Value: "gpu", Effect: manifest.TaintNoSchedule}
	evict := manifest.Taint{Key: "maintenance", Effect: manifest.TaintNoExecute}
	soft := manifest.Taint{Key: "spot", Value: "true", Effect: manifest.TaintPreferNoSchedule}
	cases := []struct {
		name   string
		taints []manifest.Taint
		tols   []manifest.Toleration
		want   string
	}{
		{"no taints", nil, nil, ""},
		{"NoSchedule, not tolerated", []manifest.Taint{gpu}, nil, "node(s) had untolerated taint {dedicated: gpu}"},
		{"NoExecute, not tolerated", []manifest.Taint{evict}, nil, "node(s) had untolerated taint {maintenance: }"},
		{"PreferNoSchedule only scores", []manifest.Taint{soft}, nil, ""},
		{"Equal with the value", []manifest.Taint{gpu}, []manifest.Toleration{{Key: "dedicated", Value: "gpu"}}, ""},
		{"Equal, explicit operator and effect", []manifest.Taint{gpu},
			[]manifest.Toleration{{Key: "dedicated", Operator: "Equal", Value: "gpu", Effect: manifest.TaintNoSchedule}}, ""},
		{"Equal, another value", []manifest.Taint{gpu}, []manifest.Toleration{{Key: "dedicated", Value: "cpu"}},
			"node(s) had untolerated taint {dedicated: gpu}"},
		{"Exists on the key", []manifest.Taint{gpu}, []manifest.Toleration{{Key: "dedicated", Operator: "Exists"}}, ""},
		{"Exists with no key tolerates everything", []manifest.Taint{gpu, evict}, []manifest.Toleration{{Operator: "Exists"}}, ""},
		{"another effect", []manifest.Taint{gpu},
			[]manifest.Toleration{{Key: "dedicated", Value: "gpu", Effect: manifest.TaintNoExecute}},
			"node(s) had untolerated taint {dedicated: gpu}"},
		{"the first untolerated taint is named", []manifest.Taint{gpu, evict},
			[]manifest.Toleration{{Key: "dedicated", Operator: "Exists"}}, "node(s) had untolerated taint {maintenance: }"},
		{"an unknown operator tolerates nothing", []manifest.Taint{gpu}, []manifest.Toleration{{Key: "dedicated", Operator: "Maybe"}},
			"node(s) had untolerated taint {dedicated: gpu}"},
	}
	for _, tc := range cases {
		n := testNode("n1", 1000, 1<<30, 0, taints(tc.taints...))
		if got := f.Filter(testPod(tolerate(tc.tols...)), n); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
