package manifest

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// podSpec is the pod spec of either kind of object.
func podSpec(o *Object) *PodSpec {
	if o.Deployment() != nil {
		return &o.Deployment().Template.Spec
	}
	return o.Pod()
}

func TestValidate(t *testing.T) {
	sha := "sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		name   string
		base   string // "deployment" or "pod"
		mutate func(o *Object)
		want   []string
	}{
		{"good deployment", "deployment", func(o *Object) {}, nil},
		{"good pod", "pod", func(o *Object) {}, nil},

		// names
		{"name required", "pod", func(o *Object) { o.Metadata.Name = "" }, []string{"metadata.name: required"}},
		{"name with dots", "pod", func(o *Object) { o.Metadata.Name = "web.v1" },
			[]string{`metadata.name: invalid value "web.v1": must not contain dots (a name is a NATS subject token)`}},
		{"name upper case", "pod", func(o *Object) { o.Metadata.Name = "Web" },
			[]string{`metadata.name: invalid value "Web": must consist of lower-case letters, digits and '-', and start and end with a letter or digit (e.g. "web-1")`}},
		{"name leading hyphen", "pod", func(o *Object) { o.Metadata.Name = "-web" },
			[]string{`metadata.name: invalid value "-web": must consist of lower-case letters, digits and '-', and start and end with a letter or digit (e.g. "web-1")`}},
		{"name trailing hyphen", "pod", func(o *Object) { o.Metadata.Name = "web-" },
			[]string{`metadata.name: invalid value "web-": must consist of lower-case letters, digits and '-', and start and end with a letter or digit (e.g. "web-1")`}},
		{"name of 63 characters", "pod", func(o *Object) { o.Metadata.Name = strings.Repeat("a", 63) }, nil},
		{"name of 64 characters", "pod", func(o *Object) { o.Metadata.Name = strings.Repeat("a", 64) },
			[]string{`metadata.name: invalid value "` + strings.Repeat("a", 64) + `": must be no more than 63 characters`}},
		{"digits only", "pod", func(o *Object) { o.Metadata.Name = "123" }, nil},
		{"namespace with dots", "pod", func(o *Object) { o.Metadata.Namespace = "a.b" },
			[]string{`metadata.namespace: invalid value "a.b": must not contain dots (a name is a NATS subject token)`}},
		{"namespace underscore", "pod", func(o *Object) { o.Metadata.Namespace = "a_b" },
			[]string{`metadata.namespace: invalid value "a_b": must consist of lower-case letters, digits and '-', and start and end with a letter or digit (e.g. "web-1")`}},

		// labels and annotations
		{"good labels", "pod", func(o *Object) {
			o.Metadata.Labels = map[string]string{"a": "", "app.kubernetes.io/name": "Web_1.x", "A-b_c.d": "v", "x/" + strings.Repeat("n", 63): strings.Repeat("v", 63)}
		}, nil},
		{"bad label keys", "pod", func(o *Object) {
			o.Metadata.Labels = map[string]string{
				"Example.com/a": "v", "a/b/c": "v", "/a": "v", "a/": "v", "-a": "v", strings.Repeat("k", 64): "v",
				strings.Repeat("p", 254) + "/a": "v",
			}
		}, []string{
			`metadata.labels: invalid key "-a": name part must consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit (e.g. "app.kubernetes.io/name")`,
			`metadata.labels: invalid key "/a": prefix before '/' must not be empty`,
			`metadata.labels: invalid key "Example.com/a": prefix must be a DNS subdomain: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit (e.g. "example.com")`,
			`metadata.labels: invalid key "a/": name part must not be empty`,
			`metadata.labels: invalid key "a/b/c": name part must consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit (e.g. "app.kubernetes.io/name")`,
			`metadata.labels: invalid key "` + strings.Repeat("k", 64) + `": name part must be no more than 63 characters`,
			`metadata.labels: invalid key "` + strings.Repeat("p", 254) + `/a": prefix must be no more than 253 characters`,
		}},
		{"bad label values", "pod", func(o *Object) {
			o.Metadata.Labels = map[string]string{"a": "has space", "b": "-x", "c": strings.Repeat("v", 64)}
		}, []string{
			`metadata.labels.a: invalid value "has space": must be empty or consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit`,
			`metadata.labels.b: invalid value "-x": must be empty or consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit`,
			`metadata.labels.c: invalid value "` + strings.Repeat("v", 64) + `": must be no more than 63 characters`,
		}},
		{"annotations", "pod", func(o *Object) {
			o.Metadata.Annotations = map[string]string{"ok/key": "any value at all: {}", "bad key": ""}
		}, []string{`metadata.annotations: invalid key "bad key": name part must consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit (e.g. "app.kubernetes.io/name")`}},
		{"annotations too large", "pod", func(o *Object) {
			o.Metadata.Annotations = map[string]string{"a": strings.Repeat("x", 256<<10)}
		}, []string{"metadata.annotations: must be no more than 262144 bytes in total, got 262145"}},

		// deployments
		{"zero replicas", "deployment", func(o *Object) { o.Deployment().Replicas = int32p(0) }, nil},
		{"negative replicas", "deployment", func(o *Object) { o.Deployment().Replicas = int32p(-1) }, []string{"spec.replicas: must be >= 0"}},
		{"negative revisionHistoryLimit", "deployment", func(o *Object) { o.Deployment().RevisionHistoryLimit = int32p(-1) },
			[]string{"spec.revisionHistoryLimit: must be >= 0, got -1"}},
		{"no selector", "deployment", func(o *Object) { o.Deployment().Selector = nil }, []string{"spec.selector: required"}},
		{"empty selector", "deployment", func(o *Object) { o.Deployment().Selector.MatchLabels = nil },
			[]string{"spec.selector.matchLabels: required: a Deployment must select its pods by at least one label"}},
		{"selector does not match", "deployment", func(o *Object) { o.Deployment().Selector.MatchLabels["app"] = "api" },
			[]string{"spec.selector: does not match template labels"}},
		{"selector key missing from template", "deployment", func(o *Object) { o.Deployment().Selector.MatchLabels["track"] = "stable" },
			[]string{"spec.selector: does not match template labels"}},
		{"bad selector label", "deployment", func(o *Object) { o.Deployment().Selector.MatchLabels["bad key"] = "x" },
			[]string{
				`spec.selector.matchLabels: invalid key "bad key": name part must consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit (e.g. "app.kubernetes.io/name")`,
				"spec.selector: does not match template labels",
			}},
		{"template labels checked", "deployment", func(o *Object) { o.Deployment().Template.Metadata.Labels["tier"] = "front end" },
			[]string{`spec.template.metadata.labels.tier: invalid value "front end": must be empty or consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit`}},
		{"template annotations checked", "deployment", func(o *Object) { o.Deployment().Template.Metadata.Annotations = map[string]string{"a//b": ""} },
			[]string{`spec.template.metadata.annotations: invalid key "a//b": name part must consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit (e.g. "app.kubernetes.io/name")`}},
		{"deployment restart policy", "deployment", func(o *Object) { o.Deployment().Template.Spec.RestartPolicy = RestartNever },
			[]string{`spec.template.spec.restartPolicy: unsupported value "Never": a Deployment's pods must restart Always`}},
		{"deployment restart policy empty", "deployment", func(o *Object) { o.Deployment().Template.Spec.RestartPolicy = "" }, nil},
		{"template spec checked as a pod spec", "deployment", func(o *Object) { o.Deployment().Template.Spec.Containers = nil },
			[]string{"spec.template.spec.containers: required: at least one container"}},

		// pods and containers
		{"no containers", "pod", func(o *Object) { o.Pod().Containers = nil }, []string{"spec.containers: required: at least one container"}},
		{"restart policies", "pod", func(o *Object) { o.Pod().RestartPolicy = RestartNever }, nil},
		{"bad restart policy", "pod", func(o *Object) { o.Pod().RestartPolicy = "always" },
			[]string{`spec.restartPolicy: unsupported value "always": must be one of Always, OnFailure, Never`}},
		{"bad restart policy in a deployment", "deployment", func(o *Object) { o.Deployment().Template.Spec.RestartPolicy = "Sometimes" },
			[]string{`spec.template.spec.restartPolicy: unsupported value "Sometimes": must be one of Always, OnFailure, Never`}},
		{"container names", "deployment", func(o *Object) {
			c := podSpec(o).Containers
			c[0].Name = ""
			c[1].Name = "Side_car"
			podSpec(o).Containers = append(c, Container{Name: "Side_car", Image: "x"}, Container{Name: "a.b", Image: "x"})
		}, []string{
			"spec.template.spec.containers[0].name: required",
			`spec.template.spec.containers[1].name: invalid value "Side_car": must consist of lower-case letters, digits and '-', and start and end with a letter or digit (e.g. "web-1")`,
			`spec.template.spec.containers[2].name: invalid value "Side_car": must consist of lower-case letters, digits and '-', and start and end with a letter or digit (e.g. "web-1")`,
			`spec.template.spec.containers[2].name: duplicate name "Side_car" (also spec.template.spec.containers[1])`,
			`spec.template.spec.containers[3].name: invalid value "a.b": must consist of lower-case letters, digits and '-', and start and end with a letter or digit (e.g. "web-1")`,
		}},
		{"duplicate container names", "deployment", func(o *Object) { podSpec(o).Containers[1].Name = "web" },
			[]string{`spec.template.spec.containers[1].name: duplicate name "web" (also spec.template.spec.containers[0])`}},
		{"good images", "pod", func(o *Object) {
			for _, img := range []string{"nginx", "nginx:1.27", "library/nginx:latest", "docker.io/library/nginx", "localhost/x", "localhost:5000/a/b",
				"REGISTRY.example.com/a", "[::1]:5000/a:b", "a/b@" + sha, "a:b@" + sha, "ghcr.io/a-b/c__d/e.f:v1.2_3-rc", "127.0.0.1:5000/x"} {
				o.Pod().Containers = append(o.Pod().Containers, Container{Name: "c" + strings.Repeat("x", len(o.Pod().Containers)), Image: img})
			}
		}, nil},
		{"bad images", "pod", func(o *Object) {
			for _, img := range []string{"", "nginx latest", "Nginx", "docker.io/Library/nginx", "nginx:", "nginx:-x", "a@sha256:12", "a//b", "a_-b", "ex ample.com/a", "a:b:c", "bad_host:5000x/a"} {
				o.Pod().Containers = append(o.Pod().Containers, Container{Name: "c" + strings.Repeat("x", len(o.Pod().Containers)), Image: img})
			}
		}, []string{
			"spec.containers[1].image: required",
			`spec.containers[2].image: invalid reference "nginx latest": must not contain spaces or control characters`,
			`spec.containers[3].image: invalid reference "Nginx": repository must be lower-case`,
			`spec.containers[4].image: invalid reference "docker.io/Library/nginx": repository must be lower-case`,
			`spec.containers[5].image: invalid reference "nginx:": tag "" must be up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'`,
			`spec.containers[6].image: invalid reference "nginx:-x": tag "-x" must be up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'`,
			`spec.containers[7].image: invalid reference "a@sha256:12": digest "sha256:12" must look like sha256:<64 hex digits>`,
			`spec.containers[8].image: invalid reference "a//b": repository component "" must be lower-case letters and digits, separated by '.', '_', '__' or '-'`,
			`spec.containers[9].image: invalid reference "a_-b": repository component "a_-b" must be lower-case letters and digits, separated by '.', '_', '__' or '-'`,
			`spec.containers[10].image: invalid reference "ex ample.com/a": must not contain spaces or control characters`,
			`spec.containers[11].image: invalid reference "a:b:c": repository component "a:b" must be lower-case letters and digits, separated by '.', '_', '__' or '-'`,
			`spec.containers[12].image: invalid reference "bad_host:5000x/a": bad registry "bad_host:5000x"`,
		}},
		{"env names", "pod", func(o *Object) {
			o.Pod().Containers[0].Env = []EnvVar{{Name: "_A.b-c"}, {Name: "PATH", Value: "x"}, {Name: ""}, {Name: "1A"}, {Name: "A B"}, {Name: "a=b"}}
		}, []string{
			"spec.containers[0].env[2].name: required",
			`spec.containers[0].env[3].name: invalid value "1A": must consist of letters, digits, '_', '-' or '.', and must not start with a digit`,
			`spec.containers[0].env[4].name: invalid value "A B": must consist of letters, digits, '_', '-' or '.', and must not start with a digit`,
			`spec.containers[0].env[5].name: invalid value "a=b": must consist of letters, digits, '_', '-' or '.', and must not start with a digit`,
		}},
		{"ports", "pod", func(o *Object) {
			o.Pod().Containers[0].Ports = []ContainerPort{
				{ContainerPort: 0}, {ContainerPort: 65536}, {ContainerPort: 65535}, {ContainerPort: 1, Protocol: "tcp"},
				{ContainerPort: 65535, Protocol: "TCP"}, {ContainerPort: 54, Protocol: "SCTP"},
			}
			o.Pod().Containers = append(o.Pod().Containers, Container{Name: "b", Image: "b", Ports: []ContainerPort{{ContainerPort: 54, Protocol: "SCTP"}, {ContainerPort: 53, Protocol: "UDP"}}})
		}, []string{
			"spec.containers[0].ports[0].containerPort: must be between 1 and 65535, got 0",
			"spec.containers[0].ports[1].containerPort: must be between 1 and 65535, got 65536",
			`spec.containers[0].ports[3].protocol: unsupported value "tcp": must be one of TCP, UDP, SCTP`,
			"spec.containers[0].ports[4].containerPort: duplicate port 65535/TCP (also spec.containers[0].ports[2])",
			"spec.containers[1].ports[0].containerPort: duplicate port 54/SCTP (also spec.containers[0].ports[5])",
		}},
		{"port names", "pod", func(o *Object) {
			o.Pod().Containers[0].Ports = []ContainerPort{
				{Name: "http", ContainerPort: 80}, {Name: "http", ContainerPort: 81}, {Name: "a--b", ContainerPort: 82},
				{Name: "123", ContainerPort: 83}, {Name: "HTTP", ContainerPort: 84}, {Name: "very-long-port-name", ContainerPort: 85},
			}
		}, []string{
			`spec.containers[0].ports[1].name: duplicate name "http" (also spec.containers[0].ports[0])`,
			`spec.containers[0].ports[2].name: invalid value "a--b": must not contain consecutive hyphens`,
			`spec.containers[0].ports[3].name: invalid value "123": must contain at least one letter`,
			`spec.containers[0].ports[4].name: invalid value "HTTP": must consist of lower-case letters, digits and '-', and start and end with a letter or digit`,
			`spec.containers[0].ports[5].name: invalid value "very-long-port-name": must be no more than 15 characters`,
		}},
		{"extended resources", "deployment", func(o *Object) {
			r := &podSpec(o).Containers[0].Resources
			r.Requests["example.com/gpu"] = MustQuantity("1")
			r.Limits["example.com/gpu"] = MustQuantity("1")
			r.Limits["vendor.example/fpga"] = MustQuantity("2")
			podSpec(o).Containers[1].Resources.Limits["example.com/gpu"] = MustQuantity("4")
		}, nil},
		{"unknown resource names", "deployment", func(o *Object) {
			r := &podSpec(o).Containers[0].Resources
			r.Limits["ephemeral-storage"] = MustQuantity("1Gi")
			r.Requests["gpu"] = MustQuantity("1")
			r.Limits["kubernetes.io/gpu"] = MustQuantity("1")
			r.Limits["x.kubernetes.io/gpu"] = MustQuantity("1")
			r.Limits["Example.com/gpu"] = MustQuantity("1")
			r.Limits["example.com/"] = MustQuantity("1")
			r.Limits["requests.example.com/gpu"] = MustQuantity("1")
		}, []string{
			`spec.template.spec.containers[0].resources.requests.gpu: unsupported resource "gpu": must be cpu, memory, or an extended resource with a domain prefix such as example.com/gpu`,
			`spec.template.spec.containers[0].resources.limits.Example.com/gpu: invalid resource name "Example.com/gpu": prefix must be a DNS subdomain: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit (e.g. "example.com")`,
			`spec.template.spec.containers[0].resources.limits.ephemeral-storage: unsupported resource "ephemeral-storage": must be cpu, memory, or an extended resource with a domain prefix such as example.com/gpu`,
			`spec.template.spec.containers[0].resources.limits.example.com/: invalid resource name "example.com/": name part must not be empty`,
			`spec.template.spec.containers[0].resources.limits.kubernetes.io/gpu: unsupported resource "kubernetes.io/gpu": the kubernetes.io domain is reserved; extended resources use a domain of their own, such as example.com/gpu`,
			`spec.template.spec.containers[0].resources.limits.requests.example.com/gpu: invalid resource name "requests.example.com/gpu": must not start with "requests."`,
			`spec.template.spec.containers[0].resources.limits.x.kubernetes.io/gpu: unsupported resource "x.kubernetes.io/gpu": the kubernetes.io domain is reserved; extended resources use a domain of their own, such as example.com/gpu`,
		}},
		{"extended resources are whole and not overcommitted", "pod", func(o *Object) {
			o.Pod().Containers[0].Resources = ResourceRequirements{
				Requests: ResourceList{"example.com/gpu": MustQuantity("1"), "example.com/fpga": MustQuantity("1"), "example.com/nic": MustQuantity("500m"), "example.com/ssd": MustQuantity("2")},
				Limits:   ResourceList{"example.com/gpu": MustQuantity("2"), "example.com/tpu": MustQuantity("1.5"), "example.com/ssd": MustQuantity("2")},
			}
		}, []string{
			`spec.containers[0].resources.requests.example.com/nic: must be a whole number for an extended resource, got 500m`,
			`spec.containers[0].resources.limits.example.com/tpu: must be a whole number for an extended resource, got 1.5`,
			`spec.containers[0].resources.limits.example.com/fpga: required: an extended resource cannot be overcommitted, so its request (1) needs an equal limit`,
			`spec.containers[0].resources.requests.example.com/gpu: must equal the example.com/gpu limit (1 != 2): an extended resource cannot be overcommitted`,
		}},
		{"negative quantities", "pod", func(o *Object) {
			o.Pod().Containers[0].Resources = ResourceRequirements{
				Requests: ResourceList{"cpu": MustQuantity("-1"), "memory": MustQuantity("-1Mi")},
				Limits:   ResourceList{"cpu": MustQuantity("-100m")},
			}
		}, []string{
			"spec.containers[0].resources.requests.cpu: must be >= 0, got -1",
			"spec.containers[0].resources.requests.memory: must be >= 0, got -1Mi",
			"spec.containers[0].resources.limits.cpu: must be >= 0, got -100m",
		}},
		{"requests above limits", "pod", func(o *Object) {
			o.Pod().Containers[0].Resources = ResourceRequirements{
				Requests: ResourceList{"cpu": MustQuantity("2"), "memory": MustQuantity("1Gi")},
				Limits:   ResourceList{"cpu": MustQuantity("1500m"), "memory": MustQuantity("1Gi")},
			}
		}, []string{"spec.containers[0].resources.requests.cpu: must be less than or equal to the cpu limit (2 > 1500m)"}},
		{"request without limit and limit without request", "pod", func(o *Object) {
			o.Pod().Containers[0].Resources = ResourceRequirements{
				Requests: ResourceList{"cpu": MustQuantity("64")},
				Limits:   ResourceList{"memory": MustQuantity("1")},
			}
		}, nil},

		// scheduling
		{"good scheduling fields", "pod", func(o *Object) {
			o.Pod().NodeSelector = map[string]string{"disk": "ssd", "example.com/zone": ""}
			o.Pod().Affinity = &Affinity{
				NodeAffinity: &NodeAffinity{
					RequiredDuringSchedulingIgnoredDuringExecution: &NodeSelector{NodeSelectorTerms: []NodeSelectorTerm{
						{MatchExpressions: []NodeSelectorRequirement{{Key: "a", Operator: OpIn, Values: []string{"x"}}, {Key: "b", Operator: OpLt, Values: []string{"-3"}}}},
						{}, // an empty term is allowed; it matches nothing
					}},
					PreferredDuringSchedulingIgnoredDuringExecution: []PreferredSchedulingTerm{{Weight: 1}, {Weight: 100,
						Preference: NodeSelectorTerm{MatchExpressions: []NodeSelectorRequirement{{Key: "c", Operator: OpDoesNotExist}}}}},
				},
				PodAntiAffinity: &PodAntiAffinity{
					RequiredDuringSchedulingIgnoredDuringExecution: []PodAffinityTerm{{TopologyKey: HostnameTopologyKey}},
				},
			}
			o.Pod().Tolerations = []Toleration{{Operator: "Exists"}, {Key: "k", Value: "v"}, {Key: "k", Operator: "Exists", Effect: "NoExecute", TolerationSeconds: new(int64)}}
			o.Pod().TopologySpreadConstraints = []TopologySpreadConstraint{
				{MaxSkew: 1, TopologyKey: "zone"}, {MaxSkew: 3, TopologyKey: "zone", WhenUnsatisfiable: ScheduleAnyway},
			}
			o.Pod().PriorityClassName = PrioritySystemNodeCritical
			o.Pod().Priority = int32p(2000001000)
		}, nil},
		{"the brief's example", "deployment", func(o *Object) {
			podSpec(o).Affinity = &Affinity{NodeAffinity: &NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &NodeSelector{
				NodeSelectorTerms: []NodeSelectorTerm{{MatchExpressions: []NodeSelectorRequirement{
					{Key: "a", Operator: OpExists}, {Key: "b", Operator: "Equals", Values: []string{"x"}},
				}}},
			}}}
		}, []string{
			"spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[1].operator: must be one of In, NotIn, Exists, DoesNotExist, Gt, Lt",
		}},
		{"node selector", "pod", func(o *Object) {
			o.Pod().NodeSelector = map[string]string{"bad key": "v", "disk": "s s d"}
		}, []string{
			`spec.nodeSelector: invalid key "bad key": name part must consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit (e.g. "app.kubernetes.io/name")`,
			`spec.nodeSelector.disk: invalid value "s s d": must be empty or consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit`,
		}},
		{"node affinity", "pod", func(o *Object) {
			o.Pod().Affinity = &Affinity{NodeAffinity: &NodeAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: &NodeSelector{NodeSelectorTerms: []NodeSelectorTerm{{MatchExpressions: []NodeSelectorRequirement{
					{Key: "a", Operator: OpIn},
					{Key: "b", Operator: OpNotIn, Values: []string{}},
					{Key: "c", Operator: OpExists, Values: []string{"x"}},
					{Key: "d", Operator: OpDoesNotExist, Values: []string{"x"}},
					{Key: "e", Operator: OpGt, Values: []string{"1", "2"}},
					{Key: "f", Operator: OpLt},
					{Key: "g", Operator: OpGt, Values: []string{"1.5"}},
					{Key: "", Operator: OpExists},
					{Key: "-h", Operator: ""},
					{Key: "i", Operator: "in", Values: []string{"x"}},
					{Key: "j", Operator: OpIn, Values: []string{"any value: node selectors do not check values"}},
				}}}},
				PreferredDuringSchedulingIgnoredDuringExecution: []PreferredSchedulingTerm{
					{Weight: 0}, {Weight: 101, Preference: NodeSelectorTerm{MatchExpressions: []NodeSelectorRequirement{{Key: "k", Operator: OpLt, Values: []string{"x"}}}}},
				},
			}}
		}, []string{
			"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values: required: at least one value when operator is In",
			"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[1].values: required: at least one value when operator is NotIn",
			"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[2].values: must be empty when operator is Exists",
			"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[3].values: must be empty when operator is DoesNotExist",
			"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[4].values: must hold exactly one value when operator is Gt, got 2",
			"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[5].values: must hold exactly one value when operator is Lt, got 0",
			`spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[6].values[0]: must be an integer when operator is Gt, got "1.5"`,
			"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[7].key: required",
			`spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[8].key: invalid key "-h": name part must consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit (e.g. "app.kubernetes.io/name")`,
			"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[8].operator: required: must be one of In, NotIn, Exists, DoesNotExist, Gt, Lt",
			"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[9].operator: must be one of In, NotIn, Exists, DoesNotExist, Gt, Lt",
			"spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: must be between 1 and 100, got 0",
			"spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[1].weight: must be between 1 and 100, got 101",
			`spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[1].preference.matchExpressions[0].values[0]: must be an integer when operator is Lt, got "x"`,
		}},
		{"required node affinity without terms", "pod", func(o *Object) {
			o.Pod().Affinity = &Affinity{NodeAffinity: &NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &NodeSelector{}}}
		}, []string{"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: required: at least one node selector term"}},
		{"pod anti-affinity", "deployment", func(o *Object) {
			podSpec(o).Affinity = &Affinity{PodAntiAffinity: &PodAntiAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []PodAffinityTerm{
					{LabelSelector: &LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
					{TopologyKey: "topology.kubernetes.io/zone"},
					{TopologyKey: HostnameTopologyKey, LabelSelector: &LabelSelector{MatchExpressions: []LabelSelectorRequirement{
						{Key: "app", Operator: OpGt, Values: []string{"1"}},
						{Key: "tier", Operator: OpIn, Values: []string{"front end"}},
						{Key: "x", Operator: OpExists},
					}}},
				},
				PreferredDuringSchedulingIgnoredDuringExecution: []WeightedPodAffinityTerm{
					{Weight: -1, PodAffinityTerm: PodAffinityTerm{TopologyKey: HostnameTopologyKey}},
					{Weight: 10, PodAffinityTerm: PodAffinityTerm{TopologyKey: "zone"}},
				},
			}}
		}, []string{
			"spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: required",
			"spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[1].topologyKey: only kubernetes.io/hostname is supported yet",
			"spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[2].labelSelector.matchExpressions[0].operator: must be one of In, NotIn, Exists, DoesNotExist",
			`spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[2].labelSelector.matchExpressions[1].values[0]: invalid value "front end": must be empty or consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit`,
			"spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: must be between 1 and 100, got -1",
			"spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[1].podAffinityTerm.topologyKey: only kubernetes.io/hostname is supported yet",
		}},
		{"tolerations", "pod", func(o *Object) {
			secs := int64(60)
			o.Pod().Tolerations = []Toleration{
				{Operator: "Equal", Value: "v"},
				{Value: "v"},
				{Key: "k", Operator: "Exists", Value: "v"},
				{Key: "k", Operator: "exists"},
				{Key: "k", Effect: "NoScheduleX"},
				{Key: "k", Effect: "NoSchedule", TolerationSeconds: &secs},
				{Key: "k", TolerationSeconds: &secs},
				{Key: "bad key", Value: "has space"},
			}
		}, []string{
			"spec.tolerations[0].key: required unless operator is Exists (an empty key with operator Exists tolerates every taint)",
			"spec.tolerations[1].key: required unless operator is Exists (an empty key with operator Exists tolerates every taint)",
			`spec.tolerations[2].value: must be empty when operator is Exists, got "v"`,
			"spec.tolerations[3].operator: must be one of Equal, Exists",
			"spec.tolerations[4].effect: must be one of NoSchedule, PreferNoSchedule, NoExecute, or empty for every effect",
			"spec.tolerations[5].tolerationSeconds: may only be set when effect is NoExecute",
			"spec.tolerations[6].tolerationSeconds: may only be set when effect is NoExecute",
			`spec.tolerations[7].key: invalid key "bad key": name part must consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit (e.g. "app.kubernetes.io/name")`,
			`spec.tolerations[7].value: invalid value "has space": must be empty or consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit`,
		}},
		{"topology spread constraints", "pod", func(o *Object) {
			o.Pod().TopologySpreadConstraints = []TopologySpreadConstraint{
				{MaxSkew: 0, TopologyKey: "zone"},
				{MaxSkew: 1},
				{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: "Never"},
				{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: DoNotSchedule},
				{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: ScheduleAnyway},
				{MaxSkew: 1, TopologyKey: "a b", LabelSelector: &LabelSelector{MatchExpressions: []LabelSelectorRequirement{{Key: "app", Operator: OpIn}}}},
			}
		}, []string{
			"spec.topologySpreadConstraints[0].maxSkew: must be >= 1, got 0",
			"spec.topologySpreadConstraints[1].topologyKey: required",
			"spec.topologySpreadConstraints[2].whenUnsatisfiable: must be one of DoNotSchedule, ScheduleAnyway",
			`spec.topologySpreadConstraints[3].topologyKey: duplicate constraint on "zone" with whenUnsatisfiable DoNotSchedule (also spec.topologySpreadConstraints[0])`,
			`spec.topologySpreadConstraints[5].topologyKey: invalid key "a b": name part must consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit (e.g. "app.kubernetes.io/name")`,
			"spec.topologySpreadConstraints[5].labelSelector.matchExpressions[0].values: required: at least one value when operator is In",
		}},
		{"64 anti-affinity terms and spread constraints", "pod", func(o *Object) {
			o.Pod().Affinity = &Affinity{PodAntiAffinity: &PodAntiAffinity{}}
			for i := range 62 {
				o.Pod().Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution = append(
					o.Pod().Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution,
					PodAffinityTerm{TopologyKey: HostnameTopologyKey, LabelSelector: &LabelSelector{MatchLabels: map[string]string{"app": fmt.Sprint("a", i)}}})
			}
			o.Pod().TopologySpreadConstraints = []TopologySpreadConstraint{
				{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: DoNotSchedule},
				{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: ScheduleAnyway},
			}
		}, nil},
		{"65 anti-affinity terms and spread constraints", "pod", func(o *Object) {
			o.Pod().Affinity = &Affinity{PodAntiAffinity: &PodAntiAffinity{}}
			for range 62 {
				o.Pod().Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(
					o.Pod().Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution,
					WeightedPodAffinityTerm{Weight: 1, PodAffinityTerm: PodAffinityTerm{TopologyKey: HostnameTopologyKey}})
			}
			o.Pod().Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution = []PodAffinityTerm{{TopologyKey: HostnameTopologyKey}}
			o.Pod().TopologySpreadConstraints = []TopologySpreadConstraint{
				{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: DoNotSchedule},
				{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: ScheduleAnyway},
			}
		}, []string{"spec.affinity.podAntiAffinity: at most 64 pod anti-affinity terms and topology spread constraints together, got 65"}},
		{"host ports", "pod", func(o *Object) {
			o.Pod().Containers[0].Ports = []ContainerPort{
				{ContainerPort: 80, HostPort: 8080}, {ContainerPort: 81, HostPort: 8080, Protocol: "UDP"}, {ContainerPort: 82, HostPort: -1},
				{ContainerPort: 83, HostPort: 65536}, {ContainerPort: 84}, {ContainerPort: 85},
			}
			o.Pod().Containers = append(o.Pod().Containers, Container{Name: "b", Image: "b", Ports: []ContainerPort{
				{ContainerPort: 90, HostPort: 8080, Protocol: "TCP"}, {ContainerPort: 0, HostPort: 8081}, {ContainerPort: 91, HostPort: 8081},
			}})
		}, []string{
			"spec.containers[0].ports[2].hostPort: must be between 0 and 65535, got -1",
			"spec.containers[0].ports[3].hostPort: must be between 0 and 65535, got 65536",
			"spec.containers[1].ports[1].containerPort: must be between 1 and 65535, got 0",
			"spec.containers[1].ports[0].hostPort: duplicate host port 8080/TCP (also spec.containers[0].ports[0])",
			"spec.containers[1].ports[2].hostPort: duplicate host port 8081/TCP (also spec.containers[1].ports[1])",
		}},
		{"priority class not found", "deployment", func(o *Object) { podSpec(o).PriorityClassName = "urgent" },
			[]string{`spec.template.spec.priorityClassName: "urgent" not found (classes: default, high, low, system-cluster-critical, system-node-critical)`}},
		{"priority differs from its class", "pod", func(o *Object) {
			o.Pod().PriorityClassName = PriorityHigh
			o.Pod().Priority = int32p(5)
		}, []string{`spec.priority: must be 1000000, the value of priorityClassName "high", or unset; got 5`}},
		{"priority without a class", "pod", func(o *Object) { o.Pod().Priority = int32p(MaxUserPriority) }, nil},
		{"negative priority without a class", "pod", func(o *Object) { o.Pod().Priority = int32p(-5) }, []string{`spec.priority: must be >= 0, got -5; for work that yields to everything use priorityClassName "low"`}},
		{"system priority without a class", "pod", func(o *Object) { o.Pod().Priority = int32p(MaxUserPriority + 1) },
			[]string{"spec.priority: must be <= 1000000000 without a priorityClassName (higher values belong to the system classes), got 1000000001"}},
		{"selector with expressions", "deployment", func(o *Object) {
			o.Deployment().Selector.MatchExpressions = []LabelSelectorRequirement{{Key: "tier", Operator: OpIn, Values: []string{"frontend", "backend"}}}
		}, nil},
		{"selector expression does not match the template", "deployment", func(o *Object) {
			o.Deployment().Selector.MatchExpressions = []LabelSelectorRequirement{{Key: "tier", Operator: OpDoesNotExist}}
		}, []string{"spec.selector: does not match template labels"}},
		{"bad selector expression", "deployment", func(o *Object) {
			o.Deployment().Selector.MatchExpressions = []LabelSelectorRequirement{{Key: "tier", Operator: OpLt, Values: []string{"3"}}}
		}, []string{
			"spec.selector.matchExpressions[0].operator: must be one of In, NotIn, Exists, DoesNotExist",
			"spec.selector: does not match template labels",
		}},

		// kinds
		{"unsupported kind", "pod", func(o *Object) { o.APIVersion, o.Kind = "networking.k8s.io/v1", "Ingress" },
			[]string{`kind: "Ingress" (apiVersion "networking.k8s.io/v1") is not supported; supported: apps/v1 Deployment, v1 Pod, apps/v1 ReplicaSet, apps/v1 DaemonSet, batch/v1 Job, batch/v1 CronJob, v1 Namespace, v1 ResourceQuota, policy/v1 PodDisruptionBudget, v1 Service, discovery.k8s.io/v1 EndpointSlice, v1 ConfigMap, v1 Secret, v1 PersistentVolume, v1 PersistentVolumeClaim, storage.k8s.io/v1 StorageClass, apps/v1 StatefulSet, admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy, admissionregistration.k8s.io/v1 ValidatingAdmissionPolicyBinding, rbac.authorization.k8s.io/v1 Role, rbac.authorization.k8s.io/v1 ClusterRole, rbac.authorization.k8s.io/v1 RoleBinding, rbac.authorization.k8s.io/v1 ClusterRoleBinding`}},
		{"missing spec", "pod", func(o *Object) { o.Spec = nil }, []string{"spec: required"}},
		{"errors collected", "deployment", func(o *Object) {
			o.Metadata.Name = "A"
			o.Deployment().Replicas = int32p(-2)
			podSpec(o).Containers[1].Image = ""
		}, []string{
			`metadata.name: invalid value "A": must consist of lower-case letters, digits and '-', and start and end with a letter or digit (e.g. "web-1")`,
			"spec.replicas: must be >= 0",
			"spec.template.spec.containers[1].image: required",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := goodPodYAML
			if tt.base == "deployment" {
				base = goodDeploymentYAML
			}
			o := mustDecode(t, base)
			tt.mutate(&o)
			got := Validate(o)
			if !reflect.DeepEqual(got.Strings(), tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got.Strings(), "\n  "), strings.Join(tt.want, "\n  "))
			}
			if len(tt.want) == 0 && got != nil {
				t.Errorf("Validate returned a non-nil empty FieldErrors")
			}
		})
	}
}

