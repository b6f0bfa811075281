package job

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gantry-sh/gantry/services/poddecision"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/runner"
)

// Name of the service.
const Name = "job"

// FullEvery is how often, by default, Decide examines every Job rather than
// only those that changed, are pending or asked to be looked at again.
const FullEvery = 10 * time.Second

// A pass is bounded, as the replica's is (Kubernetes' controllers create at
// most 500 pods per sync): at most BurstPerJob decisions for one Job, and
// PassBudget in all. What a pass leaves out is pending for the next. A Job
// never has more than parallelism pods planned and not ended, whatever the
// budget: Compute starts at most parallelism minus the active ones.
const (
	BurstPerJob = 500
	PassBudget  = 5000
)

// Labels and annotation Kubernetes' Job controller puts on a Job's pods.
const (
	LabelJobName         = "batch.kubernetes.io/job-name"
	LabelControllerUID   = "batch.kubernetes.io/controller-uid"
	LegacyJobName        = "job-name"
	LegacyControllerUID  = "controller-uid"
	EnvJobCompletionIdx  = "JOB_COMPLETION_INDEX"
	ReasonJobSuspended   = "JobSuspended"
	ReasonJobResumed     = "JobResumed"
	ReasonTTLAfterFinish = "ttlSecondsAfterFinished"
)

// Service runs Jobs: it plans their pods, deletes the ones a Job no longer
// needs, and decides their status (started, suspended, finished), with
// Compute's arithmetic.
//
// Its decisions are not Assumed: the runner stores a pass and reads it back
// before it calls Decide again (its expectations), so every pass sees the
// pods the previous ones planned as active, and never starts more than
// parallelism. A pod's name and uid are derived from (Job uid, n), n its
// ordinal among every pod ever planned for the Job (Workload.PodsPlanned),
// so a pass decided again after a crash plans the same pods and the log
// drops the copies: no index is started twice, no slot filled twice.
type Service struct {
	c     *projections.Cluster
	quota *projections.QuotaPass // this pass's quota charges

	// FullEvery is how often Decide examines every Job (default FullEvery;
	// zero or less: every time).
	FullEvery time.Duration
	full      runner.FullPasses // when a pass examines everything
	// pending are the Jobs whose last examination yielded decisions: they
	// are examined again until one yields none (a decision that never
	// reached the log brings back no record to mark them dirty).
	pending map[string]bool
	// recheck is when a Job would decide otherwise though nothing changed
	// (its deadline, the end of a back-off, its TTL), by workload key.
	recheck map[string]time.Time
}

// New returns a job service over an empty fold.
func New() *Service {
	return &Service{c: projections.NewCluster(), FullEvery: FullEvery,
		pending: map[string]bool{}, recheck: map[string]time.Time{}}
}

// Name implements runner.Service.
func (s *Service) Name() string { return Name }

// Sources implements runner.Service: the decisions (not the copies for
// nodes) and the nodes' reports of pods.
func (s *Service) Sources() []runner.Source {
	return []runner.Source{
		{Stream: events.StreamDecisions, Filters: []string{events.SubjectDecisionAll}},
		{Stream: events.StreamObservations, Filters: []string{events.SubjectObsPodAll}},
	}
}

// Apply implements runner.Service.
func (s *Service) Apply(r events.Record) { s.c.Apply(r) }

// Decide implements runner.Service: for each Job that changed, is pending
// or is due a recheck (every Job on a full pass), what Compute says, as
// decisions. Jobs are examined in key order.
func (s *Service) Decide(now time.Time) []runner.Decision {
	s.full.Every = s.FullEvery
	full := s.full.Full(now)
	keys := s.toExamine(full, now)
	s.c.ClearDirty()
	clear(s.pending)
	s.quota = s.c.QuotaPass()
	budget := PassBudget
	var out []runner.Decision
	for _, key := range keys {
		w := s.c.Workloads[key]
		if w == nil || w.Kind != "job" {
			delete(s.recheck, key)
			continue
		}
		if budget == 0 {
			s.pending[key] = true
			continue
		}
		ds, at := s.job(w, now, min(budget, BurstPerJob))
		if len(ds) > 0 {
			s.pending[key] = true
			budget -= len(ds)
			out = append(out, ds...)
		}
		if at.IsZero() {
			delete(s.recheck, key)
		} else {
			s.recheck[key] = at
		}
	}
	return out
}

