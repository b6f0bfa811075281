package manifest

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeGoodDeployment(t *testing.T) {
	o := mustDecode(t, goodDeploymentYAML)
	if o.APIVersion != APIAppsV1 || o.Kind != KindDeployment || o.Pod() != nil || o.Deployment() == nil {
		t.Fatalf("got %+v", o)
	}
	want := Object{
		APIVersion: "apps/v1",
		Kind:       "Deployment",
		Metadata: ObjectMeta{
			Name:        "web",
			Namespace:   "shop",
			Labels:      map[string]string{"app.kubernetes.io/name": "web"},
			Annotations: map[string]string{"example.com/owner": "team shop"},
		},
		Spec: &DeploymentSpec{
			Replicas: int32p(3),
			Selector: &LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: PodTemplateSpec{
				Metadata: TemplateMeta{Labels: map[string]string{"app": "web", "tier": "frontend"}},
				Spec: PodSpec{
					RestartPolicy: RestartAlways,
					Containers: []Container{{
						Name:    "web",
						Image:   "registry.example.com:5000/shop/web:1.2.3",
						Command: []string{"/bin/web"},
						Args:    []string{"--port", "8080"},
						Env:     []EnvVar{{Name: "LOG_LEVEL", Value: "debug"}},
						Ports:   []ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: "TCP"}},
						Resources: ResourceRequirements{
							Requests: ResourceList{"cpu": MustQuantity("100m"), "memory": MustQuantity("64Mi")},
							Limits:   ResourceList{"cpu": MustQuantity("0.5"), "memory": MustQuantity("128Mi")},
						},
					}, {
						Name:  "sidecar",
						Image: "busybox",
						Resources: ResourceRequirements{
							Limits: ResourceList{"cpu": MustQuantity("1"), "memory": MustQuantity("1e6")},
						},
					}},
				},
			},
		},
	}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("got  %+v\nwant %+v", o, want)
	}
	if errs := Validate(o); errs != nil {
		t.Errorf("Validate: %v", errs)
	}
}

func TestDecodeGoodPod(t *testing.T) {
	o := mustDecode(t, goodPodYAML)
	if o.Kind != KindPod || o.Pod() == nil || o.Deployment() != nil {
		t.Fatalf("got %+v", o)
	}
	if got := o.Pod().Containers[0].Ports; len(got) != 2 || got[0].Protocol != "UDP" || got[1].Protocol != "" {
		t.Errorf("ports: %+v", got)
	}
	if o.Pod().RestartPolicy != RestartOnFailure || o.Metadata.Namespace != "" {
		t.Errorf("got %+v", o)
	}
	if errs := Validate(o); errs != nil {
		t.Errorf("Validate: %v", errs)
	}
}

func TestDecodeMultiDocument(t *testing.T) {
	docs, err := SplitDocuments(strings.NewReader(goodDeploymentYAML + "---\n" + goodPodYAML))
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, d := range docs {
		o, err := DecodeObject(d.JSON)
		if err != nil {
			t.Fatalf("document %d: %v", d.Index, err)
		}
		kinds = append(kinds, o.Kind+"/"+o.Metadata.Name)
	}
	if got := strings.Join(kinds, " "); got != "Deployment/web Pod/job-1" {
		t.Errorf("got %s", got)
	}
}

