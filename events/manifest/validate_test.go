package manifest

import (
	"reflect"
	"strings"
	"testing"
)

// podSpec is the pod spec of either kind of object.
func podSpec(o *Object) *PodSpec {
	if o.Deployment != nil {
		return &o.Deployment.Template.Spec
	}
	return o.Pod
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
		{"zero replicas", "deployment", func(o *Object) { o.Deployment.Replicas = int32p(0) }, nil},
		{"negative replicas", "deployment", func(o *Object) { o.Deployment.Replicas = int32p(-1) }, []string{"spec.replicas: must be >= 0"}},
		{"no selector", "deployment", func(o *Object) { o.Deployment.Selector = nil }, []string{"spec.selector: required"}},
		{"empty selector", "deployment", func(o *Object) { o.Deployment.Selector.MatchLabels = nil },
			[]string{"spec.selector.matchLabels: required: a Deployment must select its pods by at least one label"}},
		{"selector does not match", "deployment", func(o *Object) { o.Deployment.Selector.MatchLabels["app"] = "api" },
			[]string{"spec.selector: does not match template labels"}},
		{"selector key missing from template", "deployment", func(o *Object) { o.Deployment.Selector.MatchLabels["track"] = "stable" },
			[]string{"spec.selector: does not match template labels"}},
		{"bad selector label", "deployment", func(o *Object) { o.Deployment.Selector.MatchLabels["bad key"] = "x" },
			[]string{
				`spec.selector.matchLabels: invalid key "bad key": name part must consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit (e.g. "app.kubernetes.io/name")`,
				"spec.selector: does not match template labels",
			}},
		{"template labels checked", "deployment", func(o *Object) { o.Deployment.Template.Metadata.Labels["tier"] = "front end" },
			[]string{`spec.template.metadata.labels.tier: invalid value "front end": must be empty or consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit`}},
		{"template annotations checked", "deployment", func(o *Object) { o.Deployment.Template.Metadata.Annotations = map[string]string{"a//b": ""} },
			[]string{`spec.template.metadata.annotations: invalid key "a//b": name part must consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit (e.g. "app.kubernetes.io/name")`}},
		{"deployment restart policy", "deployment", func(o *Object) { o.Deployment.Template.Spec.RestartPolicy = RestartNever },
			[]string{`spec.template.spec.restartPolicy: unsupported value "Never": a Deployment's pods must restart Always`}},
		{"deployment restart policy empty", "deployment", func(o *Object) { o.Deployment.Template.Spec.RestartPolicy = "" }, nil},
		{"template spec checked as a pod spec", "deployment", func(o *Object) { o.Deployment.Template.Spec.Containers = nil },
			[]string{"spec.template.spec.containers: required: at least one container"}},

		// pods and containers
		{"no containers", "pod", func(o *Object) { o.Pod.Containers = nil }, []string{"spec.containers: required: at least one container"}},
		{"restart policies", "pod", func(o *Object) { o.Pod.RestartPolicy = RestartNever }, nil},
		{"bad restart policy", "pod", func(o *Object) { o.Pod.RestartPolicy = "always" },
			[]string{`spec.restartPolicy: unsupported value "always": must be one of Always, OnFailure, Never`}},
		{"bad restart policy in a deployment", "deployment", func(o *Object) { o.Deployment.Template.Spec.RestartPolicy = "Sometimes" },
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
				o.Pod.Containers = append(o.Pod.Containers, Container{Name: "c" + strings.Repeat("x", len(o.Pod.Containers)), Image: img})
			}
		}, nil},
		{"bad images", "pod", func(o *Object) {
			for _, img := range []string{"", "nginx latest", "Nginx", "docker.io/Library/nginx", "nginx:", "nginx:-x", "a@sha256:12", "a//b", "a_-b", "ex ample.com/a", "a:b:c", "bad_host:5000x/a"} {
				o.Pod.Containers = append(o.Pod.Containers, Container{Name: "c" + strings.Repeat("x", len(o.Pod.Containers)), Image: img})
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
			o.Pod.Containers[0].Env = []EnvVar{{Name: "_A.b-c"}, {Name: "PATH", Value: "x"}, {Name: ""}, {Name: "1A"}, {Name: "A B"}, {Name: "a=b"}}
		}, []string{
			"spec.containers[0].env[2].name: required",
			`spec.containers[0].env[3].name: invalid value "1A": must consist of letters, digits, '_', '-' or '.', and must not start with a digit`,
			`spec.containers[0].env[4].name: invalid value "A B": must consist of letters, digits, '_', '-' or '.', and must not start with a digit`,
			`spec.containers[0].env[5].name: invalid value "a=b": must consist of letters, digits, '_', '-' or '.', and must not start with a digit`,
		}},
		{"ports", "pod", func(o *Object) {
			o.Pod.Containers[0].Ports = []ContainerPort{
				{ContainerPort: 0}, {ContainerPort: 65536}, {ContainerPort: 65535}, {ContainerPort: 1, Protocol: "tcp"},
				{ContainerPort: 65535, Protocol: "TCP"}, {ContainerPort: 54, Protocol: "SCTP"},
			}
			o.Pod.Containers = append(o.Pod.Containers, Container{Name: "b", Image: "b", Ports: []ContainerPort{{ContainerPort: 54, Protocol: "SCTP"}, {ContainerPort: 53, Protocol: "UDP"}}})
		}, []string{
			"spec.containers[0].ports[0].containerPort: must be between 1 and 65535, got 0",
			"spec.containers[0].ports[1].containerPort: must be between 1 and 65535, got 65536",
			`spec.containers[0].ports[3].protocol: unsupported value "tcp": must be one of TCP, UDP, SCTP`,
			"spec.containers[0].ports[4].containerPort: duplicate port 65535/TCP (also spec.containers[0].ports[2])",
			"spec.containers[1].ports[0].containerPort: duplicate port 54/SCTP (also spec.containers[0].ports[5])",
		}},
		{"port names", "pod", func(o *Object) {
			o.Pod.Containers[0].Ports = []ContainerPort{
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
		{"resources", "deployment", func(o *Object) {
			r := &podSpec(o).Containers[0].Resources
			r.Requests["example.com/gpu"] = MustQuantity("1")
			r.Limits["example.com/gpu"] = MustQuantity("1")
			r.Limits["ephemeral-storage"] = MustQuantity("1Gi")
		}, []string{
			"spec.template.spec.containers[0].resources.requests.example.com/gpu: not supported yet",
			"spec.template.spec.containers[0].resources.limits.ephemeral-storage: not supported yet",
			"spec.template.spec.containers[0].resources.limits.example.com/gpu: not supported yet",
		}},
		{"negative quantities", "pod", func(o *Object) {
			o.Pod.Containers[0].Resources = ResourceRequirements{
				Requests: ResourceList{"cpu": MustQuantity("-1"), "memory": MustQuantity("-1Mi")},
				Limits:   ResourceList{"cpu": MustQuantity("-100m")},
			}
		}, []string{
			"spec.containers[0].resources.requests.cpu: must be >= 0, got -1",
			"spec.containers[0].resources.requests.memory: must be >= 0, got -1Mi",
			"spec.containers[0].resources.limits.cpu: must be >= 0, got -100m",
		}},
		{"requests above limits", "pod", func(o *Object) {
			o.Pod.Containers[0].Resources = ResourceRequirements{
				Requests: ResourceList{"cpu": MustQuantity("2"), "memory": MustQuantity("1Gi")},
				Limits:   ResourceList{"cpu": MustQuantity("1500m"), "memory": MustQuantity("1Gi")},
			}
		}, []string{"spec.containers[0].resources.requests.cpu: must be less than or equal to the cpu limit (2 > 1500m)"}},
		{"request without limit and limit without request", "pod", func(o *Object) {
			o.Pod.Containers[0].Resources = ResourceRequirements{
				Requests: ResourceList{"cpu": MustQuantity("64")},
				Limits:   ResourceList{"memory": MustQuantity("1")},
			}
		}, nil},

		// kinds
		{"unsupported kind", "pod", func(o *Object) { o.Kind = "Service" },
			[]string{`kind: "Service" (apiVersion "v1") is not supported; supported: apps/v1 Deployment, v1 Pod`}},
		{"missing spec", "pod", func(o *Object) { o.Pod = nil }, []string{"spec: required"}},
		{"errors collected", "deployment", func(o *Object) {
			o.Metadata.Name = "A"
			o.Deployment.Replicas = int32p(-2)
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
	o.Deployment.Replicas = nil
	o.Deployment.Template.Spec.RestartPolicy = ""
	o.Deployment.Template.Spec.Containers[0].Ports = append(o.Deployment.Template.Spec.Containers[0].Ports, ContainerPort{ContainerPort: 9090})
	shared := o.Deployment.Template.Spec.Containers // another holder of the same slice
	before := *o.Deployment

	o.Defaults()
	spec := o.Deployment.Template.Spec
	if o.Metadata.Namespace != "default" || o.Deployment.ReplicaCount() != 1 || *o.Deployment.Replicas != 1 ||
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
	p.Pod.RestartPolicy = ""
	p.Defaults()
	if p.Pod.RestartPolicy != RestartAlways || p.Pod.Containers[0].Ports[1].Protocol != "TCP" || p.Pod.Containers[0].Ports[0].Protocol != "UDP" {
		t.Errorf("got %+v", p.Pod)
	}
	again := p
	again.Defaults()
	if !reflect.DeepEqual(again, p) {
		t.Error("Defaults is not idempotent")
	}
}
