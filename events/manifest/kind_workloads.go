package manifest

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Columns shared by the kinds that stamp out a pod template, as kubectl -o
// wide shows them.
func templateColumns(t func(o Object) *PodTemplateSpec, sel func(o Object) *LabelSelector) []Column {
	return []Column{
		{Header: "CONTAINERS", Wide: true, Cell: func(o Object, _ WorkloadStatus, _ time.Time) string { return ContainerNames(t(o).Spec) }},
		{Header: "IMAGES", Wide: true, Cell: func(o Object, _ WorkloadStatus, _ time.Time) string { return ContainerImages(t(o).Spec) }},
		{Header: "SELECTOR", Wide: true, Cell: func(o Object, _ WorkloadStatus, _ time.Time) string { return FormatSelector(sel(o)) }},
	}
}

func count(n int32) string { return strconv.Itoa(int(n)) }

// ReplicaSet is the object's spec if it is a ReplicaSet, or nil.
func (o Object) ReplicaSet() *ReplicaSetSpec { s, _ := o.Spec.(*ReplicaSetSpec); return s }

// ReplicaCount is spec.replicas, or 1 when unset.
func (s ReplicaSetSpec) ReplicaCount() int32 {
	if s.Replicas == nil {
		return 1
	}
	return *s.Replicas
}

// replicaSetKind is apps/v1 ReplicaSet: keeps N pods matching its selector.
var replicaSetKind = KindInfo{
	APIVersion: APIAppsV1, Kind: KindReplicaSet, Token: "replicaset", Plural: "replicasets", ShortNames: []string{"rs"},
	spec:         specType[ReplicaSetSpec](),
	validate:     func(errs *FieldErrors, o Object) { validateReplicaSetSpec(errs, "spec", *o.ReplicaSet()) },
	defaults:     func(o *Object) { spec := o.ReplicaSet().withDefaults(); o.Spec = &spec },
	Template:     func(o Object) *PodTemplateSpec { return &o.ReplicaSet().Template },
	TemplatePath: "spec.template",
	HasPods:      true,
	Pods:         func(o Object) (int32, string) { return o.ReplicaSet().ReplicaCount(), "spec.replicas" },
	Columns: append([]Column{
		{Header: "DESIRED", Cell: func(o Object, _ WorkloadStatus, _ time.Time) string { return count(o.ReplicaSet().ReplicaCount()) }},
		{Header: "CURRENT", Cell: func(_ Object, st WorkloadStatus, _ time.Time) string { return count(st.Replicas) }},
		{Header: "READY", Cell: func(_ Object, st WorkloadStatus, _ time.Time) string { return count(st.ReadyReplicas) }},
	}, templateColumns(func(o Object) *PodTemplateSpec { return &o.ReplicaSet().Template },
		func(o Object) *LabelSelector { return o.ReplicaSet().Selector })...),
	Describe: func(o Object, st WorkloadStatus) []Field {
		rs := o.ReplicaSet()
		return []Field{
			{"Selector", FormatSelector(rs.Selector)},
			{"Replicas", fmt.Sprintf("%d current / %d desired", st.Replicas, rs.ReplicaCount())},
			{"Pods Status", fmt.Sprintf("%d Running / %d Waiting / %d Succeeded / %d Failed",
				st.ReadyReplicas, st.Replicas-st.ReadyReplicas, st.Succeeded, st.Failed)},
		}
	},
	K8sStatus: func(o Object, st WorkloadStatus) any {
		return struct {
			ObservedGeneration   int64 `json:"observedGeneration"`
			Replicas             int32 `json:"replicas"`
			FullyLabeledReplicas int32 `json:"fullyLabeledReplicas"`
			ReadyReplicas        int32 `json:"readyReplicas"`
			AvailableReplicas    int32 `json:"availableReplicas"`
		}{st.ObservedGeneration, st.Replicas, st.Replicas, st.ReadyReplicas, st.AvailableReplicas}
	},
}

