package events_test

import (
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

// BenchmarkParseDecodePodBound is what every service pays to read one
// binding from the log: the envelope, then the event with its pod spec.
func BenchmarkParseDecodePodBound(b *testing.B) {
	cpu, _ := manifest.ParseQuantity("100m")
	mem, _ := manifest.ParseQuantity("64Mi")
	spec := manifest.PodSpec{Containers: []manifest.Container{{Name: "web", Image: "gantry.local/hello:v1",
		Resources: manifest.ResourceRequirements{Requests: manifest.ResourceList{"cpu": cpu, "memory": mem}}}}}
	ev := &events.PodBound{Pod: events.PodPlanned{Namespace: "default", Name: "web-abc", UID: "5f1c2d7e-0000-4000-8000-000000000001",
		Owner: &events.OwnerRef{Kind: "deployment", Name: "web", UID: "uid"}, TemplateHash: "28tt8qf6fw", Labels: map[string]string{"app": "web"}, Spec: spec},
		Node: "sim-01234", Epoch: 1, Filters: []string{"NodeReady", "NodeUnschedulable", "TaintToleration", "PodCount", "ResourceFit"},
		Scores: []events.Score{{Name: "MostAllocated", Score: 26}, {Name: "WorkloadSpread", Score: 100}}, Feasible: 250}
	env, err := events.Seal(ev, events.Meta{ID: events.NewID(), Source: "scheduler", Time: time.Now(), Actor: "a", CausationID: "c", CorrelationID: "d"})
	if err != nil {
		b.Fatal(err)
	}
	data, err := env.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		e, err := events.Parse(data)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.Decode(); err != nil {
			b.Fatal(err)
		}
	}
}
