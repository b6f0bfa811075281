package manifest

import "testing"

func TestValidateResourceQuotaSpec(t *testing.T) {
	q := MustQuantity
	tests := []struct {
		name string
		hard ResourceList
		want []string
	}{
		{"empty", nil, nil},
		{"every name", ResourceList{
			"pods": q("10"), "cpu": q("4"), "memory": q("8Gi"), "requests.cpu": q("500m"), "requests.memory": q("1Gi"),
			"limits.cpu": q("2"), "limits.memory": q("2Gi"), "count/pods": q("10"), "count/deployments.apps": q("3"),
			"count/replicasets.apps": q("3"), "count/daemonsets.apps": q("1"), "count/jobs.batch": q("1k"),
			"count/cronjobs.batch": q("0"), "count/widgets.example.com": q("2"),
		}, nil},
		{"unknown names", ResourceList{"gpu": q("1"), "requests.example.com/gpu": q("1"), "services": q("1")}, []string{
			`spec.hard[gpu]: unsupported resource "gpu": must be one of pods, cpu, memory, requests.cpu, requests.memory, limits.cpu, limits.memory, or count/<resource> (e.g. count/jobs.batch)`,
			`spec.hard[requests.example.com/gpu]: unsupported resource "requests.example.com/gpu": must be one of pods, cpu, memory, requests.cpu, requests.memory, limits.cpu, limits.memory, or count/<resource> (e.g. count/jobs.batch)`,
			`spec.hard[services]: unsupported resource "services": must be one of pods, cpu, memory, requests.cpu, requests.memory, limits.cpu, limits.memory, or count/<resource> (e.g. count/jobs.batch)`,
		}},
		{"bad counts", ResourceList{"count/": q("1"), "count/Jobs.batch": q("1"), "count/1jobs": q("1"), "count/jobs.": q("1"), "count/jobs.Batch": q("1")}, []string{
			`spec.hard[count/]: invalid resource name "count/": must be count/ then a resource's plural in lower case, with its group after a '.' unless it is core (e.g. count/pods, count/deployments.apps)`,
			`spec.hard[count/1jobs]: invalid resource name "count/1jobs": must be count/ then a resource's plural in lower case, with its group after a '.' unless it is core (e.g. count/pods, count/deployments.apps)`,
			`spec.hard[count/Jobs.batch]: invalid resource name "count/Jobs.batch": must be count/ then a resource's plural in lower case, with its group after a '.' unless it is core (e.g. count/pods, count/deployments.apps)`,
			`spec.hard[count/jobs.]: invalid resource name "count/jobs.": the group after the plural must be a DNS subdomain (e.g. count/jobs.batch)`,
			`spec.hard[count/jobs.Batch]: invalid resource name "count/jobs.Batch": the group after the plural must be a DNS subdomain (e.g. count/jobs.batch)`,
		}},
		{"negative", ResourceList{"requests.cpu": q("-1"), "memory": q("-1Mi"), "count/pods": q("-1")}, []string{
			"spec.hard[count/pods]: must be >= 0, got -1",
			"spec.hard[memory]: must be >= 0, got -1Mi",
			"spec.hard[requests.cpu]: must be >= 0, got -1",
		}},
		{"fractional counts", ResourceList{"pods": q("1.5"), "count/jobs.batch": q("500m"), "cpu": q("1.5")}, []string{
			"spec.hard[count/jobs.batch]: must be a whole number for a count, got 500m",
			"spec.hard[pods]: must be a whole number for a count, got 1.5",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var errs FieldErrors
			validateResourceQuotaSpec(&errs, "spec", ResourceQuotaSpec{Hard: tt.hard})
			checkErrs(t, errs, tt.want)
		})
	}
}