// decodeCases are documents DecodeObject must refuse, with every error it
// must report. They also seed FuzzDecodeObject.
var decodeCases = []struct {
	name string
	yaml string
	want []string
}{
	{"unknown field with path", `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx
        imagePullPolicyy: Always
`, []string{"spec.template.spec.containers[0].imagePullPolicyy: unknown field"}},
	{"not supported yet", `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, uid: x, finalizers: [a]}
spec:
  strategy: {type: Recreate}
  selector: {matchLabels: {app: web}, matchExpressions: []}
  template:
    metadata: {name: x, labels: {app: web}}
    spec:
      nodeSelector: {disk: ssd}
      preemptionPolicy: Never
      affinity:
        podAffinity: {}
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms: [{matchExpressions: [{key: disk, operator: Exists}], matchFields: []}]
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - {topologyKey: kubernetes.io/hostname, namespaces: [other]}
      topologySpreadConstraints: [{maxSkew: 1, topologyKey: zone, minDomains: 2}]
      volumes: []
      containers:
      - name: web
        image: nginx
        imagePullPolicy: Always
        workingDir: /srv
        env: [{name: A, valueFrom: {secretKeyRef: {name: s, key: k}}}]
        ports: [{containerPort: 80, hostPort: 80, hostIP: 127.0.0.1}]
        resources: {claims: []}
`, []string{
		"metadata.uid: not supported yet",
		"metadata.finalizers: not supported yet",
		"spec.template.metadata.name: not supported yet",
		"spec.template.spec.preemptionPolicy: not supported yet",
		"spec.template.spec.affinity.podAffinity: not supported yet",
		"spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields: not supported yet",
		"spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].namespaces: not supported yet",
		"spec.template.spec.topologySpreadConstraints[0].minDomains: not supported yet",
		"spec.template.spec.containers[0].imagePullPolicy: not supported yet",
		"spec.template.spec.containers[0].workingDir: not supported yet",
		"spec.template.spec.containers[0].ports[0].hostIP: not supported yet",
		"spec.template.spec.containers[0].resources.claims: not supported yet",
	}},
	{"scheduling fields of the wrong type", `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers: [{name: a, image: b, ports: [{containerPort: 80, hostPort: "80"}]}]
  nodeSelector: [disk]
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution: [{matchExpressions: []}]
      preferredDuringSchedulingIgnoredDuringExecution: [{weight: high, preference: {matchExpressions: [{key: a, operator: In, values: a}]}}]
    podAntiAffinity:
      preferredDuringSchedulingIgnoredDuringExecution: [{weight: 1.5, podAffinityTerm: {labelSelector: {matchExpressions: {key: app}}, topologyKey: 1}}]
  tolerations: {key: gpu}
  topologySpreadConstraints: [{maxSkew: "1", topologyKey: zone, labelSelector: []}]
  priority: 3000000000
  priorityClassName: [high]
`, []string{
		"spec.containers[0].ports[0].hostPort: must be an integer, got string",
		"spec.nodeSelector: must be an object, got array",
		"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution: must be an object, got array",
		"spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: must be an integer, got string",
		"spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].preference.matchExpressions[0].values: must be an array, got string",
		"spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: must be an integer, got 1.5",
		"spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.labelSelector.matchExpressions: must be an array, got object",
		"spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey: must be a string, got integer",
		"spec.tolerations: must be an array, got object",
		"spec.topologySpreadConstraints[0].maxSkew: must be an integer, got string",
		"spec.topologySpreadConstraints[0].labelSelector: must be an object, got array",
		"spec.priority: must be an integer between -2147483648 and 2147483647, got 3000000000",
		"spec.priorityClassName: must be a string, got array",
	}},
	{"status", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: b}]}\nstatus: {phase: Running}\n",
		[]string{"status: set by Gantry, remove it"}},
	{"top-level unknown, with a case hint", "apiVersion: v1\nkind: Pod\nMetadata: {name: p}\nspec: {containers: [{name: a, image: b}]}\nextra: 1\n",
		[]string{`Metadata: unknown field (did you mean "metadata"?)`, "extra: unknown field"}},
	{"wrong types", `apiVersion: apps/v1
kind: Deployment
metadata: {name: 7, labels: [a]}
spec:
  replicas: "3"
  selector: {matchLabels: {app: 1}}
  template:
    spec:
      restartPolicy: true
      containers:
      - name: web
        image: {name: nginx}
        args: [a, 2]
        env: {A: b}
        ports: [{containerPort: 70000000000}, {containerPort: 80.5}, {containerPort: "80"}]
        resources: {limits: {cpu: true, memory: null}, requests: {cpu: 1x}}
`, []string{
		"metadata.name: must be a string, got integer",
		"metadata.labels: must be an object, got array",
		"spec.replicas: must be an integer, got string",
		"spec.selector.matchLabels.app: must be a string, got integer",
		"spec.template.spec.restartPolicy: must be a string, got boolean",
		"spec.template.spec.containers[0].image: must be a string, got object",
		"spec.template.spec.containers[0].args[1]: must be a string, got integer",
		"spec.template.spec.containers[0].env: must be an array, got object",
		"spec.template.spec.containers[0].ports[0].containerPort: must be an integer between -2147483648 and 2147483647, got 70000000000",
		"spec.template.spec.containers[0].ports[1].containerPort: must be an integer, got 80.5",
		"spec.template.spec.containers[0].ports[2].containerPort: must be an integer, got string",
		`spec.template.spec.containers[0].resources.limits.cpu: must be a quantity such as "500m" or "128Mi", got boolean`,
		`spec.template.spec.containers[0].resources.limits.memory: must be a quantity such as "500m" or "128Mi", got null`,
		`spec.template.spec.containers[0].resources.requests.cpu: quantity "1x": unknown suffix "x" (use Ki, Mi, Gi, Ti, Pi, Ei, n, u, m, k, M, G, T, P, E or an exponent)`,
	}},
	{"spec of the wrong shape", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: [a]\n",
		[]string{"spec: must be an object, got array"}},
	{"containers not a list", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: {name: a}}\n",
		[]string{"spec.containers: must be an array, got object"}},
	{"missing spec", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n", []string{"spec: required"}},
	{"null spec", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: ~\n", []string{"spec: required"}},
	{"unsupported kind", "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: s}\nspec: {}\n",
		[]string{`kind: "Ingress" (apiVersion "networking.k8s.io/v1") is not supported; supported: apps/v1 Deployment, v1 Pod, apps/v1 ReplicaSet, apps/v1 DaemonSet, batch/v1 Job, batch/v1 CronJob, v1 Namespace, v1 ResourceQuota, policy/v1 PodDisruptionBudget, v1 Service, discovery.k8s.io/v1 EndpointSlice, v1 ConfigMap, v1 Secret, v1 PersistentVolume, v1 PersistentVolumeClaim, storage.k8s.io/v1 StorageClass, apps/v1 StatefulSet, admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy, admissionregistration.k8s.io/v1 ValidatingAdmissionPolicyBinding, rbac.authorization.k8s.io/v1 Role, rbac.authorization.k8s.io/v1 ClusterRole, rbac.authorization.k8s.io/v1 RoleBinding, rbac.authorization.k8s.io/v1 ClusterRoleBinding`}},
	{"kind with the wrong apiVersion", "apiVersion: v1\nkind: Deployment\nmetadata: {name: s}\nspec: {}\n",
		[]string{`kind: "Deployment" (apiVersion "v1") is not supported; supported: apps/v1 Deployment, v1 Pod, apps/v1 ReplicaSet, apps/v1 DaemonSet, batch/v1 Job, batch/v1 CronJob, v1 Namespace, v1 ResourceQuota, policy/v1 PodDisruptionBudget, v1 Service, discovery.k8s.io/v1 EndpointSlice, v1 ConfigMap, v1 Secret, v1 PersistentVolume, v1 PersistentVolumeClaim, storage.k8s.io/v1 StorageClass, apps/v1 StatefulSet, admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy, admissionregistration.k8s.io/v1 ValidatingAdmissionPolicyBinding, rbac.authorization.k8s.io/v1 Role, rbac.authorization.k8s.io/v1 ClusterRole, rbac.authorization.k8s.io/v1 RoleBinding, rbac.authorization.k8s.io/v1 ClusterRoleBinding`}},
	{"no apiVersion or kind", "metadata: {name: s}\nspec: {}\nfoo: 1\n",
		[]string{"apiVersion: required", "kind: required", "foo: unknown field"}},
	{"apiVersion not a string", "apiVersion: 1\nkind: Pod\nmetadata: {name: s}\nspec: {}\n",
		[]string{"apiVersion: must be a string, got integer"}},
}

func TestDecodeObjectErrors(t *testing.T) {
	for _, tt := range decodeCases {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeObject(docJSON(t, tt.yaml))
			var errs FieldErrors
			if !errors.As(err, &errs) {
				t.Fatalf("got %v (%T), want FieldErrors", err, err)
			}
			if got := errs.Strings(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			if err.Error() != strings.Join(tt.want, "; ") {
				t.Errorf("Error() = %q", err.Error())
			}
		})
	}
}

