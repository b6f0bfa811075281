package projections

import (
	"sort"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

// PodDisruptionBudgets: the fold computes each budget's status from the
// pods its selector matches in its namespace, and judges an eviction
// against every budget that covers the pod (Evict), for admission, as
// Kubernetes' disruption controller and eviction subresource do.

// noteBudget keeps the index of a namespace's budgets: a
// PodDisruptionBudget (not deleted) by key.
func (c *Cluster) noteBudget(w *Workload) { noteKind(c.budgets, "poddisruptionbudget", w) }

// touchBudgets marks a namespace's budgets changed: a pod or an object of
// the namespace changed, and with it perhaps what they count.
func (c *Cluster) touchBudgets(ns string, r events.Record) { c.touchAll(c.budgets[ns], r) }

// Budgets are the budgets of ns that cover a pod with these labels, by name.
func (c *Cluster) Budgets(ns string, labels map[string]string) []*Workload {
	var out []*Workload
	for key := range c.budgets[ns] {
		if w := c.Workloads[key]; w != nil && !w.Deleted {
			if b := w.Object.PodDisruptionBudget(); b != nil && b.Selects(labels) {
				out = append(out, w)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Healthy reports a pod a budget counts as healthy: running and ready, and
// no deletion decided.
func (p *Pod) Healthy() bool { return !p.Deleting && p.Ready() }

// Budget is a budget's status now. evicting are the uids of pods whose
// eviction is decided but not folded yet (on their way to the log): they
// count as gone, so that two evictions cannot both take the last
// disruption allowed, as Kubernetes lowers disruptionsAllowed when it
// evicts.
func (c *Cluster) Budget(w *Workload, evicting map[string]bool) manifest.BudgetStatus {
	spec := w.Object.PodDisruptionBudget()
	if spec == nil {
		return manifest.BudgetStatus{}
	}
	var healthy, pods int32
	scales := map[string]int32{} // controller key → pods it asks for
	for key := range c.nsPods[w.Namespace] {
		p := c.Pods[key]
		if p == nil || !spec.Selects(p.Labels) {
			continue
		}
		pods++
		if p.Healthy() && !evicting[p.UID] {
			healthy++
		}
		if spec.ScalesWithControllers() {
			k, n := c.controllerScale(p)
			scales[k] = n
		}
	}
	expected := pods
	if spec.ScalesWithControllers() {
		expected = 0
		for _, n := range scales {
			expected += n
		}
	}
	return spec.Status(healthy, expected)
}

// controllerScale is the controller a budget counts a pod under and how
// many pods it asks for: a Deployment's replicas for the pods of its
// ReplicaSets, a ReplicaSet's, a Job's parallelism, a DaemonSet's desired
// count; a pod without a controller (a bare Pod's, or one released) counts
// itself. Kubernetes refuses to compute a percentage over pods without a
// controller; here each expects one.
func (c *Cluster) controllerScale(p *Pod) (key string, n int32) {
	self := "pod/" + p.UID
	if p.Owner == nil || p.Owner.Kind == "pod" {
		return self, 1
	}
	w := c.ownerWorkload(p.Owner, p.Namespace)
	if w == nil {
		return self, 1
	}
	if o := c.OwnerOf(w); o != nil {
		w = o // a Deployment scales its ReplicaSets
	}
	key = "w/" + w.UID
	if k := w.Object.Info(); k != nil && k.Pods != nil {
		n, _ := k.Pods(w.Object)
		return key, n
	}
	return key, w.decided.Desired
}

// Eviction is the judgement of an eviction: allowed, or refused by a
// budget in Kubernetes' words.
type Eviction struct {
	Allowed bool
	// Budget (<ns>/<name>) refused it, with Message, and had Status then.
	Budget  string
	Message string
	Status  manifest.BudgetStatus
}

// Evict judges the eviction of p now, with Kubernetes' rules:
//
//   - a pod being deleted, one that has not started running (Pending) and
//     one that ended (Succeeded, Failed) may go whatever the budgets say;
//   - a healthy pod (running and ready) may go when every budget covering
//     it allows a disruption (its disruptionsAllowed > 0, counting the
//     evictions in evicting as done);
//   - a running pod that is not ready may go when every budget covering it
//     has its desired healthy pods, or says AlwaysAllow.
//
// Worked example: web-1, web-2 (node n1) and web-3 (n2), all healthy,
// budget minAvailable 2: evicting web-1 is allowed (3 healthy, 2 desired);
// with web-1 in evicting, web-2 is refused: "Cannot evict pod as it would
// violate the pod's disruption budget. The disruption budget web-pdb needs
// 2 healthy pods and has 2 currently".
func (c *Cluster) Evict(p *Pod, evicting map[string]bool) Eviction {
	switch ph := p.Phase(); {
	case p.Deleting, ph == events.PhasePending, ph == events.PhaseSucceeded, ph == events.PhaseFailed:
		return Eviction{Allowed: true}
	}
	healthy := p.Healthy() && !evicting[p.UID]
	for _, w := range c.Budgets(p.Namespace, p.Labels) {
		st := c.Budget(w, evicting)
		ok := st.DisruptionsAllowed > 0
		if !healthy {
			ok = w.Object.PodDisruptionBudget().UnhealthyPodEvictionPolicy == manifest.AlwaysAllow ||
				(st.ExpectedPods > 0 && st.CurrentHealthy >= st.DesiredHealthy)
		}
		if !ok {
			return Eviction{Budget: w.Namespace + "/" + w.Name, Message: manifest.EvictionRefusal(w.Name, st), Status: st}
		}
	}
	return Eviction{Allowed: true}
}
