package manifest

import (
	"fmt"
	"strconv"
	"time"
)

// deploymentKind is apps/v1 Deployment: replicas of a pod template, kept
// through ReplicaSets.
var deploymentKind = KindInfo{
	APIVersion: APIAppsV1, Kind: KindDeployment, Token: "deployment", Plural: "deployments",
	ShortNames: []string{"deploy"},
	spec:       specType[DeploymentSpec](),
	validate: func(errs *FieldErrors, o Object) {
		validateDeploymentSpec(errs, "spec", *o.Deployment())
		validateDeploymentRollout(errs, "spec", *o.Deployment(), o.Metadata.Annotations)
	},
	defaults: func(o *Object) {
		spec := *o.Deployment()
		if spec.Replicas == nil {
			one := int32(1)
			spec.Replicas = &one
		}
		if spec.RevisionHistoryLimit == nil {
			spec.RevisionHistoryLimit = ptr(int32(DefaultRevisionHistoryLimit))
		}
		spec.Strategy = spec.Strategy.withDefaults()
		if spec.ProgressDeadlineSeconds == nil {
			spec.ProgressDeadlineSeconds = ptr(int32(DefaultProgressDeadlineSeconds))
		}
		spec.Template.Spec = spec.Template.Spec.withDefaults()
		o.Spec = &spec
	},
	Template:     func(o Object) *PodTemplateSpec { return &o.Deployment().Template },
	TemplatePath: "spec.template",
	HasPods:      true,
	Pods:         func(o Object) (int32, string) { return o.Deployment().ReplicaCount(), "spec.replicas" },
	Columns: []Column{
		{Header: "READY", Cell: func(o Object, st WorkloadStatus, _ time.Time) string {
			return fmt.Sprintf("%d/%d", st.ReadyReplicas, o.Deployment().ReplicaCount())
		}},
		{Header: "UP-TO-DATE", Cell: func(_ Object, st WorkloadStatus, _ time.Time) string { return strconv.Itoa(int(st.UpdatedReplicas)) }},
		{Header: "AVAILABLE", Cell: func(_ Object, st WorkloadStatus, _ time.Time) string { return strconv.Itoa(int(st.AvailableReplicas)) }},
		{Header: "CONTAINERS", Wide: true, Cell: func(o Object, _ WorkloadStatus, _ time.Time) string {
			return ContainerNames(o.Deployment().Template.Spec)
		}},
		{Header: "IMAGES", Wide: true, Cell: func(o Object, _ WorkloadStatus, _ time.Time) string {
			return ContainerImages(o.Deployment().Template.Spec)
		}},
		{Header: "SELECTOR", Wide: true, Cell: func(o Object, _ WorkloadStatus, _ time.Time) string {
			return FormatSelector(o.Deployment().Selector)
		}},
	},
	Describe: func(o Object, st WorkloadStatus) []Field {
		d := o.Deployment()
		return []Field{
			{"Selector", FormatSelector(d.Selector)},
			{"Replicas", ReplicasLine(d.ReplicaCount(), st)},
			{"StrategyType", "Recreate"},
		}
	},
	K8sStatus: func(o Object, st WorkloadStatus) any {
		replicas := o.Deployment().ReplicaCount()
		return deploymentStatus{ObservedGeneration: st.ObservedGeneration, Replicas: st.Replicas,
			UpdatedReplicas: st.UpdatedReplicas, ReadyReplicas: st.ReadyReplicas, AvailableReplicas: st.AvailableReplicas,
			UnavailableReplicas: max(0, replicas-st.AvailableReplicas)}
	},
}

// Deployment is the object's spec if it is a Deployment, or nil.
func (o Object) Deployment() *DeploymentSpec { s, _ := o.Spec.(*DeploymentSpec); return s }

type deploymentStatus struct {
	ObservedGeneration  int64 `json:"observedGeneration"`
	Replicas            int32 `json:"replicas"`
	UpdatedReplicas     int32 `json:"updatedReplicas"`
	ReadyReplicas       int32 `json:"readyReplicas"`
	AvailableReplicas   int32 `json:"availableReplicas"`
	UnavailableReplicas int32 `json:"unavailableReplicas,omitempty"`
}

// ReplicasLine is describe's "3 desired | 3 updated | 3 total | 3 available | 0 unavailable".
func ReplicasLine(desired int32, st WorkloadStatus) string {
	return fmt.Sprintf("%d desired | %d updated | %d total | %d available | %d unavailable",
		desired, st.UpdatedReplicas, st.Replicas, st.AvailableReplicas, max(0, desired-st.AvailableReplicas))
}

// PodTemplateHashLabel is the label a Deployment puts on its ReplicaSets'
// template and selector, as Kubernetes does: the hash of the Deployment's
// pod template, which names the ReplicaSet and marks its pods.
const PodTemplateHashLabel = "pod-template-hash"

// ReplicaSetName is a Deployment's ReplicaSet for a template hash:
// <deployment>-<hash>, the Deployment's name cut so that the ReplicaSet's
// pods (6 characters more) have DNS-1123 labels of at most 63: a
// Deployment of 63 characters gets a ReplicaSet of 57 (46 + '-' + 10).
// The replica service names them so; the CLI finds the current one so.
func ReplicaSetName(deployment, hash string) string {
	if max := 63 - 6 - 1 - len(hash); len(deployment) > max {
		deployment = deployment[:max]
	}
	return deployment + "-" + hash
}
