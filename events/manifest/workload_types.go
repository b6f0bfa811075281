package manifest

// The workload kinds beyond Deployment and Pod, with Kubernetes' field names.
// Each kind's validation and defaults live in a file of its own.

// Kinds and apiVersions of the workload kinds.
const (
	KindReplicaSet    = "ReplicaSet"
	KindDaemonSet     = "DaemonSet"
	KindJob           = "Job"
	KindCronJob       = "CronJob"
	KindNamespace     = "Namespace"
	KindResourceQuota = "ResourceQuota"
	APIBatchV1        = "batch/v1"
)

// ReplicaSetSpec is apps/v1 ReplicaSetSpec: keep Replicas pods matching
// Selector, stamped from Template.
type ReplicaSetSpec struct {
	Replicas *int32          `json:"replicas,omitempty"`
	Selector *LabelSelector  `json:"selector"`
	Template PodTemplateSpec `json:"template"`
}

// DaemonSetSpec is apps/v1 DaemonSetSpec: one pod from Template on every
// node the template's scheduling terms allow.
type DaemonSetSpec struct {
	Selector       *LabelSelector           `json:"selector"`
	Template       PodTemplateSpec          `json:"template"`
	UpdateStrategy *DaemonSetUpdateStrategy `json:"updateStrategy,omitempty"`
}

// DaemonSetUpdateStrategy is apps/v1 DaemonSetUpdateStrategy: RollingUpdate
// (the default) replaces the pods of an old template node by node,
// OnDelete only when they are deleted (daemonset.go).
type DaemonSetUpdateStrategy struct {
	Type          string                  `json:"type,omitempty"`
	RollingUpdate *RollingUpdateDaemonSet `json:"rollingUpdate,omitempty"`
}

// RollingUpdateDaemonSet bounds a DaemonSet's rolling update: counts or
// percentages of the nodes that should run its pod. Exactly one is
// non-zero: maxUnavailable (default 1) old pods stopped at a time, or
// maxSurge (default 0) new pods started beside old ones at a time.
type RollingUpdateDaemonSet struct {
	MaxUnavailable *IntOrString `json:"maxUnavailable,omitempty"`
	MaxSurge       *IntOrString `json:"maxSurge,omitempty"`
}

// DaemonSet update strategies.
const (
	DaemonSetOnDelete      = "OnDelete"
	DaemonSetRollingUpdate = "RollingUpdate"
)

// JobSpec is batch/v1 JobSpec.
type JobSpec struct {
	Parallelism             *int32            `json:"parallelism,omitempty"`
	Completions             *int32            `json:"completions,omitempty"`
	ActiveDeadlineSeconds   *int64            `json:"activeDeadlineSeconds,omitempty"`
	BackoffLimit            *int32            `json:"backoffLimit,omitempty"`
	BackoffLimitPerIndex    *int32            `json:"backoffLimitPerIndex,omitempty"`
	MaxFailedIndexes        *int32            `json:"maxFailedIndexes,omitempty"`
	Template                PodTemplateSpec   `json:"template"`
	TTLSecondsAfterFinished *int32            `json:"ttlSecondsAfterFinished,omitempty"`
	CompletionMode          string            `json:"completionMode,omitempty"` // NonIndexed (default), Indexed
	Suspend                 *bool             `json:"suspend,omitempty"`
	PodFailurePolicy        *PodFailurePolicy `json:"podFailurePolicy,omitempty"`
}

// Job completion modes.
const (
	CompletionNonIndexed = "NonIndexed"
	CompletionIndexed    = "Indexed"
)

// JobCompletionIndexAnnotation carries an Indexed Job pod's index, as
// Kubernetes names it.
const JobCompletionIndexAnnotation = "batch.kubernetes.io/job-completion-index"

// DefaultBackoffLimit is Kubernetes' default backoffLimit.
const DefaultBackoffLimit = 6

// PodFailurePolicy decides what a failed pod means for its Job, rule by
// rule, the first match winning.
type PodFailurePolicy struct {
	Rules []PodFailurePolicyRule `json:"rules"`
}

// PodFailurePolicyRule matches a failed pod by its exit codes.
type PodFailurePolicyRule struct {
	Action      string                                  `json:"action"` // FailJob, FailIndex, Ignore, Count
	OnExitCodes *PodFailurePolicyOnExitCodesRequirement `json:"onExitCodes,omitempty"`
}

// Pod failure policy actions.
const (
	PodFailureFailJob   = "FailJob"
	PodFailureFailIndex = "FailIndex"
	PodFailureIgnore    = "Ignore"
	PodFailureCount     = "Count"
)

// PodFailurePolicyOnExitCodesRequirement: the exit code of a container (the
// named one, or any) is In or NotIn Values.
type PodFailurePolicyOnExitCodesRequirement struct {
	ContainerName *string `json:"containerName,omitempty"`
	Operator      string  `json:"operator"`
	Values        []int32 `json:"values"`
}

// Exit code operators.
const (
	ExitCodesIn    = "In"
	ExitCodesNotIn = "NotIn"
)

// CronJobSpec is batch/v1 CronJobSpec.
type CronJobSpec struct {
	Schedule                   string          `json:"schedule"`
	TimeZone                   *string         `json:"timeZone,omitempty"`
	StartingDeadlineSeconds    *int64          `json:"startingDeadlineSeconds,omitempty"`
	ConcurrencyPolicy          string          `json:"concurrencyPolicy,omitempty"` // Allow (default), Forbid, Replace
	Suspend                    *bool           `json:"suspend,omitempty"`
	JobTemplate                JobTemplateSpec `json:"jobTemplate"`
	SuccessfulJobsHistoryLimit *int32          `json:"successfulJobsHistoryLimit,omitempty"`
	FailedJobsHistoryLimit     *int32          `json:"failedJobsHistoryLimit,omitempty"`
}

// JobTemplateSpec is the Job a CronJob stamps out.
type JobTemplateSpec struct {
	Metadata TemplateMeta `json:"metadata,omitempty"`
	Spec     JobSpec      `json:"spec"`
}

// Concurrency policies.
const (
	ConcurrencyAllow   = "Allow"
	ConcurrencyForbid  = "Forbid"
	ConcurrencyReplace = "Replace"
)

// Kubernetes' default history limits.
const (
	DefaultSuccessfulJobsHistory = 3
	DefaultFailedJobsHistory     = 1
)

// NamespaceSpec is v1 NamespaceSpec; a Namespace manifest usually has none.
type NamespaceSpec struct{}

// ResourceQuotaSpec is v1 ResourceQuotaSpec: hard limits by resource name
// (pods, requests.cpu, limits.memory, count/jobs.batch, …).
type ResourceQuotaSpec struct {
	Hard ResourceList `json:"hard,omitempty"`
}
