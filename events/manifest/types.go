// Package manifest holds the Kubernetes-shaped objects Gantry accepts, their
// strict decoding from YAML and their validation.
package manifest

// Kinds Gantry accepts, with the apiVersion each must carry.
const (
	KindDeployment = "Deployment"
	KindPod        = "Pod"
	APIAppsV1      = "apps/v1"
	APICoreV1      = "v1"
)

// DefaultNamespace is used when metadata.namespace is empty.
const DefaultNamespace = "default"

// Object is one decoded manifest document. Spec is a pointer to the spec
// type its kind registers (*DeploymentSpec, *JobSpec, …; see KindInfo);
// each kind's file has a typed accessor (o.Deployment(), o.Job()).
type Object struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   ObjectMeta `json:"metadata"`
	Spec       any        `json:"-"`
}

// ObjectMeta is the subset of Kubernetes' metadata Gantry supports.
type ObjectMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// DeploymentSpec is apps/v1 DeploymentSpec, as far as Gantry supports it.
type DeploymentSpec struct {
	Replicas *int32          `json:"replicas,omitempty"`
	Selector *LabelSelector  `json:"selector"`
	Template PodTemplateSpec `json:"template"`
	// RevisionHistoryLimit is how many old ReplicaSets (revisions) with no
	// pods are kept for history; 10 when unset, as in Kubernetes.
	RevisionHistoryLimit *int32 `json:"revisionHistoryLimit,omitempty"`
	// Strategy is how a new template rolls out (rollout.go); RollingUpdate
	// at 25 %/25 % when unset.
	Strategy *DeploymentStrategy `json:"strategy,omitempty"`
	// MinReadySeconds is how long a new pod must be ready before it counts
	// as available.
	MinReadySeconds int32 `json:"minReadySeconds,omitempty"`
	// ProgressDeadlineSeconds is how long a rollout may go without progress
	// before it fails (600 when unset).
	ProgressDeadlineSeconds *int32 `json:"progressDeadlineSeconds,omitempty"`
	// Paused holds a rollout where it is; scaling still happens.
	Paused bool `json:"paused,omitempty"`
}

// LabelSelector selects by labels: every matchLabels pair and every
// matchExpressions requirement must hold.
type LabelSelector struct {
	MatchLabels      map[string]string          `json:"matchLabels,omitempty"`
	MatchExpressions []LabelSelectorRequirement `json:"matchExpressions,omitempty"`
}

// PodTemplateSpec is the pod a Deployment stamps out.
type PodTemplateSpec struct {
	Metadata TemplateMeta `json:"metadata,omitempty"`
	Spec     PodSpec      `json:"spec"`
}

// TemplateMeta is the metadata allowed in a pod template.
type TemplateMeta struct {
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// PodSpec is v1 PodSpec, as far as Gantry supports it.
type PodSpec struct {
	Containers []Container `json:"containers"`
	// InitContainers run one after another, each to completion, before
	// the containers start (listed after them so the supported-fields
	// table describes a container under containers[]).
	InitContainers []Container `json:"initContainers,omitempty"`
	RestartPolicy  string      `json:"restartPolicy,omitempty"` // Always (default), OnFailure, Never
	Volumes        []Volume    `json:"volumes,omitempty"`

	NodeSelector              map[string]string          `json:"nodeSelector,omitempty"`
	Affinity                  *Affinity                  `json:"affinity,omitempty"`
	Tolerations               []Toleration               `json:"tolerations,omitempty"`
	TopologySpreadConstraints []TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`
	PriorityClassName         string                     `json:"priorityClassName,omitempty"`
	Priority                  *int32                     `json:"priority,omitempty"`
	// Hostname is the pod's host name (default: its name); an Indexed
	// Job's pods get <job>-<index>, as in Kubernetes.
	Hostname string `json:"hostname,omitempty"`
	// Subdomain, with a headless Service of that name, gives the pod the DNS
	// name <hostname>.<subdomain>.<namespace>.svc.<domain>.
	Subdomain string `json:"subdomain,omitempty"`
	// TerminationGracePeriodSeconds is how long the pod's containers have
	// between SIGTERM (after preStop) and SIGKILL (default 30).
	TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds,omitempty"`
}

// Container is v1 Container, as far as Gantry supports it.
type Container struct {
	Name         string               `json:"name"`
	Image        string               `json:"image"`
	Command      []string             `json:"command,omitempty"`
	Args         []string             `json:"args,omitempty"`
	Env          []EnvVar             `json:"env,omitempty"`
	EnvFrom      []EnvFromSource      `json:"envFrom,omitempty"`
	VolumeMounts []VolumeMount        `json:"volumeMounts,omitempty"`
	Ports        []ContainerPort      `json:"ports,omitempty"`
	Resources    ResourceRequirements `json:"resources,omitempty"`

	LivenessProbe  *Probe     `json:"livenessProbe,omitempty"`
	ReadinessProbe *Probe     `json:"readinessProbe,omitempty"`
	StartupProbe   *Probe     `json:"startupProbe,omitempty"`
	Lifecycle      *Lifecycle `json:"lifecycle,omitempty"`
}

// EnvVar is a literal value or one from a ConfigMap, a Secret, the pod's
// fields or a container's resources.
type EnvVar struct {
	Name      string        `json:"name"`
	Value     string        `json:"value,omitempty"`
	ValueFrom *EnvVarSource `json:"valueFrom,omitempty"`
}

// ContainerPort documents a port the container listens on.
type ContainerPort struct {
	Name          string `json:"name,omitempty"`
	ContainerPort int32  `json:"containerPort"`
	HostPort      int32  `json:"hostPort,omitempty"`
	Protocol      string `json:"protocol,omitempty"` // TCP (default), UDP, SCTP
}

// ResourceRequirements holds requests and limits keyed by resource name
// (cpu, memory), each a Kubernetes quantity.
type ResourceRequirements struct {
	Requests ResourceList `json:"requests,omitempty"`
	Limits   ResourceList `json:"limits,omitempty"`
}

// ResourceList maps a resource name to a quantity.
type ResourceList map[string]Quantity

// Restart policies.
const (
	RestartAlways    = "Always"
	RestartOnFailure = "OnFailure"
	RestartNever     = "Never"
)
