package rollout

import (
	"encoding/json"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/poddecision"
	"github.com/gantry-sh/gantry/services/runner"
)

// What a Deployment's ReplicaSets are decided as: their names, uids,
// specs, revisions and history.

// revisionOf is a ReplicaSet's deployment.kubernetes.io/revision (0: none,
// one made before revisions).
func revisionOf(rs *projections.Workload) int64 {
	return manifest.RevisionOf(rs.Object.Metadata.Annotations)
}

// revised is the annotations of the ReplicaSet of w's current template, as
// Kubernetes' Deployment keeps them: its revision stays while it is the
// newest; a new ReplicaSet, or an old one brought back (a rollback), gets
// the next one, max(the others') + 1. Worked example: A (1) → B makes web-B
// at 2; scaled, still 2; back to A, web-A moves from 1 to 3.
// kubernetes.io/change-cause is the Deployment's, copied as it stands.
func revised(w, rs *projections.Workload, oldMax int64) map[string]string {
	ann := maps.Clone(rs.Object.Metadata.Annotations)
	if ann == nil {
		ann = map[string]string{}
	}
	if rev := revisionOf(rs); rev <= oldMax {
		ann[manifest.RevisionAnnotation] = strconv.FormatInt(oldMax+1, 10)
	}
	if cc, ok := w.Object.Metadata.Annotations[manifest.ChangeCauseAnnotation]; ok {
		ann[manifest.ChangeCauseAnnotation] = cc
	} else {
		delete(ann, manifest.ChangeCauseAnnotation)
	}
	return ann
}

// pruneHistory deletes a Deployment's oldest ReplicaSets beyond its
// revisionHistoryLimit, as Kubernetes' cleanup does: of the old ones (the
// current one is never among them), the len(old)-limit of lowest revision,
// each only once it is at 0 with no pod left (one that still has pods is
// skipped this time, not replaced by a newer one). At most budget
// decisions. Worked example: limit 1, old web-A (1, no pods) and web-B (2,
// a pod still ending) → web-A is deleted, web-B kept.
func (s *Service) pruneHistory(old []*projections.Workload, limit int32, budget int, cause events.Envelope) []runner.Decision {
	extra := len(old) - int(limit)
	if extra <= 0 || budget <= 0 {
		return nil
	}
	sort.SliceStable(old, func(i, j int) bool { return revisionOf(old[i]) < revisionOf(old[j]) })
	var out []runner.Decision
	for _, rs := range old[:extra] {
		if len(out) >= budget {
			break
		}
		if replicasOf(rs) == 0 && s.c.OwnedCount(rs.UID) == 0 {
			out = append(out, poddecision.DeleteObject(rs, fmt.Sprintf("revision %d beyond revisionHistoryLimit %d", revisionOf(rs), limit), cause, Name))
		}
	}
	return out
}

// setUID is the uid of a new ReplicaSet of a Deployment's template, at
// its revision: a template made again after its ReplicaSet was pruned
// (revisionHistoryLimit) gets a new uid, so its decisions are not taken
// for the pruned one's.
func setUID(deploymentUID, hash string, revision int64) string {
	return events.DeriveID(fmt.Sprintf("replicaset/%s/%s/%d", deploymentUID, hash, revision))
}

// setSpec is the ReplicaSet of a Deployment's template: the template and
// the selector with pod-template-hash added, as Kubernetes does.
func setSpec(spec *manifest.DeploymentSpec, hash string, replicas int32) manifest.ReplicaSetSpec {
	t := spec.Template
	t.Metadata.Labels = manifest.WithLabel(t.Metadata.Labels, manifest.PodTemplateHashLabel, hash)
	sel := manifest.LabelSelector{}
	if spec.Selector != nil {
		sel = *spec.Selector
	}
	sel.MatchLabels = manifest.WithLabel(sel.MatchLabels, manifest.PodTemplateHashLabel, hash)
	return manifest.ReplicaSetSpec{Replicas: ptr(replicas), Selector: &sel, Template: t}
}

func ptr[T any](v T) *T { return &v }

// replicasOf is a ReplicaSet's spec.replicas.
func replicasOf(rs *projections.Workload) int32 {
	if spec := rs.Object.ReplicaSet(); spec != nil {
		return spec.ReplicaCount()
	}
	return 0
}

// decideSet decides a ReplicaSet (rs: the fold's, or a new one's identity)
// as spec says, with annotations ann, owned by owner (nil: released), at
// generation gen: on the ReplicaSet's subject, expecting its newest decision. The message id is
// derived from the uid and the generation, so deciding again after a crash
// is dropped as a duplicate.
func (s *Service) decideSet(rs *projections.Workload, owner *events.OwnerRef, spec manifest.ReplicaSetSpec, ann map[string]string, gen int64, reason string, cause events.Envelope) runner.Decision {
	labels := rs.Object.Metadata.Labels
	if labels == nil {
		labels = spec.Template.Metadata.Labels
	}
	obj := manifest.Object{APIVersion: manifest.APIAppsV1, Kind: manifest.KindReplicaSet,
		Metadata: manifest.ObjectMeta{Name: rs.Name, Namespace: rs.Namespace, Labels: labels, Annotations: ann},
		Spec:     &spec}
	obj.Defaults()
	raw, err := json.Marshal(obj)
	if err != nil {
		raw = nil // cannot happen for these types; the fold ignores what does not decode
	}
	msgID := fmt.Sprintf("replicaset/%s/%d", rs.UID, gen)
	return runner.Decision{
		Subject: events.WorkloadSubject(rs.Namespace, "replicaset", rs.Name),
		Event: &events.WorkloadDecided{Kind: "replicaset", Namespace: rs.Namespace, Name: rs.Name, UID: rs.UID,
			Generation: gen, Owner: owner, Object: raw, Reason: reason},
		Meta:          cause.Caused(events.DeriveID(msgID), Name, rs.Namespace+"/"+rs.Name, time.Time{}),
		MsgID:         msgID,
		ExpectLastSeq: bus.Expect(s.c.WorkloadDecisionSeq("replicaset", rs.Namespace, rs.Name)),
	}
}

// setDeleted deletes a ReplicaSet its owner no longer wants.
// replicaSetKind is the ReplicaSet's entry in the kind registry, for quota
// checks.
var replicaSetKind, _ = manifest.KindOfToken("replicaset")

func mapsEqual(a, b map[string]string) bool { return maps.Equal(a, b) }

// sortByRevision orders ReplicaSets oldest revision first (then by name).
func sortByRevision(sets []*rs) {
	sort.SliceStable(sets, func(i, j int) bool { return sets[i].revision < sets[j].revision })
}