func TestValidateName(t *testing.T) {
	if e := ValidateName("name", "web-1"); e != nil {
		t.Errorf("web-1: %v", e)
	}
	e := ValidateName("name", "web.1")
	if e == nil || e.Error() != `name: invalid value "web.1": must not contain dots (a name is a NATS subject token)` {
		t.Errorf("web.1: %v", e)
	}
	if e := ValidateName("metadata.namespace", ""); e == nil || e.Error() != "metadata.namespace: required" {
		t.Errorf("empty: %v", e)
	}
}

func TestDefaults(t *testing.T) {
	o := mustDecode(t, goodDeploymentYAML)
	o.Metadata.Namespace = ""
	o.Deployment().Replicas = nil
	o.Deployment().Template.Spec.RestartPolicy = ""
	o.Deployment().Template.Spec.Containers[0].Ports = append(o.Deployment().Template.Spec.Containers[0].Ports, ContainerPort{ContainerPort: 9090})
	shared := o.Deployment().Template.Spec.Containers // another holder of the same slice
	before := *o.Deployment()

	o.Defaults()
	spec := o.Deployment().Template.Spec
	if o.Metadata.Namespace != "default" || o.Deployment().ReplicaCount() != 1 || *o.Deployment().Replicas != 1 ||
		spec.RestartPolicy != RestartAlways || spec.Containers[0].Ports[0].Protocol != "TCP" || spec.Containers[0].Ports[1].Protocol != "TCP" {
		t.Errorf("got %+v", o)
	}
	if shared[0].Ports[1].Protocol != "" || before.Replicas != nil {
		t.Errorf("Defaults changed a shared slice or spec")
	}
	if errs := Validate(o); errs != nil {
		t.Errorf("defaulted object invalid: %v", errs)
	}

	p := mustDecode(t, goodPodYAML)
	p.Pod().RestartPolicy = ""
	p.Defaults()
	if p.Pod().RestartPolicy != RestartAlways || p.Pod().Containers[0].Ports[1].Protocol != "TCP" || p.Pod().Containers[0].Ports[0].Protocol != "UDP" {
		t.Errorf("got %+v", p.Pod())
	}
	again := p
	again.Defaults()
	if !reflect.DeepEqual(again, p) {
		t.Error("Defaults is not idempotent")
	}
}
