package manifest

// Scheduling fields of a pod, with Kubernetes' names and meanings.

// Affinity holds a pod's node affinity and pod anti-affinity.
type Affinity struct {
	NodeAffinity    *NodeAffinity    `json:"nodeAffinity,omitempty"`
	PodAntiAffinity *PodAntiAffinity `json:"podAntiAffinity,omitempty"`
}

// NodeAffinity constrains (required) or prefers (preferred) nodes by label.
type NodeAffinity struct {
	RequiredDuringSchedulingIgnoredDuringExecution  *NodeSelector             `json:"requiredDuringSchedulingIgnoredDuringExecution,omitempty"`
	PreferredDuringSchedulingIgnoredDuringExecution []PreferredSchedulingTerm `json:"preferredDuringSchedulingIgnoredDuringExecution,omitempty"`
}

// NodeSelector is a union of terms: a node matches if any term matches.
type NodeSelector struct {
	NodeSelectorTerms []NodeSelectorTerm `json:"nodeSelectorTerms"`
}

// NodeSelectorTerm is an intersection of requirements.
type NodeSelectorTerm struct {
	MatchExpressions []NodeSelectorRequirement `json:"matchExpressions,omitempty"`
}

// NodeSelectorRequirement: Operator is In, NotIn, Exists, DoesNotExist, Gt or Lt.
type NodeSelectorRequirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values,omitempty"`
}

// PreferredSchedulingTerm weighs (1-100) a term in scoring.
type PreferredSchedulingTerm struct {
	Weight     int32            `json:"weight"`
	Preference NodeSelectorTerm `json:"preference"`
}

// PodAntiAffinity keeps a pod away from pods matching a selector within a
// topology domain. Gantry supports the topology key kubernetes.io/hostname.
type PodAntiAffinity struct {
	RequiredDuringSchedulingIgnoredDuringExecution  []PodAffinityTerm         `json:"requiredDuringSchedulingIgnoredDuringExecution,omitempty"`
	PreferredDuringSchedulingIgnoredDuringExecution []WeightedPodAffinityTerm `json:"preferredDuringSchedulingIgnoredDuringExecution,omitempty"`
}

// PodAffinityTerm selects pods (in the pod's namespace) within a topology.
type PodAffinityTerm struct {
	LabelSelector *LabelSelector `json:"labelSelector,omitempty"`
	TopologyKey   string         `json:"topologyKey"`
}

// WeightedPodAffinityTerm weighs (1-100) a term in scoring.
type WeightedPodAffinityTerm struct {
	Weight          int32           `json:"weight"`
	PodAffinityTerm PodAffinityTerm `json:"podAffinityTerm"`
}

// Toleration lets a pod land on a node with a matching taint. Operator is
// Equal (default) or Exists; an empty Effect matches every effect.
type Toleration struct {
	Key               string `json:"key,omitempty"`
	Operator          string `json:"operator,omitempty"`
	Value             string `json:"value,omitempty"`
	Effect            string `json:"effect,omitempty"`
	TolerationSeconds *int64 `json:"tolerationSeconds,omitempty"`
}

// The taints the control plane puts on a node, as Kubernetes names them:
// unreachable while its agent is silent (the health service's NotReady),
// unschedulable while it is cordoned.
const (
	TaintNodeUnreachable   = "node.kubernetes.io/unreachable"
	TaintNodeNotReady      = "node.kubernetes.io/not-ready"
	TaintNodeUnschedulable = "node.kubernetes.io/unschedulable"
)

// Taint effects.
const (
	TaintNoSchedule       = "NoSchedule"
	TaintPreferNoSchedule = "PreferNoSchedule"
	TaintNoExecute        = "NoExecute"
)

// Taint repels pods that do not tolerate it; nodes declare taints.
type Taint struct {
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Effect string `json:"effect"`
}

// TopologySpreadConstraint bounds how unevenly matching pods spread over the
// domains of TopologyKey. WhenUnsatisfiable is DoNotSchedule (default) or
// ScheduleAnyway.
type TopologySpreadConstraint struct {
	MaxSkew           int32          `json:"maxSkew"`
	TopologyKey       string         `json:"topologyKey"`
	WhenUnsatisfiable string         `json:"whenUnsatisfiable,omitempty"`
	LabelSelector     *LabelSelector `json:"labelSelector,omitempty"`
}

// LabelSelectorRequirement: Operator is In, NotIn, Exists or DoesNotExist.
type LabelSelectorRequirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values,omitempty"`
}

// AnnotationPlacement holds a CEL placement rule over the node, Gantry's
// addition: node.labels['zone'] in ['a','b'] && node.allocatable.memory >= quantity('8Gi').
const AnnotationPlacement = "gantry.dev/placement"

// HostnameTopologyKey is the label every node carries with its name.
const HostnameTopologyKey = "kubernetes.io/hostname"