// toExamine returns, sorted, the keys of the Jobs a pass looks at: all of
// them on a full pass; otherwise the pending ones, those due a recheck, and
// those the fold marked dirty, directly or through one of their pods.
func (s *Service) toExamine(full bool, now time.Time) []string {
	set := map[string]bool{}
	if full {
		for key, w := range s.c.Workloads {
			if w.Kind == "job" {
				set[key] = true
			}
		}
	} else {
		for key := range s.pending {
			set[key] = true
		}
		for key, at := range s.recheck {
			if !now.Before(at) {
				set[key] = true
			}
		}
		for key := range s.c.Dirty.Workloads {
			if strings.HasPrefix(key, "job/") {
				set[key] = true
			}
		}
		for key := range s.c.Dirty.Pods {
			if p := s.c.Pods[key]; p != nil && p.Owner != nil && p.Owner.Kind == "job" {
				set[projections.WorkloadKey("job", p.Namespace, p.Owner.Name)] = true
			}
		}
	}
	keys := slices.Collect(maps.Keys(set))
	sort.Strings(keys)
	return keys
}

// job decides for one Job, at most limit decisions, and says when it
// should be looked at again though nothing changes (zero: never).
func (s *Service) job(w *projections.Workload, now time.Time, limit int) ([]runner.Decision, time.Time) {
	cause := w.Cause()
	owned := s.c.OwnedPods(w.UID)
	if w.Deleted {
		return s.deleted(w, owned, cause, limit), time.Time{}
	}
	obj := w.Object
	obj.Defaults()
	spec := obj.Job()
	if spec == nil {
		return nil, time.Time{}
	}
	decided := w.Decided()
	finished := finishedCondition(decided)
	in := Input{Namespace: w.Namespace, Spec: *spec, Now: now, Finished: finished}
	var byName map[string]*projections.Pod
	in.Pods, byName = s.pods(w, owned)

	// TTL: a finished Job goes ttlSecondsAfterFinished after it finished.
	if finished != nil && spec.TTLSecondsAfterFinished != nil {
		at := finishedAt(decided).Add(time.Duration(*spec.TTLSecondsAfterFinished) * time.Second)
		if now.Before(at) {
			ds, recheck := s.run(w, in, decided, byName, cause, now, limit)
			return ds, earliest(recheck, at)
		}
		msgID := "job/" + w.UID + "/ttl"
		return []runner.Decision{{
			Subject: events.WorkloadSubject(w.Namespace, w.Kind, w.Name),
			Event: &events.WorkloadDeleted{Kind: w.Kind, Namespace: w.Namespace, Name: w.Name, UID: w.UID,
				Reason: fmt.Sprintf("finished %ds ago (ttlSecondsAfterFinished)", *spec.TTLSecondsAfterFinished)},
			Meta:          cause.Caused(events.DeriveID(msgID), Name, w.Namespace+"/"+w.Name, time.Time{}),
			MsgID:         msgID,
			ExpectLastSeq: bus.Expect(s.c.WorkloadDecisionSeq(w.Kind, w.Namespace, w.Name)),
		}}, time.Time{}
	}
	return s.run(w, in, decided, byName, cause, now, limit)
}