func TestDecodeObjectRawJSON(t *testing.T) {
	tests := []struct{ json, want string }{
		{`[]`, "must be an object, got array"},
		{`{"apiVersion":`, "invalid JSON: unexpected EOF"},
		{`{} {}`, "invalid JSON: unexpected data after the top-level value"},
		{`{"apiVersion":"v1","kind":"Pod","kind":"Pod","metadata":{"name":"p","name":"q"},"spec":{"containers":[]}}`,
			"kind: duplicate field; metadata.name: duplicate field"},
		{`{"apiVersion":"v1","kind":"Pod","metadata":{"labels":{"a":"1","a":"2"}},"spec":{}}`, "metadata.labels.a: duplicate key"},
		{`{"apiVersion":"v1","kind":"Pod","metadata":{},"spec":{"containers":[{"resources":{"limits":{"cpu":1e400}}}]}}`,
			`spec.containers[0].resources.limits.cpu: quantity "1e400": bad exponent "e400"`},
	}
	for _, tt := range tests {
		_, err := DecodeObject(json.RawMessage(tt.json))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s:\n got  %v\n want %s", tt.json, err, tt.want)
		}
	}
}

func TestDecodeQuantities(t *testing.T) {
	o := mustDecode(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: a\n    image: b\n    resources:\n      requests: {cpu: 2, memory: \"1Gi\"}\n      limits: {cpu: \"2500m\", memory: 1.5Gi}\n")
	r := o.Pod().Containers[0].Resources
	if r.Requests["cpu"].MilliValue() != 2000 || r.Requests["memory"].Value() != 1<<30 ||
		r.Limits["cpu"].MilliValue() != 2500 || r.Limits["memory"].Value() != 3<<29 {
		t.Errorf("got %+v", r)
	}
}

func TestObjectJSONRoundTrip(t *testing.T) {
	for _, y := range []string{goodDeploymentYAML, goodPodYAML,
		"apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {}}\nspec: {containers: [{name: a, image: b, command: [], env: []}]}\n"} {
		o := mustDecode(t, y)
		b, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(b), `{"apiVersion":"`+o.APIVersion+`","kind":"`+o.Kind+`","metadata":{`) ||
			!strings.Contains(string(b), `,"spec":{`) {
			t.Errorf("not the Kubernetes shape: %s", b)
		}
		back, err := DecodeObject(b)
		if err != nil {
			t.Fatalf("DecodeObject(%s): %v", b, err)
		}
		if !reflect.DeepEqual(back, o) {
			t.Errorf("round trip through DecodeObject:\n got  %+v\n want %+v", back, o)
		}
		var viaJSON Object
		if err := json.Unmarshal(b, &viaJSON); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(viaJSON, o) {
			t.Errorf("round trip through json.Unmarshal:\n got  %+v\n want %+v", viaJSON, o)
		}
		// Objects nested in events round-trip too.
		type event struct {
			Object Object `json:"object"`
		}
		eb, _ := json.Marshal(event{o})
		var e event
		if err := json.Unmarshal(eb, &e); err != nil || !reflect.DeepEqual(e.Object, o) {
			t.Errorf("nested round trip: %v", err)
		}
	}
}

