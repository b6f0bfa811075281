package admission

import (
	"encoding/json"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/authz"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/runner"
)

// bootstrap decides, once in a cluster's life, the objects that exist
// without being applied: the Namespaces default, kube-system and
// kube-public, as Kubernetes' API server makes them at its first start, and
// the default StorageClass local-path, as k3s ships it. Real objects in the
// log, so `gantry get namespaces` and `get storageclass` list them. The
// message id and an empty subject make each once, however many admissions
// start.
func (s *Service) bootstrap() []runner.Decision {
	var out []runner.Decision
	for _, name := range manifest.DefaultNamespaces {
		out = s.bootstrapObject(out, "namespace", manifest.Object{APIVersion: manifest.APICoreV1, Kind: manifest.KindNamespace,
			Metadata: manifest.ObjectMeta{Name: name}, Spec: &manifest.NamespaceSpec{}})
	}
	n := len(out)
	class := manifest.DefaultStorageClassObject()
	out = s.bootstrapObject(out, "storageclass", class)
	s.bootClass = nil
	if len(out) > n {
		// Assumed until the fold reads it back, as every decision is: a
		// claim in the cluster's first moments gets the default class.
		s.bootClass = &projections.Workload{Object: class}
	}
	return s.bootstrapRBAC(out)
}

// bootstrapRBAC makes Kubernetes' default ClusterRoles and the
// ClusterRoleBinding of system:masters (events/authz); a cluster started
// to enforce RBAC also gets its mode ConfigMap and its admin's binding.
func (s *Service) bootstrapRBAC(out []runner.Decision) []runner.Decision {
	if s.bootRBAC == nil {
		// Made once: bootstrap runs every pass.
		admin := ""
		if s.Authorization == authz.ModeRBAC {
			admin = s.Admin
		}
		s.bootRBAC = authz.BootstrapObjects(admin)
		if s.Authorization == authz.ModeRBAC {
			s.bootRBAC = append(s.bootRBAC, authz.ModeObject(authz.ModeRBAC))
		}
	}
	for _, o := range s.bootRBAC {
		out = s.bootstrapObject(out, o.Token(), o)
	}
	return out
}

// bootstrapObject adds the decision that makes the obj (cluster-scoped
// unless it names its namespace) of
// kind (its token), unless it was made or applied before.
func (s *Service) bootstrapObject(out []runner.Decision, kind string, obj manifest.Object) []runner.Decision {
	name, ns := obj.Metadata.Name, events.ClusterScope
	if obj.Metadata.Namespace != "" {
		ns = obj.Metadata.Namespace
	}
	key := kind + "/" + ns + "/" + name
	if _, made := s.made[key]; made || s.objects[key] != nil {
		return out
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return out // cannot happen for these types
	}
	msgID := "bootstrap/" + kind + "/" + name
	id := events.DeriveID(msgID)
	return append(out, runner.Decision{
		Subject: events.WorkloadSubject(ns, kind, name),
		Event: &events.WorkloadDecided{Kind: kind, Namespace: ns, Name: name,
			UID: events.DeriveID("uid/" + msgID), Generation: 1, Object: raw},
		Meta:          events.Meta{ID: id, Source: Name, Subject: ns + "/" + name, CorrelationID: id, Actor: Name},
		MsgID:         msgID,
		ExpectLastSeq: bus.Expect(0),
	})
}
