package manifest

import (
	"reflect"
	"strings"
	"testing"
)

const probePodYAML = `apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: web
    image: gantry.local/hello:v1
    ports:
    - {name: http, containerPort: 8080}
    - {name: metrics-x, containerPort: 9090}
  - name: side
    image: busybox
`

func TestValidateProbes(t *testing.T) {
	httpProbe := func() *Probe { return &Probe{HTTPGet: &HTTPGetAction{Path: "/healthz", Port: FromString("http")}} }
	const c0 = "spec.containers[0]."
	tests := []struct {
		name   string
		mutate func(s *PodSpec)
		want   []string
	}{
		{"every handler and field, good", func(s *PodSpec) {
			web := &s.Containers[0]
			web.LivenessProbe = &Probe{HTTPGet: &HTTPGetAction{Path: "/healthz?full=1", Port: FromInt(8080), Scheme: "HTTPS",
				HTTPHeaders: []HTTPHeader{{Name: "X-Probe", Value: "1\t2"}}, CEL: "response.status == 200"},
				InitialDelaySeconds: 5, PeriodSeconds: 3, TimeoutSeconds: 2, FailureThreshold: 5, SuccessThreshold: 1,
				TerminationGracePeriodSeconds: int64p(5)}
			web.ReadinessProbe = &Probe{TCPSocket: &TCPSocketAction{Port: FromString("metrics-x"), Host: "10.0.0.1"}, SuccessThreshold: 3}
			web.StartupProbe = &Probe{GRPC: &GRPCAction{Port: 9090, Service: new(string)}, FailureThreshold: 30, PeriodSeconds: 10}
			web.Lifecycle = &Lifecycle{PostStart: &LifecycleHandler{Exec: &ExecAction{Command: []string{"touch", "/ready"}}},
				PreStop: &LifecycleHandler{Sleep: &SleepAction{Seconds: 30}}}
			s.Containers[1].LivenessProbe = &Probe{Exec: &ExecAction{Command: []string{"true"}}}
			s.Containers[1].Lifecycle = &Lifecycle{PreStop: &LifecycleHandler{HTTPGet: &HTTPGetAction{Port: FromInt(80), Host: "side.example.com"}}}
			s.TerminationGracePeriodSeconds = int64p(30)
		}, nil},
		{"grace period 0 (kill at once)", func(s *PodSpec) { s.TerminationGracePeriodSeconds = int64p(0) }, nil},

		// handlers
		{"no handler", func(s *PodSpec) { s.Containers[0].LivenessProbe = &Probe{PeriodSeconds: 5} },
			[]string{c0 + "livenessProbe: required: must specify a handler type (exec, httpGet, tcpSocket or grpc)"}},
		{"two handlers", func(s *PodSpec) {
			p := httpProbe()
			p.TCPSocket = &TCPSocketAction{Port: FromInt(-1)}
			p.Exec = &ExecAction{}
			s.Containers[0].ReadinessProbe = p
		}, []string{
			c0 + "readinessProbe.exec.command: required", // the first is checked
			c0 + "readinessProbe.httpGet: may not specify more than 1 handler type",
			c0 + "readinessProbe.tcpSocket: may not specify more than 1 handler type",
		}},
		{"a hook with no handler", func(s *PodSpec) { s.Containers[0].Lifecycle = &Lifecycle{PreStop: &LifecycleHandler{}} },
			[]string{c0 + "lifecycle.preStop: required: must specify a handler type (exec, httpGet or sleep)"}},
		{"a hook with two handlers", func(s *PodSpec) {
			s.Containers[0].Lifecycle = &Lifecycle{PostStart: &LifecycleHandler{Exec: &ExecAction{Command: []string{"x"}}, Sleep: &SleepAction{Seconds: 1}}}
		}, []string{c0 + "lifecycle.postStart.sleep: may not specify more than 1 handler type"}},
		{"an empty lifecycle", func(s *PodSpec) { s.Containers[0].Lifecycle = &Lifecycle{} }, nil},
		{"exec without a command", func(s *PodSpec) {
			s.Containers[0].LivenessProbe = &Probe{Exec: &ExecAction{}}
			s.Containers[0].Lifecycle = &Lifecycle{PreStop: &LifecycleHandler{Exec: &ExecAction{Command: []string{}}}}
		}, []string{c0 + "livenessProbe.exec.command: required", c0 + "lifecycle.preStop.exec.command: required"}},

		// ports
		{"ports out of range", func(s *PodSpec) {
			s.Containers[0].LivenessProbe = &Probe{HTTPGet: &HTTPGetAction{Port: FromInt(0)}}
			s.Containers[0].ReadinessProbe = &Probe{TCPSocket: &TCPSocketAction{Port: FromInt(65536)}}
			s.Containers[0].StartupProbe = &Probe{GRPC: &GRPCAction{Port: -1}}
		}, []string{
			c0 + "livenessProbe.httpGet.port: must be between 1 and 65535, got 0",
			c0 + "readinessProbe.tcpSocket.port: must be between 1 and 65535, got 65536",
			c0 + "startupProbe.grpc.port: must be between 1 and 65535, got -1",
		}},
		{"a port name of no port of the container", func(s *PodSpec) {
			s.Containers[0].LivenessProbe = &Probe{HTTPGet: &HTTPGetAction{Port: FromString("metrics")}}
			s.Containers[1].ReadinessProbe = &Probe{TCPSocket: &TCPSocketAction{Port: FromString("http")}}
		}, []string{
			c0 + `livenessProbe.httpGet.port: "metrics" names no port of container web (its named ports: http, metrics-x)`,
			`spec.containers[1].readinessProbe.tcpSocket.port: "http" names no port of container side (it has no named ports)`,
		}},
		{"bad port names", func(s *PodSpec) {
			s.Containers[0].LivenessProbe = &Probe{HTTPGet: &HTTPGetAction{Port: FromString("8080")}}
			s.Containers[0].ReadinessProbe = &Probe{TCPSocket: &TCPSocketAction{Port: FromString("")}}
			s.Containers[0].Lifecycle = &Lifecycle{PreStop: &LifecycleHandler{HTTPGet: &HTTPGetAction{Port: FromString("a-very-long-port-name")}}}
		}, []string{
			c0 + `livenessProbe.httpGet.port: invalid value "8080": must contain at least one letter`,
			c0 + "readinessProbe.tcpSocket.port: required",
			c0 + `lifecycle.preStop.httpGet.port: invalid value "a-very-long-port-name": must be no more than 15 characters`,
		}},

		// httpGet
		{"httpGet path, scheme, host and headers", func(s *PodSpec) {
			s.Containers[0].LivenessProbe = &Probe{HTTPGet: &HTTPGetAction{Path: "healthz", Port: FromString("http"), Scheme: "http", Host: "Bad_Host",
				HTTPHeaders: []HTTPHeader{{Name: "X_Probe"}, {Name: ""}, {Name: "X-Ok", Value: "a\r\nInjected: 1"}}}}
			s.Containers[0].ReadinessProbe = &Probe{HTTPGet: &HTTPGetAction{Path: "/a b", Port: FromString("http")}}
		}, []string{
			c0 + `livenessProbe.httpGet.path: invalid value "healthz": must start with "/"`,
			c0 + `livenessProbe.httpGet.host: invalid value "Bad_Host": must be an IP address or a DNS name (lower-case letters, digits, '-' and '.')`,
			c0 + `livenessProbe.httpGet.scheme: unsupported value "http": must be one of HTTP, HTTPS`,
			c0 + `livenessProbe.httpGet.httpHeaders[0].name: invalid value "X_Probe": must consist of letters, digits and '-' (e.g. "X-Header-Name")`,
			c0 + "livenessProbe.httpGet.httpHeaders[1].name: required",
			c0 + `livenessProbe.httpGet.httpHeaders[2].value: invalid value "a\r\nInjected: 1": must not contain control characters`,
			c0 + `readinessProbe.httpGet.path: invalid value "/a b": must not contain spaces or control characters`,
		}},
		{"a CEL check on a hook", func(s *PodSpec) {
			s.Containers[0].Lifecycle = &Lifecycle{PreStop: &LifecycleHandler{HTTPGet: &HTTPGetAction{Port: FromInt(8080), CEL: "true"}}}
		}, []string{c0 + "lifecycle.preStop.httpGet.cel: not allowed on a lifecycle hook: only a probe's response is checked"}},
		{"a tcpSocket host", func(s *PodSpec) {
			s.Containers[0].LivenessProbe = &Probe{TCPSocket: &TCPSocketAction{Port: FromInt(1), Host: "::1"}}
			s.Containers[0].ReadinessProbe = &Probe{TCPSocket: &TCPSocketAction{Port: FromInt(1), Host: "a..b"}}
		}, []string{c0 + `readinessProbe.tcpSocket.host: invalid value "a..b": must be an IP address or a DNS name (lower-case letters, digits, '-' and '.')`}},

		// timing
		{"negative timing", func(s *PodSpec) {
			p := httpProbe()
			p.InitialDelaySeconds, p.TimeoutSeconds, p.PeriodSeconds, p.SuccessThreshold, p.FailureThreshold = -1, -2, -3, -4, -5
			s.Containers[0].ReadinessProbe = p
		}, []string{
			c0 + "readinessProbe.initialDelaySeconds: must be between 0 and 86400, got -1",
			c0 + "readinessProbe.timeoutSeconds: must be >= 1, got -2",
			c0 + "readinessProbe.periodSeconds: must be >= 1, got -3",
			c0 + "readinessProbe.successThreshold: must be >= 1, got -4",
			c0 + "readinessProbe.failureThreshold: must be >= 1, got -5",
		}},
		{"zero timing is the default", func(s *PodSpec) { s.Containers[0].LivenessProbe = httpProbe() }, nil},
		{"timing too large", func(s *PodSpec) {
			p := httpProbe()
			p.InitialDelaySeconds, p.TimeoutSeconds, p.PeriodSeconds, p.SuccessThreshold, p.FailureThreshold = 86401, 3601, 10000, 10001, 1<<31-1
			s.Containers[0].ReadinessProbe = p
		}, []string{
			c0 + "readinessProbe.initialDelaySeconds: must be between 0 and 86400, got 86401",
			c0 + "readinessProbe.timeoutSeconds: must be <= 3600, got 3601",
			c0 + "readinessProbe.periodSeconds: must be <= 3600, got 10000",
			c0 + "readinessProbe.successThreshold: must be <= 10000, got 10001",
			c0 + "readinessProbe.failureThreshold: must be <= 10000, got 2147483647",
		}},
		{"liveness and startup succeed once", func(s *PodSpec) {
			s.Containers[0].LivenessProbe, s.Containers[0].StartupProbe = httpProbe(), httpProbe()
			s.Containers[0].LivenessProbe.SuccessThreshold, s.Containers[0].StartupProbe.SuccessThreshold = 2, 3
		}, []string{
			c0 + "livenessProbe.successThreshold: must be 1 for a livenessProbe, got 2",
			c0 + "startupProbe.successThreshold: must be 1 for a startupProbe, got 3",
		}},

		// grace periods
		{"negative grace period", func(s *PodSpec) { s.TerminationGracePeriodSeconds = int64p(-1) },
			[]string{"spec.terminationGracePeriodSeconds: must be between 0 and 86400 (24 h), got -1"}},
		{"grace period over a day", func(s *PodSpec) { s.TerminationGracePeriodSeconds = int64p(86401) },
			[]string{"spec.terminationGracePeriodSeconds: must be between 0 and 86400 (24 h), got 86401"}},
		{"a probe's grace period", func(s *PodSpec) {
			s.Containers[0].LivenessProbe, s.Containers[0].ReadinessProbe, s.Containers[0].StartupProbe = httpProbe(), httpProbe(), httpProbe()
			s.Containers[0].LivenessProbe.TerminationGracePeriodSeconds = int64p(0)
			s.Containers[0].ReadinessProbe.TerminationGracePeriodSeconds = int64p(10)
			s.Containers[0].StartupProbe.TerminationGracePeriodSeconds = int64p(86401)
		}, []string{
			c0 + "livenessProbe.terminationGracePeriodSeconds: must be between 1 and 86400 (24 h), got 0",
			c0 + "readinessProbe.terminationGracePeriodSeconds: must not be set for readinessProbes",
			c0 + "startupProbe.terminationGracePeriodSeconds: must be between 1 and 86400 (24 h), got 86401",
		}},
		{"sleep within the default grace period", func(s *PodSpec) {
			s.Containers[0].Lifecycle = &Lifecycle{PreStop: &LifecycleHandler{Sleep: &SleepAction{Seconds: 31}},
				PostStart: &LifecycleHandler{Sleep: &SleepAction{Seconds: 0}}}
		}, []string{
			c0 + "lifecycle.postStart.sleep.seconds: must be >= 1, got 0",
			c0 + "lifecycle.preStop.sleep.seconds: must be no more than the pod's terminationGracePeriodSeconds (30), got 31",
		}},
		{"sleep within the pod's grace period", func(s *PodSpec) {
			s.TerminationGracePeriodSeconds = int64p(5)
			s.Containers[0].Lifecycle = &Lifecycle{PreStop: &LifecycleHandler{Sleep: &SleepAction{Seconds: 6}}}
		}, []string{c0 + "lifecycle.preStop.sleep.seconds: must be no more than the pod's terminationGracePeriodSeconds (5), got 6"}},
		{"sleep not judged by a bad grace period", func(s *PodSpec) {
			s.TerminationGracePeriodSeconds = int64p(-5)
			s.Containers[0].Lifecycle = &Lifecycle{PreStop: &LifecycleHandler{Sleep: &SleepAction{Seconds: 6}}}
		}, []string{"spec.terminationGracePeriodSeconds: must be between 0 and 86400 (24 h), got -5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := mustDecode(t, probePodYAML)
			tt.mutate(o.Pod())
			got := Validate(o)
			if !reflect.DeepEqual(got.Strings(), tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got.Strings(), "\n  "), strings.Join(tt.want, "\n  "))
			}
			// Defaults fill what is unset and make nothing valid invalid.
			o.Defaults()
			if again := Validate(o); len(tt.want) == 0 && again != nil {
				t.Errorf("defaulted: %v", again)
			}
		})
	}
}