// run computes a pass for a live Job and turns the plan into decisions:
// deletions, then plans, then at most one status decision.
func (s *Service) run(w *projections.Workload, in Input, decided projections.WorkloadStatus,
	byName map[string]*projections.Pod, cause events.Envelope, now time.Time, limit int) ([]runner.Decision, time.Time) {
	spec := in.Spec
	suspend := spec.Suspend != nil && *spec.Suspend
	st := &events.WorkloadStatusDecided{Kind: w.Kind, Namespace: w.Namespace, Name: w.Name, UID: w.UID}
	changed := false
	var notes []string
	start := decided.StartTime
	if in.Finished == nil {
		wasSuspended := false
		if c := decided.Condition(manifest.JobSuspended); c != nil && c.Status == manifest.ConditionTrue {
			wasSuspended = true
		}
		switch {
		case suspend && !wasSuspended:
			st.Conditions = append(st.Conditions, manifest.Condition{Type: manifest.JobSuspended, Status: manifest.ConditionTrue,
				Reason: ReasonJobSuspended, Message: "Job suspended", LastTransitionTime: now})
			changed, notes = true, append(notes, "suspended")
		case !suspend && wasSuspended:
			// Resumed: Kubernetes starts the clock of activeDeadlineSeconds
			// again.
			st.Conditions = append(st.Conditions, manifest.Condition{Type: manifest.JobSuspended, Status: manifest.ConditionFalse,
				Reason: ReasonJobResumed, Message: "Job resumed", LastTransitionTime: now})
			at := now
			start, st.StartTime = &at, &at
			changed, notes = true, append(notes, "resumed")
		case !suspend && start == nil:
			at := now
			start, st.StartTime = &at, &at
			changed, notes = true, append(notes, "started")
		}
	}
	if start != nil {
		in.StartTime = *start
	}
	plan := Compute(in)

	var out []runner.Decision
	reason := "excess over parallelism, or its index is done"
	switch fin := in.Finished; {
	case plan.Finish != nil:
		fin = plan.Finish
		fallthrough
	case fin != nil:
		reason = "Job " + fin.Type + ": " + fin.Reason
	case plan.Suspended:
		reason = "Job suspended"
	}
	for _, name := range plan.Delete {
		if len(out) >= limit-1 {
			break
		}
		if p := byName[name]; p != nil {
			out = append(out, poddecision.Delete(p, reason, cause, Name))
		}
	}
	refused := ""
	if len(plan.Start) > 0 {
		ds, why := s.plans(w, spec, plan.Start, cause, limit-1-len(out))
		out, refused = append(out, ds...), why
	}
	if c, ok := projections.QuotaCondition(decided, refused, now); ok {
		st.Conditions = append(st.Conditions, c)
		changed, notes = true, append(notes, c.Reason+": "+c.Message)
	}

	if plan.Finish != nil {
		f := plan.Finish
		st.Conditions = append(st.Conditions, manifest.Condition{Type: f.Type, Status: manifest.ConditionTrue,
			Reason: f.Reason, Message: f.Message, LastTransitionTime: now})
		if f.Type == ConditionComplete {
			at := now
			st.CompletionTime = &at
		}
		changed, notes = true, append(notes, f.Type+": "+f.Message)
	}
	if spec.CompletionMode == manifest.CompletionIndexed && spec.BackoffLimitPerIndex != nil &&
		plan.Status.FailedIndexes != decided.FailedIndexes {
		fi := plan.Status.FailedIndexes
		st.FailedIndexes = &fi
		changed, notes = true, append(notes, "failed indexes "+fi)
	}
	if changed {
		seq := s.c.WorkloadDecisionSeq(w.Kind, w.Namespace, w.Name)
		msgID := fmt.Sprintf("job/%s/status/%d", w.UID, seq)
		if plan.Finish != nil {
			msgID = "job/" + w.UID + "/finished"
		}
		st.Message = strings.Join(notes, "; ")
		out = append(out, runner.Decision{
			Subject:       events.WorkloadSubject(w.Namespace, w.Kind, w.Name),
			Event:         st,
			Meta:          cause.Caused(events.DeriveID(msgID), Name, w.Namespace+"/"+w.Name, time.Time{}),
			MsgID:         msgID,
			ExpectLastSeq: bus.Expect(seq),
		})
	}
	return out, plan.RecheckAt
}

