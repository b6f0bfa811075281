package rollout

import (
	"fmt"
	"strconv"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/runner"
)

// How a rollout is judged, and what the Deployment's status says.
//
// A rollout of the current template fails when, with the Deployment
// neither paused nor complete:
//
//   - a new pod's containers restarted failureRestarts times in all
//     (annotation rollout.gantry.sh/failure-restarts, default 2):
//     CrashLooping;
//   - a new pod bound unreadySeconds ago is still not ready (annotation
//     rollout.gantry.sh/unready-seconds, default 300): Unready;
//   - progressDeadlineSeconds passed since the rollout last progressed: the
//     later of the Progressing condition's lastUpdateTime (a ReplicaSet
//     scaled, a canary step done) and when the newest of the new pods
//     became available (from the pods' own reports, so no status is
//     decided for it): ProgressDeadlineExceeded;
//   - a canary analysis did not hold: AnalysisFailed (canary.go).
//
// Then, unless rollout.gantry.sh/auto-rollback is "false", the failure
// names the revision that was last fully available (RolloutStatus.Stable*)
// and, while the Deployment stays at that generation, the rollout moves
// back to it (deployment.go: the target). Without such a revision, or with
// rollback off, the rollout halts where it is, as Kubernetes' does.
//
// Worked example: web at revision 1 (3/3 available, stable 1), applied
// with an image whose command exits 1 → revision 2's first pod restarts
// twice → status: failed generation 2, revision 2, CrashLooping, rolled
// back to 1; Progressing False RolloutFailed. The next passes scale
// revision 1 back to 3 and revision 2 to 0; once done, Progressing False
// RolledBack. Applied again with the same template, admission makes
// generation 3, which is not the failed one: a new attempt.

// failure is why a rollout failed.
type failure struct {
	reason, message string
}

// Reasons a rollout fails, besides Kubernetes' ProgressDeadlineExceeded.
const (
	ReasonCrashLooping   = "CrashLooping"
	ReasonUnready        = "Unready"
	ReasonAnalysisFailed = "AnalysisFailed"
)

// judge looks for a failure of the rollout to the current template, and
// notes whether the rollout is complete.
func (r *roll) judge() {
	t := r.target
	r.done = t != nil && t.spec == r.want && t.avail() >= r.want
	for _, o := range r.others() {
		if o.spec != 0 || o.pods != 0 {
			r.done = false
		}
	}
	if r.paused || r.failed || r.done || t == nil || t != r.current || t.hash == r.st.StableHash {
		return // no rollout under way: a proven revision is not judged again
	}
	if f := r.health(); f != nil {
		r.fail(f)
		return
	}
	if r.pausedStep() {
		return // a canary's pause step: no progress is expected
	}
	prog := r.w.Decided().Condition(manifest.DeploymentProgressing)
	if prog == nil || prog.Status != "True" || prog.LastUpdateTime.IsZero() {
		return // the rollout starts now (status): the deadline counts from then
	}
	last := prog.LastUpdateTime
	if t.lastAvailable.After(last) {
		last = t.lastAvailable // a new pod became available since: progress
	}
	deadline := last.Add(r.spec.ProgressDeadline())
	if !r.now.Before(deadline) {
		r.fail(&failure{manifest.ReasonProgressDeadlineExceeded,
			fmt.Sprintf("ReplicaSet %q has timed out progressing (progressDeadlineSeconds %d)", t.w.Name, int(r.spec.ProgressDeadline()/time.Second))})
		return
	}
	r.wakeAt(deadline)
}

// health finds a new pod that crash-loops or stays unready too long.
func (r *roll) health() *failure {
	restarts := annotationInt(r.w, manifest.FailureRestartsAnnotation, manifest.DefaultFailureRestarts)
	unready := time.Duration(annotationInt(r.w, manifest.UnreadySecondsAnnotation, manifest.DefaultUnreadySeconds)) * time.Second
	for _, p := range r.target.owned {
		if p.Deleting || p.Status == nil {
			continue
		}
		n, why := int32(0), ""
		for _, c := range p.Status.Containers {
			n += c.RestartCount
			if c.Reason != "" && why == "" {
				why = c.Reason
			}
		}
		if n >= int32(restarts) {
			msg := fmt.Sprintf("pod %s restarted %d time%s", p.Name, n, plural(n))
			if why != "" {
				msg += " (" + why + ")"
			}
			return &failure{ReasonCrashLooping, msg}
		}
		if p.Terminal() {
			return &failure{ReasonCrashLooping, fmt.Sprintf("pod %s ended %s", p.Name, p.Phase())}
		}
		if p.Ready() || p.BoundAt == nil {
			continue
		}
		if at := p.BoundAt.Add(unready); !r.now.Before(at) {
			return &failure{ReasonUnready, fmt.Sprintf("pod %s not ready %s after it was bound", p.Name, unready)}
		} else {
			r.wakeAt(at)
		}
	}
	return nil
}