// The paths name the pod template's fields in a workload.
func TestValidateProbesInATemplate(t *testing.T) {
	o := mustDecode(t, goodDeploymentYAML)
	o.Deployment().Template.Spec.Containers[0].LivenessProbe = &Probe{HTTPGet: &HTTPGetAction{Port: FromString("metrics")}}
	o.Deployment().Template.Spec.TerminationGracePeriodSeconds = int64p(-1)
	want := []string{
		"spec.template.spec.terminationGracePeriodSeconds: must be between 0 and 86400 (24 h), got -1",
		`spec.template.spec.containers[0].livenessProbe.httpGet.port: "metrics" names no port of container web (its named ports: http)`,
	}
	if got := Validate(o).Strings(); !reflect.DeepEqual(got, want) {
		t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// A manifest as a user writes it, Kubernetes' documentation's examples
// included, decodes, validates and takes Kubernetes' defaults.
func TestProbesDecodeAndDefault(t *testing.T) {
	const y = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 60
      containers:
      - name: web
        image: gantry.local/hello:v1
        ports: [{name: http, containerPort: 8080}]
        livenessProbe:
          httpGet:
            path: /healthz
            port: http
            httpHeaders: [{name: Custom-Header, value: Awesome}]
          initialDelaySeconds: 3
          periodSeconds: 3
        readinessProbe:
          httpGet: {port: 8080, cel: "response.status == 200 && response.body == 'ok'"}
        startupProbe:
          tcpSocket: {port: http}
          failureThreshold: 30
          periodSeconds: 10
        lifecycle:
          postStart:
            exec: {command: [/bin/sh, -c, "echo Hello > /usr/share/message"]}
          preStop:
            httpGet: {path: /drain, port: 8080}
      - name: grpc
        image: registry.k8s.io/etcd:3.5.1-0
        livenessProbe:
          grpc: {port: 2379, service: ""}
        lifecycle:
          preStop:
            sleep: {seconds: 5}
`
	o := mustDecode(t, y)
	if errs := Validate(o); errs != nil {
		t.Fatalf("Validate: %v", errs)
	}
	shared := o.Deployment().Template.Spec.Containers
	o.Defaults()
	web := o.Deployment().Template.Spec.Containers[0]
	if lp := web.LivenessProbe; lp.PeriodSeconds != 3 || lp.TimeoutSeconds != 1 || lp.SuccessThreshold != 1 || lp.FailureThreshold != 3 ||
		lp.HTTPGet.Scheme != "HTTP" || lp.HTTPGet.Path != "/healthz" {
		t.Errorf("liveness defaulted to %+v %+v", lp, lp.HTTPGet)
	}
	if rp := web.ReadinessProbe; rp.PeriodSeconds != 10 || rp.HTTPGet.Path != "/" {
		t.Errorf("readiness defaulted to %+v %+v", rp, rp.HTTPGet)
	}
	if h := web.Lifecycle.PreStop.HTTPGet; h.Scheme != "HTTP" || h.Path != "/drain" {
		t.Errorf("preStop defaulted to %+v", h)
	}
	if shared[0].LivenessProbe.TimeoutSeconds != 0 || shared[0].ReadinessProbe.HTTPGet.Path != "" || shared[0].Lifecycle.PreStop.HTTPGet.Scheme != "" {
		t.Error("Defaults changed a shared probe")
	}
	if errs := Validate(o); errs != nil {
		t.Errorf("defaulted: %v", errs)
	}
	if g := o.Deployment().Template.Spec.GracePeriodSeconds(); g != 60 {
		t.Errorf("grace period %d", g)
	}
	again := o
	again.Defaults()
	if !reflect.DeepEqual(again, o) {
		t.Error("Defaults is not idempotent")
	}
	if port, ok := web.Port(web.LivenessProbe.HTTPGet.Port); port != 8080 || !ok {
		t.Errorf("Port(http) = %d, %v", port, ok)
	}
	want := []ProbeCheck{{Path: "spec.template.spec.containers[0].readinessProbe.httpGet.cel", Expr: "response.status == 200 && response.body == 'ok'"}}
	if got := o.ProbeChecks(); !reflect.DeepEqual(got, want) {
		t.Errorf("ProbeChecks = %+v", got)
	}
}
