package manifest

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// QuotaUsage is what a namespace uses, or an object would add, of what a
// ResourceQuota counts, in the units quotas compare: millicores for cpu,
// bytes for memory, a count for pods and count/<resource>.
type QuotaUsage map[string]int64

// Add adds u's charges to q.
func (q QuotaUsage) Add(u QuotaUsage) {
	for k, v := range u {
		q[k] = addSaturating(q[k], v)
	}
}

// quotaUnits is a quota value in QuotaUsage's units.
func quotaUnits(name string, v Quantity) int64 {
	if strings.HasSuffix(name, "cpu") {
		return v.MilliValue()
	}
	return v.Value()
}

// formatQuota writes a value in QuotaUsage's units as a quantity.
func formatQuota(name string, v int64) string {
	if strings.HasSuffix(name, "cpu") {
		if v%1000 == 0 {
			return fmt.Sprint(v / 1000)
		}
		return fmt.Sprintf("%dm", v)
	}
	if strings.HasSuffix(name, "memory") {
		for _, u := range []struct {
			s string
			n int64
		}{{"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}} {
			if v != 0 && v%u.n == 0 {
				return fmt.Sprintf("%d%s", v/u.n, u.s)
			}
		}
	}
	return fmt.Sprint(v)
}

// PodQuotaUsage is what one pod charges: one pod, and its effective
// requests (a limit stands for a missing request, as the scheduler counts
// it) and limits: the containers' sums, or an init container's if larger.
func PodQuotaUsage(s PodSpec) QuotaUsage {
	u := QuotaUsage{QuotaPods: 1, QuotaCountPrefix + "pods": 1}
	for _, res := range []string{ResourceCPU, ResourceMemory} {
		req := s.effective(func(c Container) int64 { return quotaUnits(res, c.Resources.request(res)) })
		u["requests."+res], u[res] = req, req
		u["limits."+res] = s.effective(func(c Container) int64 { return quotaUnits(res, c.Resources.Limits[res]) })
	}
	return u
}

// ObjectQuotaUsage is what one object of a resource charges
// (count/deployments.apps: 1).
func ObjectQuotaUsage(resource string) QuotaUsage {
	return QuotaUsage{QuotaCountPrefix + resource: 1}
}

// QuotaRefusal checks a charge against one ResourceQuota, given what the
// namespace uses already, and says why it is refused in Kubernetes' words
// ("" when it fits). what names the object: `pods "web-x"`.
//
// Worked example: hard pods 2, requests.cpu 1; used pods 2, requests.cpu
// 500m; a pod requesting 250m → `pods "web-x" is forbidden: exceeded
// quota: compute, requested: pods=1, used: pods=2, limited: pods=2`.
func QuotaRefusal(quota string, hard ResourceList, used, charge QuotaUsage, pod *PodSpec, what string) string {
	names := make([]string, 0, len(hard))
	for name := range hard {
		names = append(names, name)
	}
	sort.Strings(names)
	if pod != nil {
		var missing []string
		for _, name := range names {
			res, limit := strings.TrimPrefix(name, "requests."), strings.HasPrefix(name, "limits.")
			if limit {
				res = strings.TrimPrefix(name, "limits.")
			}
			if res != ResourceCPU && res != ResourceMemory {
				continue
			}
			for _, c := range slices.Concat(pod.Containers, pod.InitContainers) {
				_, hasLimit := c.Resources.Limits[res]
				_, hasRequest := c.Resources.Requests[res]
				if (limit && !hasLimit) || (!limit && !hasLimit && !hasRequest) {
					missing = append(missing, name)
					break
				}
			}
		}
		if len(missing) > 0 {
			return fmt.Sprintf("%s is forbidden: failed quota: %s: must specify %s", what, quota, strings.Join(missing, ","))
		}
	}
	var req, use, lim []string
	for _, name := range names {
		c, ok := charge[name]
		if !ok || c == 0 {
			continue
		}
		h := quotaUnits(name, hard[name])
		if addSaturating(used[name], c) > h {
			req = append(req, name+"="+formatQuota(name, c))
			use = append(use, name+"="+formatQuota(name, used[name]))
			lim = append(lim, name+"="+formatQuota(name, h))
		}
	}
	if len(req) == 0 {
		return ""
	}
	return fmt.Sprintf("%s is forbidden: exceeded quota: %s, requested: %s, used: %s, limited: %s",
		what, quota, strings.Join(req, ","), strings.Join(use, ","), strings.Join(lim, ","))
}

// ResourceQuota is the object's spec if it is a ResourceQuota, or nil.
func (o Object) ResourceQuota() *ResourceQuotaSpec { s, _ := o.Spec.(*ResourceQuotaSpec); return s }

// Namespace is the object's spec if it is a Namespace, or nil.
func (o Object) Namespace() *NamespaceSpec { s, _ := o.Spec.(*NamespaceSpec); return s }

// Namespace conditions, as Kubernetes names them.
const NamespaceContentRemaining = "NamespaceContentRemaining"

// DefaultNamespaces exist without being applied, as in Kubernetes.
var DefaultNamespaces = []string{DefaultNamespace, "kube-system", "kube-public"}

var namespaceKind = KindInfo{
	APIVersion: APICoreV1, Kind: KindNamespace, Token: "namespace", Plural: "namespaces", ShortNames: []string{"ns"},
	ClusterScoped: true, SpecOptional: true, Terminating: namespaceTerminating,
	spec:     specType[NamespaceSpec](),
	validate: func(*FieldErrors, Object) {}, // metadata only, checked for every kind
	Columns: []Column{
		{Header: "STATUS", Cell: func(_ Object, st WorkloadStatus, _ time.Time) string { return namespacePhase(st) }},
	},
	Describe: func(_ Object, st WorkloadStatus) []Field {
		fs := []Field{{"Status", namespacePhase(st)}}
		return append(fs, Field{"Resource Quota", "see gantry get resourcequota -n NAME"})
	},
	K8sStatus: func(_ Object, st WorkloadStatus) any {
		return struct {
			Phase string `json:"phase"`
		}{namespacePhase(st)}
	},
}

// namespacePhase is Active, or Terminating while its content is deleted.
func namespacePhase(st WorkloadStatus) string {
	if namespaceTerminating(st) {
		return "Terminating"
	}
	return "Active"
}

// namespaceTerminating reports a Namespace whose content is being deleted.
func namespaceTerminating(st WorkloadStatus) bool {
	c := st.Condition(NamespaceContentRemaining)
	return c != nil && c.Status == ConditionTrue
}

var resourceQuotaKind = KindInfo{
	APIVersion: APICoreV1, Kind: KindResourceQuota, Token: "resourcequota", Plural: "resourcequotas", ShortNames: []string{"quota"},
	spec: specType[ResourceQuotaSpec](),
	validate: func(errs *FieldErrors, o Object) {
		validateResourceQuotaSpec(errs, "spec", *o.ResourceQuota())
	},
	Columns: []Column{
		{Header: "REQUEST", Cell: func(o Object, st WorkloadStatus, _ time.Time) string {
			return quotaColumn(o.ResourceQuota().Hard, st.Used, func(n string) bool { return !strings.HasPrefix(n, "limits.") })
		}},
		{Header: "LIMIT", Cell: func(o Object, st WorkloadStatus, _ time.Time) string {
			return quotaColumn(o.ResourceQuota().Hard, st.Used, func(n string) bool { return strings.HasPrefix(n, "limits.") })
		}},
	},
	Describe: func(o Object, st WorkloadStatus) []Field {
		var fs []Field
		hard := o.ResourceQuota().Hard
		names := make([]string, 0, len(hard))
		for n := range hard {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fs = append(fs, Field{n, formatQuota(n, st.Used[n]) + " used of " + hard[n].String()})
		}
		return fs
	},
	K8sStatus: func(o Object, st WorkloadStatus) any {
		hard := o.ResourceQuota().Hard
		used := map[string]string{}
		for n := range hard {
			used[n] = formatQuota(n, st.Used[n])
		}
		return struct {
			Hard ResourceList      `json:"hard,omitempty"`
			Used map[string]string `json:"used,omitempty"`
		}{hard, used}
	},
}

// quotaColumn is kubectl's REQUEST or LIMIT column: "pods: 1/10, requests.cpu: 500m/2".
func quotaColumn(hard ResourceList, used QuotaUsage, take func(string) bool) string {
	names := make([]string, 0, len(hard))
	for n := range hard {
		if take(n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + ": " + formatQuota(n, used[n]) + "/" + hard[n].String()
	}
	return strings.Join(parts, ", ")
}