// fail records a failure of the current generation's rollout, and where
// it goes back to.
func (r *roll) fail(f *failure) {
	r.failure = f
	st := &r.st
	st.FailedGeneration, st.FailedRevision, st.FailedHash = r.w.Generation, r.current.revision, r.hash
	st.Reason, st.Message = f.reason, f.message
	st.RolledBackTo, st.RolledBackHash = 0, ""
	if r.w.Object.Metadata.Annotations[manifest.AutoRollbackAnnotation] != "false" &&
		st.StableHash != "" && st.StableHash != r.hash && r.find(st.StableHash) != nil {
		st.RolledBackTo, st.RolledBackHash = st.StableRevision, st.StableHash
	}
}

func annotationInt(w *projections.Workload, key string, def int) int {
	if v, err := strconv.Atoi(w.Object.Metadata.Annotations[key]); err == nil && v > 0 {
		return v
	}
	return def
}

// status decides the Deployment's conditions and rollout status when
// they change (nil: they do not).
func (r *roll) status() *runner.Decision {
	decided := r.w.Decided()
	if r.done && r.target != nil {
		r.st.StableRevision, r.st.StableHash = r.target.revision, r.target.hash
	}
	e := &events.WorkloadStatusDecided{Kind: r.w.Kind, Namespace: r.w.Namespace, Name: r.w.Name, UID: r.w.UID}
	if c := r.progressing(decided); c != nil {
		e.Conditions = append(e.Conditions, *c)
		e.Message = c.Reason + ": " + c.Message
	}
	if c := r.available(decided); c != nil {
		e.Conditions = append(e.Conditions, *c)
	}
	if c, ok := projections.QuotaCondition(decided, r.quotaRefused, r.now); ok {
		e.Conditions = append(e.Conditions, c)
		e.Message = c.Reason + ": " + c.Message
	}
	if !sameRollout(decided.Rollout, &r.st) {
		st := r.st
		e.Rollout = &st
	}
	if len(e.Conditions) == 0 && e.Rollout == nil {
		return nil
	}
	last := r.s.c.WorkloadDecisionSeq(r.w.Kind, r.w.Namespace, r.w.Name)
	msgID := fmt.Sprintf("rollout-status/%s/%d", r.w.UID, last)
	return &runner.Decision{
		Subject:       events.WorkloadSubject(r.w.Namespace, r.w.Kind, r.w.Name),
		Event:         e,
		Meta:          r.cause.Caused(events.DeriveID(msgID), Name, r.w.Namespace+"/"+r.w.Name, time.Time{}),
		MsgID:         msgID,
		ExpectLastSeq: bus.Expect(last),
	}
}

