package manifest

import (
	"strings"
	"testing"
	"time"
)

func TestValidatePodDisruptionBudget(t *testing.T) {
	tests := []struct {
		name string
		spec string // the lines under spec:
		want []string
	}{
		{"minAvailable", "selector: {matchLabels: {app: web}}\n  minAvailable: 2", nil},
		{"maxUnavailable percentage", "selector: {matchLabels: {app: web}}\n  maxUnavailable: \"25%\"", nil},
		{"zero and 100%", "selector: {}\n  minAvailable: \"100%\"", nil},
		{"policy", "selector: {matchLabels: {app: web}}\n  maxUnavailable: 0\n  unhealthyPodEvictionPolicy: AlwaysAllow", nil},
		{"both", "selector: {matchLabels: {app: web}}\n  minAvailable: 2\n  maxUnavailable: 1", []string{
			"spec.maxUnavailable: must not be set with spec.minAvailable: a budget has one of minAvailable and maxUnavailable",
		}},
		{"neither", "selector: {matchLabels: {app: web}}", []string{
			"spec: one of minAvailable and maxUnavailable is required",
		}},
		{"negative", "selector: {matchLabels: {app: web}}\n  minAvailable: -1", []string{
			"spec.minAvailable: must be >= 0, got -1",
		}},
		{"negative maxUnavailable", "selector: {matchLabels: {app: web}}\n  maxUnavailable: -2", []string{
			"spec.maxUnavailable: must be >= 0, got -2",
		}},
		{"over 100%", "selector: {matchLabels: {app: web}}\n  maxUnavailable: \"150%\"", []string{
			`spec.maxUnavailable: must be no more than 100%, got "150%"`,
		}},
		{"not a percentage", "selector: {matchLabels: {app: web}}\n  minAvailable: half", []string{
			`spec.minAvailable: invalid value "half": must be a whole number or a percentage (e.g. 2 or "50%")`,
		}},
		{"negative percentage", "selector: {matchLabels: {app: web}}\n  minAvailable: \"-5%\"", []string{
			`spec.minAvailable: invalid value "-5%": must be a whole number or a percentage (e.g. 2 or "50%")`,
		}},
		{"no selector", "minAvailable: 1", []string{
			"spec.selector: required: a PodDisruptionBudget without a selector covers no pod ({} covers every pod of its namespace)",
		}},
		{"bad selector", "selector: {matchLabels: {\"-app\": web}, matchExpressions: [{key: tier, operator: Near, values: [a]}]}\n  minAvailable: 1", []string{
			`spec.selector.matchLabels: invalid key "-app": name part must consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit (e.g. "app.kubernetes.io/name")`,
			"spec.selector.matchExpressions[0].operator: must be one of In, NotIn, Exists, DoesNotExist",
		}},
		{"bad policy", "selector: {matchLabels: {app: web}}\n  minAvailable: 1\n  unhealthyPodEvictionPolicy: Never", []string{
			`spec.unhealthyPodEvictionPolicy: unsupported value "Never": must be IfHealthyBudget or AlwaysAllow`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := mustDecode(t, "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: web-pdb\nspec:\n  "+tt.spec+"\n")
			o.Defaults()
			checkErrs(t, Validate(o), tt.want)
		})
	}
}

// A percentage rounds up, for minAvailable and maxUnavailable alike, and a
// budget that expects no pod allows no disruption, as Kubernetes computes
// a budget's status.
func TestBudgetStatus(t *testing.T) {
	i, s := FromInt, FromString
	tests := []struct {
		name              string
		spec              PodDisruptionBudgetSpec
		healthy, expected int32
		want              BudgetStatus
	}{
		{"minAvailable 2 of 3", PodDisruptionBudgetSpec{MinAvailable: ptr(i(2))}, 3, 3, BudgetStatus{3, 2, 1, 3}},
		{"minAvailable 2, one gone", PodDisruptionBudgetSpec{MinAvailable: ptr(i(2))}, 2, 3, BudgetStatus{2, 2, 0, 3}},
		{"minAvailable 50% of 3 rounds up", PodDisruptionBudgetSpec{MinAvailable: ptr(s("50%"))}, 3, 3, BudgetStatus{3, 2, 1, 3}},
		{"minAvailable 100%", PodDisruptionBudgetSpec{MinAvailable: ptr(s("100%"))}, 4, 4, BudgetStatus{4, 4, 0, 4}},
		{"maxUnavailable 1 of 3", PodDisruptionBudgetSpec{MaxUnavailable: ptr(i(1))}, 3, 3, BudgetStatus{3, 2, 1, 3}},
		{"maxUnavailable 1, one being replaced", PodDisruptionBudgetSpec{MaxUnavailable: ptr(i(1))}, 2, 3, BudgetStatus{2, 2, 0, 3}},
		{"maxUnavailable 34% of 3 rounds up", PodDisruptionBudgetSpec{MaxUnavailable: ptr(s("34%"))}, 3, 3, BudgetStatus{3, 1, 2, 3}},
		{"maxUnavailable above expected", PodDisruptionBudgetSpec{MaxUnavailable: ptr(i(5))}, 2, 3, BudgetStatus{2, 0, 2, 3}},
		{"minAvailable 0", PodDisruptionBudgetSpec{MinAvailable: ptr(i(0))}, 1, 1, BudgetStatus{1, 0, 1, 1}},
		{"nothing expected", PodDisruptionBudgetSpec{MinAvailable: ptr(i(0))}, 0, 0, BudgetStatus{0, 0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.spec.Status(tt.healthy, tt.expected); got != tt.want {
				t.Errorf("Status(%d, %d) = %+v, want %+v", tt.healthy, tt.expected, got, tt.want)
			}
		})
	}
}

// get shows kubectl's columns, N/A for the bound not set; describe and
// -o yaml show the status the fold computed.
func TestPodDisruptionBudgetColumns(t *testing.T) {
	o := mustDecode(t, "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: web-pdb\nspec:\n  selector: {matchLabels: {app: web}}\n  minAvailable: \"50%\"\n")
	o.Defaults()
	st := WorkloadStatus{Budget: &BudgetStatus{CurrentHealthy: 3, DesiredHealthy: 2, DisruptionsAllowed: 1, ExpectedPods: 3}}
	k := o.Info()
	var cells []string
	for _, c := range k.Columns {
		cells = append(cells, c.Header+"="+c.Cell(o, st, time.Time{}))
	}
	if got, want := strings.Join(cells, " "), "MIN AVAILABLE=50% MAX UNAVAILABLE=N/A ALLOWED DISRUPTIONS=1"; got != want {
		t.Errorf("columns %q, want %q", got, want)
	}
	var fs []string
	for _, f := range k.Describe(o, st) {
		fs = append(fs, f.Name+": "+f.Value)
	}
	want := "Min available: 50%|Selector: app=web|Unhealthy Pod Eviction Policy: IfHealthyBudget|Allowed disruptions: 1|Current: 3|Desired: 2|Total: 3"
	if got := strings.Join(fs, "|"); got != want {
		t.Errorf("describe %q, want %q", got, want)
	}
	if k.ShortNames[0] != "pdb" || k.Plural != "poddisruptionbudgets" {
		t.Errorf("names %v %s", k.ShortNames, k.Plural)
	}
}