func TestObjectUnmarshalJSONLenient(t *testing.T) {
	var o Object
	err := json.Unmarshal([]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","future":1},"spec":{"containers":[{"name":"a","image":"b","newField":true}]}}`), &o)
	if err != nil || o.Pod() == nil || o.Pod().Containers[0].Image != "b" {
		t.Errorf("got %+v, %v", o, err)
	}
	if err := json.Unmarshal([]byte(`{"apiVersion":"networking.k8s.io/v1","kind":"Ingress"}`), &o); err == nil {
		t.Error("unsupported kind accepted")
	}
}

func TestDecodeSchedulingFields(t *testing.T) {
	o := mustDecode(t, schedulingDeploymentYAML)
	if errs := Validate(o); errs != nil {
		t.Fatalf("Validate: %v", errs)
	}
	s := o.Deployment().Template.Spec
	sel := o.Deployment().Selector
	if len(sel.MatchExpressions) != 1 || !reflect.DeepEqual(sel.MatchExpressions[0], LabelSelectorRequirement{Key: "tier", Operator: "In", Values: []string{"batch", "ml"}}) {
		t.Errorf("selector = %+v", sel)
	}
	if s.PriorityClassName != "high" || s.Priority == nil || *s.Priority != 1000000 || PriorityOf(s) != 1000000 {
		t.Errorf("priority = %q %v", s.PriorityClassName, s.Priority)
	}
	if !reflect.DeepEqual(s.NodeSelector, map[string]string{"disk": "ssd"}) {
		t.Errorf("nodeSelector = %v", s.NodeSelector)
	}
	na := s.Affinity.NodeAffinity
	terms := na.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) != 2 || !reflect.DeepEqual(terms[1].MatchExpressions[0], NodeSelectorRequirement{Key: "cpu-generation", Operator: "Gt", Values: []string{"6"}}) {
		t.Errorf("terms = %+v", terms)
	}
	if p := na.PreferredDuringSchedulingIgnoredDuringExecution; len(p) != 1 || p[0].Weight != 50 || p[0].Preference.MatchExpressions[0].Operator != "NotIn" {
		t.Errorf("preferred = %+v", p)
	}
	pa := s.Affinity.PodAntiAffinity
	if r := pa.RequiredDuringSchedulingIgnoredDuringExecution; len(r) != 1 || r[0].TopologyKey != HostnameTopologyKey || r[0].LabelSelector.MatchLabels["app"] != "gpu-job" {
		t.Errorf("anti-affinity required = %+v", r)
	}
	if p := pa.PreferredDuringSchedulingIgnoredDuringExecution; len(p) != 1 || p[0].Weight != 100 || p[0].PodAffinityTerm.LabelSelector.MatchExpressions[0].Operator != "Exists" {
		t.Errorf("anti-affinity preferred = %+v", p)
	}
	secs := int64(300)
	wantTol := []Toleration{
		{Key: "example.com/gpu", Operator: "Exists", Effect: "NoSchedule"},
		{Key: "dedicated", Operator: "Equal", Value: "ml"},
		{Key: "node.kubernetes.io/unreachable", Operator: "Exists", Effect: "NoExecute", TolerationSeconds: &secs},
	}
	if !reflect.DeepEqual(s.Tolerations, wantTol) {
		t.Errorf("tolerations = %+v", s.Tolerations)
	}
	if c := s.TopologySpreadConstraints; len(c) != 2 || c[0].MaxSkew != 1 || c[0].WhenUnsatisfiable != "" || c[1].WhenUnsatisfiable != ScheduleAnyway {
		t.Errorf("spread = %+v", c)
	}
	if p := s.Containers[0].Ports; p[0].HostPort != 18080 || p[1].HostPort != 18080 {
		t.Errorf("ports = %+v", p)
	}
	want := map[string]int64{"cpu": 600, "memory": 1 << 30, "example.com/gpu": 3, "example.com/fpga": 1}
	if got := s.ResourceRequests(); !reflect.DeepEqual(got, want) {
		t.Errorf("ResourceRequests = %v, want %v", got, want)
	}

	// Defaults fills whenUnsatisfiable, and the object still round-trips.
	d := o
	d.Defaults()
	if c := d.Deployment().Template.Spec.TopologySpreadConstraints; c[0].WhenUnsatisfiable != DoNotSchedule || c[1].WhenUnsatisfiable != ScheduleAnyway {
		t.Errorf("defaulted spread = %+v", c)
	}
	if o.Deployment().Template.Spec.TopologySpreadConstraints[0].WhenUnsatisfiable != "" {
		t.Error("Defaults changed the original's constraints")
	}
	if errs := Validate(d); errs != nil {
		t.Errorf("defaulted: %v", errs)
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeObject(b)
	if err != nil || !reflect.DeepEqual(back, d) {
		t.Errorf("round trip: %v\n got  %+v\n want %+v", err, back, d)
	}
}
