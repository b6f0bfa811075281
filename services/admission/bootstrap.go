package admission

import (
	"encoding/json"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/services/runner"
)

// bootstrap decides, once in a cluster's life, the Namespaces that exist
// without being applied (default, kube-system, kube-public), as Kubernetes'
// API server makes them at its first start: real objects in the log, so
// `gantry get namespaces` lists them. The message id and an empty subject
// make it once, however many admissions start.
func (s *Service) bootstrap() []runner.Decision {
	var out []runner.Decision
	for _, name := range manifest.DefaultNamespaces {
		key := "namespace/" + events.ClusterScope + "/" + name
		if _, made := s.made[key]; made || s.objects[key] != nil {
			continue
		}
		obj, err := json.Marshal(manifest.Object{APIVersion: manifest.APICoreV1, Kind: manifest.KindNamespace,
			Metadata: manifest.ObjectMeta{Name: name}, Spec: &manifest.NamespaceSpec{}})
		if err != nil {
			continue // cannot happen for this type
		}
		msgID := "bootstrap/namespace/" + name
		id := events.DeriveID(msgID)
		out = append(out, runner.Decision{
			Subject: events.WorkloadSubject(events.ClusterScope, "namespace", name),
			Event: &events.WorkloadDecided{Kind: "namespace", Namespace: events.ClusterScope, Name: name,
				UID: events.DeriveID("uid/" + msgID), Generation: 1, Object: obj},
			Meta:          events.Meta{ID: id, Source: Name, Subject: events.ClusterScope + "/" + name, CorrelationID: id, Actor: Name},
			MsgID:         msgID,
			ExpectLastSeq: bus.Expect(0),
		})
	}
	return out
}
