package manifest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events/manifest"
)

// A RoleBinding decodes, validates, takes its subjects' default apiGroup
// and prints kubectl's columns and describe lines.
func TestRoleBindingColumnsAndDescribe(t *testing.T) {
	o, err := manifest.DecodeObject([]byte(`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding",
		"metadata":{"name":"read-pods","namespace":"default"},
		"subjects":[{"kind":"User","name":"jane"},{"kind":"Group","name":"devs"},{"kind":"User","name":"joe"}],
		"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"pod-reader"}}`))
	if err != nil {
		t.Fatal(err)
	}
	o.Defaults()
	if errs := manifest.Validate(o); len(errs) > 0 {
		t.Fatal(errs)
	}
	if g := o.Binding().Subjects[0].APIGroup; g != manifest.RBACGroup {
		t.Errorf("subject apiGroup = %q, want the default %q", g, manifest.RBACGroup)
	}
	var cells []string
	for _, c := range o.Info().Columns {
		cells = append(cells, c.Header+"="+c.Cell(o, manifest.WorkloadStatus{}, time.Time{}))
	}
	if got := strings.Join(cells, " "); got != "ROLE=Role/pod-reader USERS=jane, joe GROUPS=devs SERVICEACCOUNTS=" {
		t.Errorf("columns: %s", got)
	}
	var lines []string
	for _, f := range o.Info().Describe(o, manifest.WorkloadStatus{}) {
		lines = append(lines, f.Name+":"+f.Value)
	}
	if got := strings.Join(lines, "|"); got != "Role:|  Kind:Role|  Name:pod-reader|Subjects:|  User:jane|  Group:devs|  User:joe" {
		t.Errorf("describe: %s", got)
	}
}

// Each invalid field is named.
func TestRBACValidationNamesTheField(t *testing.T) {
	cases := []struct{ doc, want string }{
		{`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"r","namespace":"d"},"rules":[{"verbs":["get"],"resources":["pods"]}]}`,
			"rules[0].apiGroups: Required value"},
		{`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"r","namespace":"d"},"rules":[{"verbs":["get"],"apiGroups":[""]}]}`,
			"rules[0].resources: Required value"},
		{`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"r"},"rules":[{"verbs":[""],"apiGroups":[""],"resources":["pods"]}]}`,
			"rules[0].verbs[0]: Required value"},
		{`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"b","namespace":"d"},"subjects":[{"kind":"User"}],"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"r"}}`,
			"subjects[0].name: Required value"},
		{`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"b","namespace":"d"},"roleRef":{"kind":"Role","name":"r"}}`,
			`roleRef.apiGroup: Unsupported value: ""`},
		{`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"b","namespace":"d"},"subjects":[{"kind":"User","name":"u","namespace":"x"}],"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"r"}}`,
			"subjects[0].namespace: not supported yet"},
	}
	for _, c := range cases {
		o, err := manifest.DecodeObject([]byte(c.doc))
		if err == nil {
			o.Defaults()
			err = manifest.Validate(o).OrNil()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.doc, err, c.want)
		}
	}
}
