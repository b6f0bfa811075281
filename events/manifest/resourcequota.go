package manifest

import (
	"fmt"
	"strings"
)

// A ResourceQuota caps what a namespace may hold: the sum of its pods'
// requests and limits, and counts of objects by resource.

// Resource names a quota's spec.hard may cap besides count/<resource>.
const (
	QuotaPods           = "pods"
	QuotaRequestsCPU    = "requests.cpu"
	QuotaRequestsMemory = "requests.memory"
	QuotaLimitsCPU      = "limits.cpu"
	QuotaLimitsMemory   = "limits.memory"
	QuotaCountPrefix    = "count/"
)

var quotaResources = []string{
	QuotaPods, ResourceCPU, ResourceMemory, QuotaRequestsCPU, QuotaRequestsMemory, QuotaLimitsCPU, QuotaLimitsMemory,
}

// validateResourceQuotaSpec checks spec.hard: known names, quantities not
// below zero, whole numbers for counts. An entry is named the way
// Kubernetes names it, "spec.hard[requests.cpu]", since its key holds dots.
func validateResourceQuotaSpec(errs *FieldErrors, path string, s ResourceQuotaSpec) {
	hpath := fieldPath(path, "hard")
	for _, name := range sortedKeys(s.Hard) {
		p := keyPath(hpath, name)
		if msg := quotaResourceProblem(name); msg != "" {
			errs.add(p, msg)
			continue
		}
		switch q := s.Hard[name]; {
		case q.MilliValue() < 0:
			errs.addf(p, "must be >= 0, got %s", q)
		case isQuotaCount(name) && q.MilliValue()%1000 != 0:
			errs.addf(p, "must be a whole number for a count, got %s", q)
		}
	}
}

// keyPath names an entry of a map whose keys may hold dots:
// "spec.hard[requests.cpu]".
func keyPath(parent, key string) string {
	return parent + "[" + key + "]"
}

func isQuotaCount(name string) bool {
	return name == QuotaPods || strings.HasPrefix(name, QuotaCountPrefix)
}

// quotaResourceProblem checks a quota's resource name: one of
// quotaResources, or count/<plural>[.<group>] such as count/jobs.batch.
func quotaResourceProblem(name string) string {
	for _, r := range quotaResources {
		if name == r {
			return ""
		}
	}
	resource, ok := strings.CutPrefix(name, QuotaCountPrefix)
	if !ok {
		return fmt.Sprintf("unsupported resource %q: must be one of %s, or %s<resource> (e.g. count/jobs.batch)",
			name, strings.Join(quotaResources, ", "), QuotaCountPrefix)
	}
	plural, group, grouped := strings.Cut(resource, ".")
	switch {
	case plural == "" || len(plural) > maxLabelLength || !dns1123Label.MatchString(plural) || !isLetter(plural[0]):
		return fmt.Sprintf("invalid resource name %q: must be count/ then a resource's plural in lower case, with its group after a '.' unless it is core (e.g. count/pods, count/deployments.apps)", name)
	case grouped && (len(group) > maxSubdomainLength || !dns1123Subdomain.MatchString(group)):
		return fmt.Sprintf("invalid resource name %q: the group after the plural must be a DNS subdomain (e.g. count/jobs.batch)", name)
	}
	return ""
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' }
