package admission_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
	"github.com/gantry-sh/gantry/services/admission"
)

// TestProbesBadInput: probes, hooks and grace periods are refused at
// admission, one reason per field, with the field's path; a probe's CEL
// check is compiled there, so one that does not compile, returns no bool
// or could run away is refused with CEL's reason.
func TestProbesBadInput(t *testing.T) {
	const c0 = "spec.template.spec.containers[0]."
	// deployment is a Deployment whose container "web" declares port
	// "http" and carries the given fields (JSON members).
	deployment := func(container, spec string) *events.IntentApplied {
		if spec != "" {
			spec += ","
		}
		return &events.IntentApplied{Kind: "deployment", Namespace: ns, Name: "x", Object: raw(`{
			"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},
			"spec":{"selector":{"matchLabels":{"app":"x"}},"template":{"metadata":{"labels":{"app":"x"}},
			"spec":{` + spec + `"containers":[{"name":"web","image":"gantry.local/hello:v1",
				"ports":[{"name":"http","containerPort":8080}]` + container + `}]}}}}`)}
	}
	cases := []struct {
		name      string
		intent    *events.IntentApplied
		want      []string // nil accepts; else the reasons, each a prefix
		wantExact bool
	}{
		{"good probes, hooks and check", deployment(`,
			"livenessProbe":{"httpGet":{"path":"/healthz","port":"http"},"periodSeconds":1},
			"readinessProbe":{"httpGet":{"port":8080,"cel":"response.status == 200 && has(response.json) && response.json.queue_depth < 1000"}},
			"startupProbe":{"tcpSocket":{"port":"http"},"failureThreshold":30},
			"lifecycle":{"preStop":{"sleep":{"seconds":5}}}`, `"terminationGracePeriodSeconds":10`), nil, false},
		{"a port out of range", deployment(`,"livenessProbe":{"tcpSocket":{"port":70000}}`, ""),
			[]string{c0 + "livenessProbe.tcpSocket.port: must be between 1 and 65535, got 70000"}, true},
		{"a port naming no declared port", deployment(`,"readinessProbe":{"httpGet":{"port":"metrics"}}`, ""),
			[]string{c0 + `readinessProbe.httpGet.port: "metrics" names no port of container web (its named ports: http)`}, true},
		{"a negative period", deployment(`,"livenessProbe":{"exec":{"command":["true"]},"periodSeconds":-1}`, ""),
			[]string{c0 + "livenessProbe.periodSeconds: must be >= 1, got -1"}, true},
		{"a negative grace period", deployment("", `"terminationGracePeriodSeconds":-1`),
			[]string{"spec.template.spec.terminationGracePeriodSeconds: must be between 0 and 86400 (24 h), got -1"}, true},
		{"two handlers", deployment(`,"livenessProbe":{"exec":{"command":["true"]},"grpc":{"port":9090}}`, ""),
			[]string{c0 + "livenessProbe.grpc: may not specify more than 1 handler type"}, true},
		{"no handler", deployment(`,"startupProbe":{"periodSeconds":5}`, ""),
			[]string{c0 + "startupProbe: required: must specify a handler type (exec, httpGet, tcpSocket or grpc)"}, true},
		{"a check that does not compile", deployment(`,"readinessProbe":{"httpGet":{"port":8080,"cel":"response.status =="}}`, ""),
			[]string{c0 + "readinessProbe.httpGet.cel: 1:19: Syntax error: "}, false},
		{"a check with an unknown field", deployment(`,"livenessProbe":{"httpGet":{"port":8080,"cel":"response.stauts == 200"}}`, ""),
			[]string{c0 + "livenessProbe.httpGet.cel: 1:9: undefined field 'stauts'"}, true},
		{"a check that returns no bool", deployment(`,"livenessProbe":{"httpGet":{"port":8080,"cel":"response.status"}}`, ""),
			[]string{c0 + "livenessProbe.httpGet.cel: probe check must return a bool, not int"}, true},
		{"a check that could run away", deployment(`,"livenessProbe":{"httpGet":{"port":8080,
			"cel":"response.json.items.all(a, response.json.items.all(b, a != b))"}}`, ""),
			[]string{c0 + "livenessProbe.httpGet.cel: probe check too expensive: estimated cost "}, false},
		{"a check on a hook", deployment(`,"lifecycle":{"preStop":{"httpGet":{"port":8080,"cel":"true"}}}`, ""),
			[]string{c0 + "lifecycle.preStop.httpGet.cel: not allowed on a lifecycle hook: only a probe's response is checked"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, reasons := admission.Check(tc.intent)
			ok := len(reasons) == len(tc.want)
			for i := 0; ok && i < len(reasons); i++ {
				ok = reasons[i] == tc.want[i] || (!tc.wantExact && strings.HasPrefix(reasons[i], tc.want[i]))
			}
			if !ok {
				t.Errorf("reasons\n  %s\nwant\n  %s", strings.Join(reasons, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

// TestProbeCheckPaths: a bad check is refused in the log, at its own path in
// each kind that has pods.
func TestProbeCheckPaths(t *testing.T) {
	withCheck := func(o manifest.Object, expr string) manifest.Object {
		spec, _ := o.PodSpec()
		cs := append([]manifest.Container(nil), spec.Containers...)
		cs[0].ReadinessProbe = &manifest.Probe{HTTPGet: &manifest.HTTPGetAction{Port: manifest.FromInt(8080), CEL: expr}}
		spec.Containers = cs
		return o
	}
	cases := []struct {
		name string
		obj  manifest.Object
		path string
	}{
		{"deployment", pt.Deployment(ns, "x", 1, "nginx:1"), "spec.template.spec.containers[0]"},
		{"daemonset", pt.DaemonSet(ns, "x", "nginx:1"), "spec.template.spec.containers[0]"},
		{"pod", pt.BarePod(ns, "p", "nginx:1"), "spec.containers[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.apply(w.l.IntentApplyObject(withCheck(tc.obj, "response.body")))
			ds := w.decide()
			if len(ds) != 1 {
				t.Fatalf("decisions:\n%s", show(ds))
			}
			want := []string{tc.path + ".readinessProbe.httpGet.cel: probe check must return a bool, not string"}
			if r := rejectedOf(t, ds[0]); !reflect.DeepEqual(r.Reasons, want) {
				t.Errorf("reasons = %q, want %q", r.Reasons, want)
			}
		})
	}
}

// TestProbeDefaultsStored: the accepted object carries Kubernetes' probe
// defaults, as `get -o yaml` shows them.
func TestProbeDefaultsStored(t *testing.T) {
	o := pt.BarePod(ns, "p", "nginx:1")
	o.Pod().Containers[0].LivenessProbe = &manifest.Probe{HTTPGet: &manifest.HTTPGetAction{Port: manifest.FromInt(80)}}
	w := newWorld(t)
	w.apply(w.l.IntentApplyObject(o))
	ds := w.decide()
	if len(ds) != 1 {
		t.Fatalf("decisions:\n%s", show(ds))
	}
	var stored struct {
		Spec struct {
			Containers []struct {
				LivenessProbe json.RawMessage `json:"livenessProbe"`
			} `json:"containers"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(acceptedOf(t, ds[0]).Object, &stored); err != nil {
		t.Fatal(err)
	}
	want := `{"httpGet":{"path":"/","port":80,"scheme":"HTTP"},"timeoutSeconds":1,"periodSeconds":10,"successThreshold":1,"failureThreshold":3}`
	if got := string(stored.Spec.Containers[0].LivenessProbe); got != want {
		t.Errorf("stored probe %s, want %s", got, want)
	}
}
