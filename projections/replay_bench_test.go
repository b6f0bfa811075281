package projections_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/projections"
)

// BenchmarkReplayAccepted measures what a restarted service pays per stored
// verdict: parse the envelope, decode the event, fold it.
func BenchmarkReplayAccepted(b *testing.B) {
	msgs := make([][]byte, 1000)
	for i := range msgs {
		name := fmt.Sprintf("fill-%d", i)
		obj := fmt.Sprintf(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":%q,"namespace":"default"},`+
			`"spec":{"replicas":0,"selector":{"matchLabels":{"app":%q}},"template":{"metadata":{"labels":{"app":%q}},`+
			`"spec":{"containers":[{"name":"web","image":"gantry.local/hello:v1"}]}}}}`, name, name, name)
		env, err := events.Seal(&events.AdmissionAccepted{IntentSeq: uint64(i + 1), Op: events.OpApply, Kind: "deployment",
			Namespace: "default", Name: name, UID: events.DeriveID(name), Generation: 1, Object: json.RawMessage(obj)},
			events.Meta{ID: events.DeriveID("a" + name), Source: "admission", Time: time.Unix(0, 0)})
		if err != nil {
			b.Fatal(err)
		}
		msgs[i], _ = env.Marshal()
	}
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		c := projections.NewCluster()
		for i, m := range msgs {
			env, err := events.Parse(m)
			if err != nil {
				b.Fatal(err)
			}
			ev, err := env.Decode()
			if err != nil {
				b.Fatal(err)
			}
			c.Apply(events.Record{Stream: events.StreamDecisions, Seq: uint64(i + 1), Envelope: env, Event: ev})
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(msgs)), "ns/event")
}
