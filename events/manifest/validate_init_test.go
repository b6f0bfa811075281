package manifest

import (
	"reflect"
	"strings"
	"testing"
)

const initPodYAML = `apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  initContainers:
  - name: prepare
    image: gantry.local/hello:v1
    command: [sh, -c, "echo ready > /work/index.html"]
    ports: [{containerPort: 9000}]
    resources: {requests: {cpu: 500m, memory: 64Mi}}
  - name: migrate
    image: gantry.local/hello:v1
    resources: {requests: {cpu: 200m}}
  containers:
  - name: web
    image: gantry.local/hello:v1
    resources: {requests: {cpu: 100m, memory: 128Mi}}
  - name: side
    image: gantry.local/hello:v1
    resources: {requests: {cpu: 300m}}
`

func TestValidateInitContainers(t *testing.T) {
	const i0 = "spec.initContainers[0]."
	tests := []struct {
		name   string
		mutate func(s *PodSpec)
		want   []string
	}{
		{"good", func(s *PodSpec) {}, nil},
		{"a name an app container has", func(s *PodSpec) { s.InitContainers[1].Name = "web" },
			[]string{`spec.initContainers[1].name: duplicate name "web" (also spec.containers[0])`}},
		{"two init containers of one name", func(s *PodSpec) { s.InitContainers[1].Name = "prepare" },
			[]string{`spec.initContainers[1].name: duplicate name "prepare" (also spec.initContainers[0])`}},
		{"probes and hooks", func(s *PodSpec) {
			p := &Probe{Exec: &ExecAction{Command: []string{"true"}}}
			s.InitContainers[0].LivenessProbe, s.InitContainers[0].ReadinessProbe, s.InitContainers[0].StartupProbe = p, p, p
			s.InitContainers[0].Lifecycle = &Lifecycle{PreStop: &LifecycleHandler{Sleep: &SleepAction{Seconds: 1}}}
		}, []string{
			i0 + "livenessProbe: forbidden: may not be set for init containers",
			i0 + "readinessProbe: forbidden: may not be set for init containers",
			i0 + "startupProbe: forbidden: may not be set for init containers",
			i0 + "lifecycle: forbidden: may not be set for init containers",
		}},
		{"the container's own checks", func(s *PodSpec) { s.InitContainers[0].Image, s.InitContainers[0].Ports[0].ContainerPort = "", 0 },
			[]string{i0 + "image: required", i0 + "ports[0].containerPort: must be between 1 and 65535, got 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := mustDecode(t, initPodYAML)
			tt.mutate(o.Pod())
			got := Validate(o)
			if !reflect.DeepEqual(got.Strings(), tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got.Strings(), "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

// A sidecar (an init container with restartPolicy Always) is refused by
// name, not silently run to completion.
func TestInitContainerSidecarNotSupported(t *testing.T) {
	y := strings.Replace(initPodYAML, "  - name: migrate\n", "  - name: migrate\n    restartPolicy: Always\n", 1)
	_, err := DecodeObject(docJSON(t, y))
	if err == nil || !strings.Contains(err.Error(), "spec.initContainers[1].restartPolicy: not supported yet") {
		t.Fatalf("got %v, want spec.initContainers[1].restartPolicy refused", err)
	}
}

// Defaults give the init containers' ports their protocol.
func TestInitContainerDefaults(t *testing.T) {
	o := mustDecode(t, initPodYAML)
	o.Defaults()
	if got := o.Pod().InitContainers[0].Ports[0].Protocol; got != ProtocolTCP {
		t.Errorf("protocol %q, want TCP", got)
	}
}

// The scheduler and quota count what Kubernetes counts: the larger of the
// containers' sum and the largest init container.
func TestEffectiveRequests(t *testing.T) {
	s := *mustDecode(t, initPodYAML).Pod()
	cpu, mem := s.Requests()
	if cpu != 500 || mem != 128<<20 { // max(100m+300m, 500m), max(128Mi, 64Mi)
		t.Errorf("Requests = %dm, %d; want 500m, 128Mi", cpu, mem)
	}
	if got := s.ResourceRequests(); got[ResourceCPU] != 500 || got[ResourceMemory] != 128<<20 {
		t.Errorf("ResourceRequests = %v", got)
	}
	u := PodQuotaUsage(s)
	if u["requests.cpu"] != 500 || u["requests.memory"] != 128<<20 {
		t.Errorf("PodQuotaUsage = %v", u)
	}
}