// pods lists what Compute needs of every pod ever planned for the Job, in
// planning order: those the fold holds, then, by their planning order too,
// those that ended and are gone (counted once, forever). It also maps the
// live pods by name, for their deletion.
func (s *Service) pods(w *projections.Workload, owned []*projections.Pod) ([]Pod, map[string]*projections.Pod) {
	type entry struct {
		seq uint64
		pod Pod
	}
	entries := make([]entry, 0, len(owned))
	live := make(map[string]bool, len(owned))
	byName := make(map[string]*projections.Pod, len(owned))
	for _, p := range owned {
		live[p.UID] = true
		byName[p.Name] = p
		codes, at := projections.EndOf(p.Status)
		entries = append(entries, entry{p.PlannedSeq, Pod{Name: p.Name, Index: projections.CompletionIndex(p.Annotations),
			Phase: p.Phase(), Ready: p.Ready(), ExitCodes: codes, Deleting: p.Deleting,
			// The service deletes only active pods: a pod being deleted
			// was stopped, and a failure it then reports is not its own.
			Stopped: p.Deleting, FinishedAt: at}})
	}
	for _, e := range s.c.EndedPods(w.UID) {
		if live[e.UID] {
			continue
		}
		phase := events.PhaseFailed
		if e.Succeeded {
			phase = events.PhaseSucceeded
		}
		name := e.Name
		if byName[name] != nil {
			name += "#" + e.UID // a gone pod is another than the live one of its name
		}
		entries = append(entries, entry{e.PlannedSeq, Pod{Name: name, Index: e.Index, Phase: phase, ExitCodes: e.ExitCodes,
			Gone: true, Stopped: e.Stopped, FinishedAt: e.FinishedAt}})
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].seq < entries[j].seq })
	out := make([]Pod, len(entries))
	for i, e := range entries {
		out[i] = e.pod
	}
	return out, byName
}

// plans makes the pods of the indexes to start (-1 each for NonIndexed), at
// most limit. The n-th pod ever planned for the Job is named and identified
// by (Job uid, n), n counting from the pods the fold has seen planned and
// skipping any n whose pod exists or existed, or whose name is taken (two
// pods can draw the same 5 characters).
func (s *Service) plans(w *projections.Workload, spec manifest.JobSpec, start []int, cause events.Envelope, limit int) (_ []runner.Decision, refused string) {
	used := map[string]bool{}
	for _, p := range s.c.OwnedPods(w.UID) {
		used[p.UID], used[p.Name] = true, true
	}
	for _, e := range s.c.EndedPods(w.UID) {
		used[e.UID], used[e.Name] = true, true
	}
	taken := func(ix int, n int64) bool {
		uid, name := podUID(w.UID, n), PodName(w.Name, ix, w.UID, n)
		return used[uid] || used[name] || s.c.Gone(uid) || s.c.Pods[projections.Key(w.Namespace, name)] != nil
	}
	hash := manifest.TemplateHash(spec.Template)
	var out []runner.Decision
	n := w.PodsPlanned
	for _, ix := range start {
		if len(out) >= limit {
			break
		}
		for taken(ix, n) {
			n++
		}
		d := s.plan(w, spec.Template, hash, ix, n, cause)
		p := d.Event.(*events.PodPlanned)
		if why := s.quota.Pod(w.Namespace, p.Name, p.Spec); why != "" {
			return out, why // a quota refuses it where it is decided
		}
		out = append(out, d)
		n++
	}
	return out, ""
}

