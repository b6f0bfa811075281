package manifest

import (
	"reflect"
	"strings"
	"testing"
)

// Helpers shared by the tests of the workload kinds.

// testTemplate is a valid pod template labelled app: web, with two
// containers and a port without a protocol (which defaults fill).
func testTemplate(restartPolicy string) PodTemplateSpec {
	return PodTemplateSpec{
		Metadata: TemplateMeta{Labels: map[string]string{"app": "web", "tier": "frontend"}},
		Spec: PodSpec{
			RestartPolicy: restartPolicy,
			Containers: []Container{
				{Name: "web", Image: "nginx:1.27", Ports: []ContainerPort{{ContainerPort: 8080}}},
				{Name: "sidecar", Image: "busybox"},
			},
		},
	}
}

func testSelector() *LabelSelector {
	return &LabelSelector{MatchLabels: map[string]string{"app": "web"}}
}

// checkErrs compares what a validate function reported with want.
func checkErrs(t *testing.T, got FieldErrors, want []string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got.Strings(), want) {
		t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got.Strings(), "\n  "), strings.Join(want, "\n  "))
	}
}

func boolp(v bool) *bool    { return &v }
func int64p(v int64) *int64 { return &v }
func strp(v string) *string { return &v }
