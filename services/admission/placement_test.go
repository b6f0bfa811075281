package admission_test

import (
	"strings"
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
	"github.com/gantry-sh/gantry/services/admission"
)

// TestPlacementRules: a pod's placement rule is compiled at admission; one
// that does not compile or could cost too much is refused with CEL's reason.
func TestPlacementRules(t *testing.T) {
	const tmplPath = "spec.template.metadata.annotations[gantry.dev/placement]: "
	const podPath = "metadata.annotations[gantry.dev/placement]: "
	withRule := func(o manifest.Object, rule string) manifest.Object {
		a := map[string]string{manifest.AnnotationPlacement: rule}
		if o.Deployment() != nil {
			o.Deployment().Template.Metadata.Annotations = a
		} else {
			o.Metadata.Annotations = a
		}
		return o
	}
	dep := func(rule string) manifest.Object { return withRule(pt.Deployment(ns, "x", 1, "nginx:1"), rule) }
	pod := func(rule string) manifest.Object { return withRule(pt.BarePod(ns, "p", "nginx:1"), rule) }
	cases := []struct {
		name string
		obj  manifest.Object
		want string // "" accepts; else the one reason, or its prefix
	}{
		{"a good rule on a deployment's pods", dep("'zone' in node.labels && node.labels['zone'] in ['a', 'b'] && node.allocatable.memory >= quantity('8Gi')"), ""},
		{"a good rule on a pod", pod("node.allocatable.cpu >= 2000 && !node.taints.exists(t, t.effect == 'NoExecute')"), ""},
		{"no rule", pt.Deployment(ns, "x", 1, "nginx:1"), ""},
		{"syntax error, with its position", dep("node.labels['zone'] =="), tmplPath + "1:23: Syntax error: "},
		{"syntax error on a pod", pod("node.name == 'a' &&\n(node.name"), podPath + "2:11: Syntax error: "},
		{"not a bool", dep("node.allocatable.cpu - 100"), tmplPath + "placement rule must return a bool, not int"},
		{"unknown field", pod("node.zone == 'a'"), podPath + "1:5: undefined field 'zone'"},
		{"bad quantity", dep("node.allocatable.cpu >= quantity('500m')"), tmplPath + `1:34: quantity("500m") is not a whole number of units`},
		{"too expensive", dep("node.labels.all(a, node.labels.all(b, a == b || node.labels[a] != node.labels[b]))"),
			tmplPath + "placement rule too expensive: estimated cost "},
		{"empty", pod(""), podPath + "placement rule is empty"},
		{"too long", dep(strings.Repeat("true && ", 600) + "true"), tmplPath + "placement rule is 4804 bytes, more than 4096"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.apply(w.l.IntentApplyObject(tc.obj))
			ds := w.decide()
			if len(ds) != 1 {
				t.Fatalf("decisions:\n%s", show(ds))
			}
			if tc.want == "" {
				acceptedOf(t, ds[0])
				return
			}
			r := rejectedOf(t, ds[0])
			if len(r.Reasons) != 1 || !strings.HasPrefix(r.Reasons[0], tc.want) {
				t.Errorf("reasons = %q, want one starting %q", r.Reasons, tc.want)
			}
		})
	}
}

// TestSchedulingFieldsAreValidated: bad scheduling fields are refused, one
// reason per field, by the manifest's validation.
func TestSchedulingFieldsAreValidated(t *testing.T) {
	intent := &events.IntentApplied{Kind: "deployment", Namespace: ns, Name: "x", Object: raw(`{
		"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},
		"spec":{"selector":{"matchLabels":{"app":"x"}},"template":{"metadata":{"labels":{"app":"x"}},
		"spec":{
			"containers":[{"name":"app","image":"nginx","ports":[{"containerPort":80,"hostPort":8080},{"containerPort":81,"hostPort":8080}],
				"resources":{"requests":{"example.com/gpu":"1"},"limits":{"example.com/gpu":"2","ephemeral-storage":"1Gi"}}}],
			"nodeSelector":{"disk":"ssd"},
			"affinity":{
				"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[
					{"matchExpressions":[{"key":"zone","operator":"In","values":["a"]},{"key":"gen","operator":"Gt","values":["new"]}]}]}},
				"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[
					{"labelSelector":{"matchLabels":{"app":"x"}},"topologyKey":"topology.kubernetes.io/zone"}]}},
			"tolerations":[{"key":"gpu","operator":"Exists","value":"yes"}],
			"topologySpreadConstraints":[{"maxSkew":0,"topologyKey":"zone"}],
			"priorityClassName":"urgent"
		}}}}`)}
	_, reasons := admission.Check(intent)
	want := []string{
		"spec.template.spec.containers[0].resources.limits.ephemeral-storage: unsupported resource \"ephemeral-storage\": must be cpu, memory, or an extended resource with a domain prefix such as example.com/gpu",
		"spec.template.spec.containers[0].resources.requests.example.com/gpu: must equal the example.com/gpu limit (1 != 2): an extended resource cannot be overcommitted",
		"spec.template.spec.containers[0].ports[1].hostPort: duplicate host port 8080/TCP (also spec.template.spec.containers[0].ports[0])",
		"spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[1].values[0]: must be an integer when operator is Gt, got \"new\"",
		"spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: only kubernetes.io/hostname is supported yet",
		"spec.template.spec.tolerations[0].value: must be empty when operator is Exists, got \"yes\"",
		"spec.template.spec.topologySpreadConstraints[0].maxSkew: must be >= 1, got 0",
		"spec.template.spec.priorityClassName: \"urgent\" not found (classes: default, high, low, system-cluster-critical, system-node-critical)",
	}
	if strings.Join(reasons, "\n") != strings.Join(want, "\n") {
		t.Errorf("reasons:\n  %s\nwant:\n  %s", strings.Join(reasons, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestSchedulingFieldsAreDefaulted: an accepted object stores
// whenUnsatisfiable DoNotSchedule, as Defaults fills it.
func TestSchedulingFieldsAreDefaulted(t *testing.T) {
	o := pt.Deployment(ns, "x", 1, "nginx:1")
	o.Deployment().Template.Spec.TopologySpreadConstraints = []manifest.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: manifest.HostnameTopologyKey}}
	obj, reasons := admission.Check(&events.IntentApplied{Kind: "deployment", Namespace: ns, Name: "x", Object: pt.Canonical(o)})
	if len(reasons) != 0 {
		t.Fatal(reasons)
	}
	if got := obj.Deployment().Template.Spec.TopologySpreadConstraints[0].WhenUnsatisfiable; got != manifest.DoNotSchedule {
		t.Errorf("whenUnsatisfiable = %q", got)
	}
}
