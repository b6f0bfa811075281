package manifest

import (
	"fmt"
	"strconv"
	"strings"
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
	Describe:  describeDeployment,
	K8sStatus: deploymentK8sStatus,
}

// Deployment is the object's spec if it is a Deployment, or nil.
func (o Object) Deployment() *DeploymentSpec { s, _ := o.Spec.(*DeploymentSpec); return s }

// deploymentStatus is apps/v1 DeploymentStatus.
type deploymentStatus struct {
	ObservedGeneration  int64                 `json:"observedGeneration"`
	Replicas            int32                 `json:"replicas"`
	UpdatedReplicas     int32                 `json:"updatedReplicas"`
	ReadyReplicas       int32                 `json:"readyReplicas"`
	AvailableReplicas   int32                 `json:"availableReplicas"`
	UnavailableReplicas int32                 `json:"unavailableReplicas,omitempty"`
	Conditions          []deploymentCondition `json:"conditions,omitempty"`
	// Rollout is Gantry's own (Kubernetes has no such field): the stable
	// revision, a failed rollout and where it went back to, a canary's step.
	Rollout *RolloutStatus `json:"rollout,omitempty"`
}

// deploymentCondition is apps/v1 DeploymentCondition, in its field order.
type deploymentCondition struct {
	Type               string `json:"type"`
	Status             string `json:"status"`
	LastUpdateTime     string `json:"lastUpdateTime,omitempty"`
	LastTransitionTime string `json:"lastTransitionTime,omitempty"`
	Reason             string `json:"reason,omitempty"`
	Message            string `json:"message,omitempty"`
}

// deploymentK8sStatus is the Deployment's status as Kubernetes shows it,
// its conditions (Progressing, Available) included; a condition never
// confirmed since its transition was last updated then.
func deploymentK8sStatus(o Object, st WorkloadStatus) any {
	replicas := o.Deployment().ReplicaCount()
	out := deploymentStatus{ObservedGeneration: st.ObservedGeneration, Replicas: st.Replicas,
		UpdatedReplicas: st.UpdatedReplicas, ReadyReplicas: st.ReadyReplicas, AvailableReplicas: st.AvailableReplicas,
		UnavailableReplicas: max(0, replicas-st.AvailableReplicas), Rollout: st.Rollout}
	for _, c := range st.Conditions {
		updated := c.LastUpdateTime
		if updated.IsZero() {
			updated = c.LastTransitionTime
		}
		out.Conditions = append(out.Conditions, deploymentCondition{Type: c.Type, Status: c.Status,
			LastUpdateTime: k8sTime(&updated), LastTransitionTime: k8sTime(&c.LastTransitionTime),
			Reason: c.Reason, Message: c.Message})
	}
	return out
}

// describeDeployment is kubectl's lines of a Deployment (its strategy and
// bounds), a canary's steps, and what the rollout service decided of its
// rollout (stable revision, a failure and where it went back to).
func describeDeployment(o Object, st WorkloadStatus) []Field {
	d := o.Deployment()
	out := []Field{
		{"Selector", FormatSelector(d.Selector)},
		{"Replicas", ReplicasLine(d.ReplicaCount(), st)},
		{"StrategyType", d.StrategyType()},
		{"MinReadySeconds", strconv.Itoa(int(d.MinReadySeconds))},
	}
	surge, unavailable := d.Bounds()
	bounds := func() string {
		s, u := defaultBound, defaultBound
		if surge != nil {
			s = *surge
		}
		if unavailable != nil {
			u = *unavailable
		}
		return fmt.Sprintf("%s max unavailable, %s max surge", u, s)
	}
	switch d.StrategyType() {
	case RollingUpdateStrategy:
		out = append(out, Field{"RollingUpdateStrategy", bounds()})
	case CanaryStrategy:
		out = append(out, Field{"CanaryStrategy", bounds()})
		if d.Strategy.Canary != nil {
			out = append(out, Field{"CanarySteps", CanaryStepsLine(d.Strategy.Canary.Steps)})
		}
	}
	if d.Paused {
		out = append(out, Field{"Paused", "true"})
	}
	return append(out, rolloutFields(d, st)...)
}

// CanaryStepsLine is describe's one-line list of canary steps:
// "0: setWeight 10, 1: pause, 2: analysis \"pods.restarts == 0\"".
func CanaryStepsLine(steps []CanaryStep) string {
	parts := make([]string, len(steps))
	for i, st := range steps {
		parts[i] = fmt.Sprintf("%d: %s", i, st)
	}
	return strings.Join(parts, ", ")
}

// String is a step as describe and rollout status name it: "setWeight 10",
// "pause 60s", "pause (until promoted)", "analysis \"…\"".
func (s CanaryStep) String() string {
	switch {
	case s.SetWeight != nil:
		return fmt.Sprintf("setWeight %d", *s.SetWeight)
	case s.Pause != nil && s.Pause.Duration != "":
		return "pause " + s.Pause.Duration
	case s.Pause != nil:
		return "pause (until promoted)"
	case s.Analysis != nil:
		return fmt.Sprintf("analysis %q", s.Analysis.CEL)
	}
	return "(empty)"
}

// rolloutFields are the rollout service's decisions, once it made some:
// the stable revision, the canary's step, a failure of the current
// generation and the revision it went back to.
func rolloutFields(d *DeploymentSpec, st WorkloadStatus) []Field {
	r := st.Rollout
	if r == nil {
		return nil
	}
	var out []Field
	if r.StableRevision > 0 {
		out = append(out, Field{"StableRevision", strconv.FormatInt(r.StableRevision, 10)})
	}
	if c := d.Strategy; c != nil && c.Canary != nil && r.CanaryHash != "" {
		step := fmt.Sprintf("%d of %d", r.CanaryStep, len(c.Canary.Steps))
		if int(r.CanaryStep) < len(c.Canary.Steps) {
			step += ": " + c.Canary.Steps[r.CanaryStep].String()
		} else {
			step += ": all done"
		}
		if r.StepStartedAt != nil {
			step += ", since " + r.StepStartedAt.UTC().Format(time.RFC3339)
		}
		out = append(out, Field{"CanaryStep", step})
	}
	if r.Failed(st.ObservedGeneration) {
		failed := fmt.Sprintf("%d (%s", r.FailedRevision, r.Reason)
		if r.Message != "" {
			failed += ": " + r.Message
		}
		out = append(out, Field{"FailedRevision", failed + ")"})
		back := "none: halted where it failed (automatic rollback off)"
		if r.RolledBackTo > 0 {
			back = "revision " + strconv.FormatInt(r.RolledBackTo, 10)
		}
		out = append(out, Field{"RolledBackTo", back})
	}
	return out
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