// DaemonSet is the object's spec if it is a DaemonSet, or nil.
func (o Object) DaemonSet() *DaemonSetSpec { s, _ := o.Spec.(*DaemonSetSpec); return s }

// daemonSetKind is apps/v1 DaemonSet: a pod on every node that matches.
// Desired is the controller's count of matching nodes.
var daemonSetKind = KindInfo{
	APIVersion: APIAppsV1, Kind: KindDaemonSet, Token: "daemonset", Plural: "daemonsets", ShortNames: []string{"ds"},
	spec:         specType[DaemonSetSpec](),
	validate:     func(errs *FieldErrors, o Object) { validateDaemonSetSpec(errs, "spec", *o.DaemonSet()) },
	defaults:     func(o *Object) { spec := o.DaemonSet().withDefaults(); o.Spec = &spec },
	Template:     func(o Object) *PodTemplateSpec { return &o.DaemonSet().Template },
	TemplatePath: "spec.template",
	HasPods:      true,
	Columns: append([]Column{
		{Header: "DESIRED", Cell: func(_ Object, st WorkloadStatus, _ time.Time) string { return count(st.Desired) }},
		{Header: "CURRENT", Cell: func(_ Object, st WorkloadStatus, _ time.Time) string { return count(st.Replicas) }},
		{Header: "READY", Cell: func(_ Object, st WorkloadStatus, _ time.Time) string { return count(st.ReadyReplicas) }},
		{Header: "UP-TO-DATE", Cell: func(_ Object, st WorkloadStatus, _ time.Time) string { return count(st.UpdatedReplicas) }},
		{Header: "AVAILABLE", Cell: func(_ Object, st WorkloadStatus, _ time.Time) string { return count(st.AvailableReplicas) }},
		{Header: "NODE SELECTOR", Cell: func(o Object, _ WorkloadStatus, _ time.Time) string {
			return orNone(FormatLabels(o.DaemonSet().Template.Spec.NodeSelector))
		}},
	}, templateColumns(func(o Object) *PodTemplateSpec { return &o.DaemonSet().Template },
		func(o Object) *LabelSelector { return o.DaemonSet().Selector })...),
	Describe: func(o Object, st WorkloadStatus) []Field {
		ds := o.DaemonSet()
		return []Field{
			{"Selector", FormatSelector(ds.Selector)},
			{"Node-Selector", orNone(FormatLabels(ds.Template.Spec.NodeSelector))},
			{"Desired Number of Nodes Scheduled", count(st.Desired)},
			{"Current Number of Nodes Scheduled", count(st.Replicas)},
			{"Number of Nodes Scheduled with Up-to-date Pods", count(st.UpdatedReplicas)},
			{"Number of Nodes Scheduled with Available Pods", count(st.AvailableReplicas)},
			{"Pods Status", fmt.Sprintf("%d Running / %d Waiting / %d Succeeded / %d Failed",
				st.ReadyReplicas, st.Replicas-st.ReadyReplicas, st.Succeeded, st.Failed)},
			{"Update Strategy", ds.describeStrategy()},
		}
	},
	K8sStatus: func(o Object, st WorkloadStatus) any {
		return struct {
			ObservedGeneration     int64 `json:"observedGeneration"`
			DesiredNumberScheduled int32 `json:"desiredNumberScheduled"`
			CurrentNumberScheduled int32 `json:"currentNumberScheduled"`
			NumberMisscheduled     int32 `json:"numberMisscheduled"`
			NumberReady            int32 `json:"numberReady"`
			UpdatedNumberScheduled int32 `json:"updatedNumberScheduled"`
			NumberAvailable        int32 `json:"numberAvailable"`
			NumberUnavailable      int32 `json:"numberUnavailable,omitempty"`
		}{st.ObservedGeneration, st.Desired, st.Replicas, 0, st.ReadyReplicas, st.UpdatedReplicas,
			st.AvailableReplicas, max(0, st.Desired-st.AvailableReplicas)}
	},
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// Job conditions and their status values, as Kubernetes names them.
const (
	JobComplete    = "Complete"
	JobFailed      = "Failed"
	JobSuspended   = "Suspended"
	ConditionTrue  = "True"
	ConditionFalse = "False"
)

// Job is the object's spec if it is a Job, or nil.
func (o Object) Job() *JobSpec { s, _ := o.Spec.(*JobSpec); return s }

// Finished reports a Job whose controller decided it Complete or Failed.
func (st WorkloadStatus) Finished() (*Condition, bool) {
	for _, t := range []string{JobComplete, JobFailed} {
		if c := st.Condition(t); c != nil && c.Status == ConditionTrue {
			return c, true
		}
	}
	return nil, false
}

// JobStatusWord is kubectl's STATUS column of a Job.
func JobStatusWord(st WorkloadStatus) string {
	if c, ok := st.Finished(); ok {
		return c.Type
	}
	if c := st.Condition(JobSuspended); c != nil && c.Status == ConditionTrue {
		return JobSuspended
	}
	return "Running"
}

// jobParallelism is how many pods a Job runs at once at most: its
// parallelism (1 when unset), and no more than its completions.
func jobParallelism(j *JobSpec) int32 {
	n := int32(1)
	if j.Parallelism != nil {
		n = *j.Parallelism
	}
	if j.Completions != nil && *j.Completions < n {
		n = *j.Completions
	}
	return n
}

// jobCompletions is kubectl's COMPLETIONS: "3/5", or "1/1 of 3" for a
// work queue (completions unset).
func jobCompletions(j *JobSpec, st WorkloadStatus) string {
	if j.Completions != nil {
		return fmt.Sprintf("%d/%d", st.Succeeded, *j.Completions)
	}
	par := int32(1)
	if j.Parallelism != nil {
		par = *j.Parallelism
	}
	if par > 1 {
		return fmt.Sprintf("%d/1 of %d", st.Succeeded, par)
	}
	return fmt.Sprintf("%d/1", st.Succeeded)
}

// jobDuration is kubectl's DURATION: from start to completion, or to now.
func jobDuration(st WorkloadStatus, now time.Time) string {
	if st.StartTime == nil {
		return ""
	}
	end := now
	if st.CompletionTime != nil {
		end = *st.CompletionTime
	}
	return HumanDuration(end.Sub(*st.StartTime))
}

var jobKind = KindInfo{
	APIVersion: APIBatchV1, Kind: KindJob, Token: "job", Plural: "jobs",
	spec:         specType[JobSpec](),
	validate:     func(errs *FieldErrors, o Object) { validateJobSpec(errs, "spec", *o.Job()) },
	defaults:     func(o *Object) { spec := o.Job().withDefaults(); o.Spec = &spec },
	Template:     func(o Object) *PodTemplateSpec { return &o.Job().Template },
	TemplatePath: "spec.template",
	HasPods:      true,
	Pods:         func(o Object) (int32, string) { return jobParallelism(o.Job()), "spec.parallelism" },
	Columns: append([]Column{
		{Header: "STATUS", Cell: func(_ Object, st WorkloadStatus, _ time.Time) string { return JobStatusWord(st) }},
		{Header: "COMPLETIONS", Cell: func(o Object, st WorkloadStatus, _ time.Time) string { return jobCompletions(o.Job(), st) }},
		{Header: "DURATION", Cell: func(_ Object, st WorkloadStatus, now time.Time) string { return jobDuration(st, now) }},
	}, templateColumns(func(o Object) *PodTemplateSpec { return &o.Job().Template },
		func(o Object) *LabelSelector { return nil })...),
	Describe: func(o Object, st WorkloadStatus) []Field {
		j := o.Job()
		fs := []Field{}
		if j.Parallelism != nil {
			eff := *j.Parallelism
			if j.Completions != nil && *j.Completions < eff {
				fs = append(fs, Field{"Parallelism", fmt.Sprintf("%d (effective %d: no more than the completions)", eff, *j.Completions)})
			} else {
				fs = append(fs, Field{"Parallelism", count(eff)})
			}
		}
		if j.Completions != nil {
			fs = append(fs, Field{"Completions", count(*j.Completions)})
		} else {
			fs = append(fs, Field{"Completions", "<unset> (done when any pod succeeds)"})
		}
		fs = append(fs, Field{"Completion Mode", j.CompletionMode})
		if j.Suspend != nil {
			fs = append(fs, Field{"Suspend", strconv.FormatBool(*j.Suspend)})
		}
		if j.BackoffLimit != nil {
			fs = append(fs, Field{"Backoff Limit", count(*j.BackoffLimit)})
		}
		if j.ActiveDeadlineSeconds != nil {
			fs = append(fs, Field{"Active Deadline Seconds", fmt.Sprintf("%ds", *j.ActiveDeadlineSeconds)})
		}
		if j.TTLSecondsAfterFinished != nil {
			fs = append(fs, Field{"TTL Seconds After Finished", count(*j.TTLSecondsAfterFinished)})
		}
		if st.StartTime != nil {
			fs = append(fs, Field{"Start Time", st.StartTime.UTC().Format(time.RFC1123Z)})
		}
		if st.CompletionTime != nil {
			fs = append(fs, Field{"Completed At", st.CompletionTime.UTC().Format(time.RFC1123Z)})
		}
		if st.CompletionTime != nil {
			fs = append(fs, Field{"Duration", jobDuration(st, *st.CompletionTime)})
		}
		fs = append(fs, Field{"Pods Statuses", fmt.Sprintf("%d Active (%d Ready) / %d Succeeded / %d Failed",
			st.Replicas, st.ReadyReplicas, st.Succeeded, st.Failed)})
		if j.CompletionMode == CompletionIndexed {
			fs = append(fs, Field{"Completed Indexes", st.CompletedIndexes})
			if st.FailedIndexes != "" {
				fs = append(fs, Field{"Failed Indexes", st.FailedIndexes})
			}
		}
		return fs
	},
	K8sStatus: func(o Object, st WorkloadStatus) any {
		type cond struct {
			Type               string `json:"type"`
			Status             string `json:"status"`
			Reason             string `json:"reason,omitempty"`
			Message            string `json:"message,omitempty"`
			LastTransitionTime string `json:"lastTransitionTime,omitempty"`
			LastProbeTime      string `json:"lastProbeTime,omitempty"`
		}
		out := struct {
			Active           int32  `json:"active,omitempty"`
			Ready            int32  `json:"ready"`
			Succeeded        int32  `json:"succeeded,omitempty"`
			Failed           int32  `json:"failed,omitempty"`
			StartTime        string `json:"startTime,omitempty"`
			CompletionTime   string `json:"completionTime,omitempty"`
			CompletedIndexes string `json:"completedIndexes,omitempty"`
			FailedIndexes    string `json:"failedIndexes,omitempty"`
			Conditions       []cond `json:"conditions,omitempty"`
		}{Active: st.Replicas, Ready: st.ReadyReplicas, Succeeded: st.Succeeded, Failed: st.Failed,
			StartTime: k8sTime(st.StartTime), CompletionTime: k8sTime(st.CompletionTime),
			CompletedIndexes: st.CompletedIndexes, FailedIndexes: st.FailedIndexes}
		for _, c := range st.Conditions {
			t := k8sTime(&c.LastTransitionTime)
			out.Conditions = append(out.Conditions, cond{c.Type, c.Status, c.Reason, c.Message, t, t})
		}
		return out
	},
}

func k8sTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// CronJob is the object's spec if it is a CronJob, or nil.
func (o Object) CronJob() *CronJobSpec { s, _ := o.Spec.(*CronJobSpec); return s }

var cronJobKind = KindInfo{
	APIVersion: APIBatchV1, Kind: KindCronJob, Token: "cronjob", Plural: "cronjobs", ShortNames: []string{"cj"},
	spec:         specType[CronJobSpec](),
	validate:     validateCronJob,
	defaults:     func(o *Object) { spec := o.CronJob().withDefaults(); o.Spec = &spec },
	Template:     func(o Object) *PodTemplateSpec { return &o.CronJob().JobTemplate.Spec.Template },
	TemplatePath: "spec.jobTemplate.spec.template",
	Pods: func(o Object) (int32, string) {
		return jobParallelism(&o.CronJob().JobTemplate.Spec), "spec.jobTemplate.spec.parallelism"
	},
	Columns: []Column{
		{Header: "SCHEDULE", Cell: func(o Object, _ WorkloadStatus, _ time.Time) string { return o.CronJob().Schedule }},
		{Header: "TIMEZONE", Cell: func(o Object, _ WorkloadStatus, _ time.Time) string {
			if tz := o.CronJob().TimeZone; tz != nil {
				return *tz
			}
			return "<none>"
		}},
		{Header: "SUSPEND", Cell: func(o Object, _ WorkloadStatus, _ time.Time) string {
			s := o.CronJob().Suspend
			return boolTitle(s != nil && *s)
		}},
		{Header: "ACTIVE", Cell: func(_ Object, st WorkloadStatus, _ time.Time) string { return strconv.Itoa(len(st.Active)) }},
		{Header: "LAST SCHEDULE", Cell: func(_ Object, st WorkloadStatus, now time.Time) string {
			if st.LastScheduleTime == nil {
				return "<none>"
			}
			return HumanDuration(now.Sub(*st.LastScheduleTime))
		}},
		{Header: "CONTAINERS", Wide: true, Cell: func(o Object, _ WorkloadStatus, _ time.Time) string {
			return ContainerNames(o.CronJob().JobTemplate.Spec.Template.Spec)
		}},
		{Header: "IMAGES", Wide: true, Cell: func(o Object, _ WorkloadStatus, _ time.Time) string {
			return ContainerImages(o.CronJob().JobTemplate.Spec.Template.Spec)
		}},
	},
	Describe: func(o Object, st WorkloadStatus) []Field {
		cj := o.CronJob()
		tz := "<none>"
		if cj.TimeZone != nil {
			tz = *cj.TimeZone
		}
		fs := []Field{
			{"Schedule", cj.Schedule},
			{"Time Zone", tz},
			{"Concurrency Policy", cj.ConcurrencyPolicy},
			{"Suspend", boolTitle(cj.Suspend != nil && *cj.Suspend)},
		}
		if cj.SuccessfulJobsHistoryLimit != nil {
			fs = append(fs, Field{"Successful Job History Limit", count(*cj.SuccessfulJobsHistoryLimit)})
		}
		if cj.FailedJobsHistoryLimit != nil {
			fs = append(fs, Field{"Failed Job History Limit", count(*cj.FailedJobsHistoryLimit)})
		}
		if cj.StartingDeadlineSeconds != nil {
			fs = append(fs, Field{"Starting Deadline Seconds", fmt.Sprintf("%ds", *cj.StartingDeadlineSeconds)})
		} else {
			fs = append(fs, Field{"Starting Deadline Seconds", "<unset>"})
		}
		last := "<unset>"
		if st.LastScheduleTime != nil {
			last = st.LastScheduleTime.UTC().Format(time.RFC1123Z)
		}
		fs = append(fs, Field{"Last Schedule Time", last}, Field{"Active Jobs", orNone(strings.Join(st.Active, ", "))})
		return fs
	},
	K8sStatus: func(o Object, st WorkloadStatus) any {
		type ref struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Name       string `json:"name"`
			Namespace  string `json:"namespace"`
		}
		out := struct {
			Active           []ref  `json:"active,omitempty"`
			LastScheduleTime string `json:"lastScheduleTime,omitempty"`
		}{LastScheduleTime: k8sTime(st.LastScheduleTime)}
		for _, n := range st.Active {
			out.Active = append(out.Active, ref{APIBatchV1, KindJob, n, o.Metadata.Namespace})
		}
		return out
	},
}

func boolTitle(b bool) string {
	if b {
		return "True"
	}
	return "False"
}