// plan makes the n-th pod of a Job, of completion index ix (-1: none), as
// Kubernetes' Job controller makes it: the template's labels plus the
// Job's name and uid; for an Indexed Job, the index as an annotation and a
// label, JOB_COMPLETION_INDEX in every container's environment, and the
// host name <job>-<index>.
func (s *Service) plan(w *projections.Workload, t manifest.PodTemplateSpec, hash string, ix int, n int64, cause events.Envelope) runner.Decision {
	name := PodName(w.Name, ix, w.UID, n)
	uid := podUID(w.UID, n)
	labels := maps.Clone(t.Metadata.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelJobName], labels[LegacyJobName] = w.Name, w.Name
	labels[LabelControllerUID], labels[LegacyControllerUID] = w.UID, w.UID
	annotations := maps.Clone(t.Metadata.Annotations)
	podSpec := t.Spec
	if ix >= 0 {
		if annotations == nil {
			annotations = map[string]string{}
		}
		i := strconv.Itoa(ix)
		annotations[manifest.JobCompletionIndexAnnotation] = i
		labels[manifest.JobCompletionIndexAnnotation] = i
		podSpec.Containers = slices.Clone(t.Spec.Containers)
		for c := range podSpec.Containers {
			env := slices.Clone(podSpec.Containers[c].Env)
			podSpec.Containers[c].Env = append(env, manifest.EnvVar{Name: EnvJobCompletionIdx, Value: i})
		}
		if podSpec.Hostname == "" {
			podSpec.Hostname = hostname(w.Name, ix)
		}
	}
	msgID := "plan/" + uid
	return runner.Decision{
		Subject: events.PodDecisionSubject(w.Namespace, name),
		Event: &events.PodPlanned{Namespace: w.Namespace, Name: name, UID: uid,
			Owner:        &events.OwnerRef{Kind: w.Kind, Name: w.Name, UID: w.UID},
			TemplateHash: hash, Labels: labels, Annotations: annotations, Spec: podSpec},
		Meta:  cause.Caused(events.DeriveID(msgID), Name, w.Namespace+"/"+name, time.Time{}),
		MsgID: msgID,
		// A new name has no decision yet; a name planned before (a pod of
		// another incarnation) expects its last one, so two pods given one
		// name cannot both be planned.
		ExpectLastSeq: bus.Expect(s.c.DecisionSeq(w.Namespace, name)),
	}
}

// deleted stops the pods of a deleted Job, or lets them go (propagation
// Orphan): they keep running, owned by nothing.
func (s *Service) deleted(w *projections.Workload, owned []*projections.Pod, cause events.Envelope, limit int) []runner.Decision {
	return poddecision.Cascade(w, owned, cause, Name, limit)
}

// finishedCondition is the terminal condition decided for the Job, if any.
func finishedCondition(st projections.WorkloadStatus) *Condition {
	for _, typ := range []string{manifest.JobFailed, manifest.JobComplete} {
		if c := st.Condition(typ); c != nil && c.Status == manifest.ConditionTrue {
			return &Condition{Type: c.Type, Reason: c.Reason, Message: c.Message}
		}
	}
	return nil
}

// finishedAt is when the Job finished: its completion time, or the time of
// its terminal condition.
func finishedAt(st projections.WorkloadStatus) time.Time {
	if st.CompletionTime != nil {
		return *st.CompletionTime
	}
	for _, typ := range []string{manifest.JobFailed, manifest.JobComplete} {
		if c := st.Condition(typ); c != nil && c.Status == manifest.ConditionTrue {
			return c.LastTransitionTime
		}
	}
	return time.Time{}
}

// earliest is the earlier of two times, zero meaning never.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func podUID(jobUID string, n int64) string { return poddecision.UID(jobUID, n) }

// PodName names the n-th pod of a Job as Kubernetes does: <job>-<index>-<5
// chars> for an Indexed Job (ix ≥ 0), <job>-<5 chars> otherwise, the 5
// characters derived from (Job uid, n), cut to a DNS-1123 label.
func PodName(job string, ix int, uid string, n int64) string {
	if ix >= 0 {
		job = hostname(job, ix)
	}
	return poddecision.Name(job, uid, n)
}

// hostname is an Indexed Job pod's host name, <job>-<index>, cut to a
// DNS-1123 label.
func hostname(job string, ix int) string {
	h := job + "-" + strconv.Itoa(ix)
	if len(h) > 63 {
		h = h[:63]
	}
	return h
}
