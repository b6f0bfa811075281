package projections

import (
	"sort"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

// Quotas: a ResourceQuota caps what its namespace holds, charged where pods
// and objects are decided (the replica, job and cronjob services), as
// Kubernetes charges them at creation. The fold counts what each namespace
// uses; a controller checks each pod or object it is about to decide with
// a QuotaPass, which adds what the pass has decided so far, and refuses
// what would exceed a quota with Kubernetes' words.

// noteQuota keeps the index of a namespace's quotas: a ResourceQuota (not
// deleted) by key.
func (c *Cluster) noteQuota(w *Workload) { noteKind(c.quotas, "resourcequota", w) }

// touchQuotas marks a namespace's quotas changed: what they count changed.
func (c *Cluster) touchQuotas(ns string, r events.Record) { c.touchAll(c.quotas[ns], r) }

// noteKind keeps m, an index by namespace of the objects of one kind that
// are not deleted, by key, up to date with w.
func noteKind(m map[string]map[string]bool, kind string, w *Workload) {
	if w.Kind != kind {
		return
	}
	key := WorkloadKey(w.Kind, w.Namespace, w.Name)
	if w.Deleted {
		delete(m[w.Namespace], key)
		return
	}
	index(m, w.Namespace, key)
}

// touchAll marks the workloads of keys changed by r.
func (c *Cluster) touchAll(keys map[string]bool, r events.Record) {
	for key := range keys {
		mark(c.Dirty.Workloads, key, r)
	}
}

// Usage is what a namespace uses of what quotas count: its pods that are
// neither terminal nor being deleted, their requests and limits, and its
// objects by resource (count/deployments.apps). It walks the namespace's
// pods and objects; callers are the projector (for a quota record that
// changed) and a QuotaPass (once per namespace and pass).
func (c *Cluster) Usage(ns string) manifest.QuotaUsage {
	u := manifest.QuotaUsage{}
	for key := range c.nsPods[ns] {
		p := c.Pods[key]
		if p == nil || p.Deleting || p.Terminal() {
			continue
		}
		u.Add(manifest.PodQuotaUsage(p.Spec))
	}
	for key := range c.nsObjects[ns] {
		w := c.Workloads[key]
		if w == nil || w.Deleted {
			continue
		}
		if k := w.Object.Info(); k != nil {
			u.Add(manifest.ObjectQuotaUsage(k.QuotaResource()))
		}
	}
	return u
}

// AnyQuota reports whether any namespace has a ResourceQuota.
func (c *Cluster) AnyQuota() bool {
	for _, set := range c.quotas {
		if len(set) > 0 {
			return true
		}
	}
	return false
}

// QuotaPass checks what a controller is about to decide against its
// namespace's quotas, counting what the pass decided before it.
type QuotaPass struct {
	c    *Cluster
	used map[string]manifest.QuotaUsage // by namespace, computed on first use
}

// QuotaPass starts a controller's pass of quota checks.
func (c *Cluster) QuotaPass() *QuotaPass {
	return &QuotaPass{c: c, used: map[string]manifest.QuotaUsage{}}
}

// Pod charges a pod about to be planned; it returns why a quota refuses
// it ("" when every quota of the namespace lets it in, and then it is
// charged).
func (q *QuotaPass) Pod(ns, name string, spec manifest.PodSpec) string {
	return q.charge(ns, `pods "`+name+`"`, manifest.PodQuotaUsage(spec), &spec)
}

// Charge counts a pod decided before this pass whose plan the fold does
// not show yet (a controller's assumed plans), without checking it.
func (q *QuotaPass) Charge(ns string, spec manifest.PodSpec) {
	if len(q.c.quotas[ns]) == 0 {
		return
	}
	q.usage(ns).Add(manifest.PodQuotaUsage(spec))
}

// usage is what the namespace uses, as this pass counts it.
func (q *QuotaPass) usage(ns string) manifest.QuotaUsage {
	used := q.used[ns]
	if used == nil {
		used = q.c.Usage(ns)
		q.used[ns] = used
	}
	return used
}

// Object charges an object about to be decided (a Job a CronJob makes).
func (q *QuotaPass) Object(ns string, k *manifest.KindInfo, name string) string {
	return q.charge(ns, k.QuotaResource()+` "`+name+`"`, manifest.ObjectQuotaUsage(k.QuotaResource()), nil)
}

func (q *QuotaPass) charge(ns, what string, charge manifest.QuotaUsage, pod *manifest.PodSpec) string {
	if len(q.c.quotas[ns]) == 0 {
		return ""
	}
	used := q.usage(ns)
	for _, w := range q.c.sortedQuotas(ns) {
		if why := manifest.QuotaRefusal(w.Name, w.Object.ResourceQuota().Hard, used, charge, pod, what); why != "" {
			return why
		}
	}
	used.Add(charge)
	return ""
}

// sortedQuotas is a namespace's quotas by name.
func (c *Cluster) sortedQuotas(ns string) []*Workload {
	var out []*Workload
	for key := range c.quotas[ns] {
		if w := c.Workloads[key]; w != nil && w.Object.ResourceQuota() != nil {
			out = append(out, w)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// InNamespace returns the objects of a namespace that are not deleted, by
// key, and how many pods it holds.
func (c *Cluster) InNamespace(ns string) (objects []*Workload, pods int) {
	for key := range c.nsObjects[ns] {
		if w := c.Workloads[key]; w != nil && !w.Deleted {
			objects = append(objects, w)
		}
	}
	sort.Slice(objects, func(i, j int) bool {
		return WorkloadKey(objects[i].Kind, objects[i].Namespace, objects[i].Name) <
			WorkloadKey(objects[j].Kind, objects[j].Namespace, objects[j].Name)
	})
	for key := range c.nsPods[ns] {
		if c.Pods[key] != nil {
			pods++
		}
	}
	return objects, pods
}

// QuotaCondition is the ReplicaFailure condition (reason FailedCreate, as
// Kubernetes' ReplicaSet says a pod it could not create) when a quota
// refused what a controller would make, or its end when nothing was
// refused, if that changes what was decided.
func QuotaCondition(decided WorkloadStatus, refused string, now time.Time) (manifest.Condition, bool) {
	prev := decided.Condition(manifest.ReplicaFailure)
	switch {
	case refused != "" && (prev == nil || prev.Status != manifest.ConditionTrue || prev.Message != refused):
		return manifest.Condition{Type: manifest.ReplicaFailure, Status: manifest.ConditionTrue, Reason: "FailedCreate",
			Message: refused, LastTransitionTime: now}, true
	case refused == "" && prev != nil && prev.Status == manifest.ConditionTrue:
		return manifest.Condition{Type: manifest.ReplicaFailure, Status: manifest.ConditionFalse, Reason: "Created",
			Message: "created again", LastTransitionTime: now}, true
	}
	return manifest.Condition{}, false
}