// progressing is the Progressing condition when it changes (nil: it
// stays), as Kubernetes' deployment controller words it.
func (r *roll) progressing(decided manifest.WorkloadStatus) *manifest.Condition {
	st := &r.st
	var c manifest.Condition
	update := false // a new lastUpdateTime even if nothing else changes
	switch {
	case r.paused:
		c = manifest.Condition{Status: "Unknown", Reason: manifest.ReasonDeploymentPaused, Message: "Deployment is paused"}
	case r.failed || r.failure != nil:
		what := fmt.Sprintf("revision %d failed: %s", st.FailedRevision, st.Message)
		switch {
		case st.RolledBackHash == "" && st.Reason == manifest.ReasonProgressDeadlineExceeded:
			c = manifest.Condition{Status: "False", Reason: manifest.ReasonProgressDeadlineExceeded, Message: st.Message}
		case st.RolledBackHash == "":
			c = manifest.Condition{Status: "False", Reason: manifest.ReasonRolloutFailed, Message: what + "; halted (no automatic rollback)"}
		case r.done:
			c = manifest.Condition{Status: "False", Reason: manifest.ReasonRolledBack,
				Message: fmt.Sprintf("rolled back to revision %d: %s", st.RolledBackTo, what)}
		default:
			c = manifest.Condition{Status: "False", Reason: manifest.ReasonRolloutFailed,
				Message: fmt.Sprintf("%s; rolling back to revision %d", what, st.RolledBackTo)}
		}
	case r.done:
		c = manifest.Condition{Status: "True", Reason: manifest.ReasonNewReplicaSetAvailable,
			Message: fmt.Sprintf("ReplicaSet %q has successfully progressed.", r.target.w.Name)}
	case r.created:
		c = manifest.Condition{Status: "True", Reason: manifest.ReasonNewReplicaSetCreated,
			Message: fmt.Sprintf("Created new replica set %q", manifest.ReplicaSetName(r.w.Name, r.hash))}
		update = true
	case (r.scaled || r.stepped) && r.target != nil:
		c = manifest.Condition{Status: "True", Reason: manifest.ReasonReplicaSetUpdated,
			Message: fmt.Sprintf("ReplicaSet %q is progressing.", r.target.w.Name)}
		update = true
	default:
		old := decided.Condition(manifest.DeploymentProgressing)
		if old != nil && old.Status == "True" && (old.Reason != manifest.ReasonNewReplicaSetAvailable || r.target == nil || r.target.hash == r.st.StableHash) {
			return nil // progressing still, or complete and since scaled or healed, as last said
		}
		if r.target == nil {
			return nil // nothing to roll to yet (a quota refused it)
		}
		// Resumed, retried after a failure, or a new template whose first
		// pass moved nothing yet: progressing from now.
		c = manifest.Condition{Status: "True", Reason: manifest.ReasonReplicaSetUpdated,
			Message: fmt.Sprintf("ReplicaSet %q is progressing.", r.target.w.Name)}
		update = true
	}
	c.Type = manifest.DeploymentProgressing
	return changed(decided, c, update, r.now)
}

// available is the Available condition when it changes: minimum
// availability is spec.replicas - maxUnavailable available pods.
func (r *roll) available(decided manifest.WorkloadStatus) *manifest.Condition {
	su, un := r.spec.Bounds()
	_, unavailable := manifest.ResolveBounds(su, un, r.want)
	if r.spec.StrategyType() == manifest.RecreateStrategy {
		unavailable = r.want
	}
	n := int32(0)
	if r.target != nil {
		n += r.target.avail()
	}
	for _, o := range r.others() {
		n += o.avail()
	}
	c := manifest.Condition{Type: manifest.DeploymentAvailable, Status: "True", Reason: manifest.ReasonMinimumReplicasAvailable,
		Message: "Deployment has minimum availability."}
	if n < r.want-unavailable || (r.want > 0 && n == 0 && r.spec.StrategyType() != manifest.RecreateStrategy) {
		c.Status, c.Reason, c.Message = "False", manifest.ReasonMinimumReplicasUnavail, "Deployment does not have minimum availability."
	}
	return changed(decided, c, false, r.now)
}

// changed returns c with its times if it differs from the decided one of
// its type (or update asks for a new lastUpdateTime), else nil. The
// transition time moves only when the status does, as in Kubernetes.
func changed(decided manifest.WorkloadStatus, c manifest.Condition, update bool, now time.Time) *manifest.Condition {
	c.LastTransitionTime, c.LastUpdateTime = now, now
	if old := decided.Condition(c.Type); old != nil {
		if !update && old.Status == c.Status && old.Reason == c.Reason && old.Message == c.Message {
			return nil
		}
		if old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		}
	}
	return &c
}

// sameRollout compares two rollout statuses (nil: the zero one).
func sameRollout(a, b *manifest.RolloutStatus) bool {
	var x, y manifest.RolloutStatus
	if a != nil {
		x = *a
	}
	if b != nil {
		y = *b
	}
	ta, tb := x.StepStartedAt, y.StepStartedAt
	x.StepStartedAt, y.StepStartedAt = nil, nil
	if x != y {
		return false
	}
	return (ta == nil) == (tb == nil) && (ta == nil || ta.Equal(*tb))
}

func plural(n int32) string {
	if n == 1 {
		return ""
	}
	return "s"
}
