package projections_test

import (
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
)

// A quota counts its namespace's live pods and objects; a controller's pass
// charges what it plans and is refused past the limit in Kubernetes' words.
//
// Worked example: hard pods 3, requests.cpu 1; the Deployment's two pods of
// 250m each run, a third is being deleted: used pods 2, requests.cpu 500m.
// The pass plans a pod of 250m (pods 3, 750m), then refuses a fourth (pods
// would be 4 > 3).
func TestQuotaCountsAndRefuses(t *testing.T) {
	l := pt.NewLog()
	dep := pt.Deployment("default", "web", 3, "nginx")
	dep.Deployment().Template.Spec = pt.Requests(dep.Deployment().Template.Spec, "250m", "64Mi")
	a, b, c := pt.PodFor(dep, "dep-uid", "web-a", "a"), pt.PodFor(dep, "dep-uid", "web-b", "b"), pt.PodFor(dep, "dep-uid", "web-c", "c")
	f := projections.NewCluster()
	pt.ApplyAll(f, l.Accepted(pt.ResourceQuota("default", "compute", map[string]string{"pods": "3", "requests.cpu": "1", "count/deployments.apps": "1"}), "q-uid", 1),
		l.Accepted(dep, "dep-uid", 1), l.Planned(a), l.Planned(b), l.Planned(c), l.Deleted(c, "", 0, "scaled down"),
		l.Planned(pt.PodFor(pt.Deployment("other", "x", 1, "nginx"), "x-uid", "x-a", "xa")))

	st := f.Status(f.Workloads[projections.WorkloadKey("resourcequota", "default", "compute")])
	if st.Used["pods"] != 2 || st.Used["requests.cpu"] != 500 || st.Used["count/deployments.apps"] != 1 {
		t.Fatalf("used = %v, want pods 2, requests.cpu 500m, count/deployments.apps 1", st.Used)
	}
	q := f.QuotaPass()
	spec := dep.Deployment().Template.Spec
	if why := q.Pod("default", "web-d", spec); why != "" {
		t.Fatalf("third pod refused: %s", why)
	}
	want := `pods "web-e" is forbidden: exceeded quota: compute, requested: pods=1, used: pods=3, limited: pods=3`
	if why := q.Pod("default", "web-e", spec); why != want {
		t.Errorf("fourth pod: %q, want %q", why, want)
	}
	if why := q.Pod("other", "x-b", spec); why != "" {
		t.Errorf("a namespace without quota refused: %s", why)
	}
	k, _ := manifest.KindOfToken("deployment")
	if why, want := q.Object("default", k, "api"), `deployments.apps "api" is forbidden: exceeded quota: compute, requested: count/deployments.apps=1, used: count/deployments.apps=1, limited: count/deployments.apps=1`; why != want {
		t.Errorf("second deployment: %q, want %q", why, want)
	}
	noRequests := manifest.PodSpec{Containers: []manifest.Container{{Name: "app", Image: "nginx"}}}
	if why, want := f.QuotaPass().Pod("default", "bare", noRequests), `pods "bare" is forbidden: failed quota: compute: must specify requests.cpu`; why != want {
		t.Errorf("pod without requests: %q, want %q", why, want)
	}
	// The quota's record changes when a pod of its namespace does.
	f.ClearDirty()
	f.Apply(l.Status("n1", a, 1, events.PhaseFailed, false))
	if _, ok := f.Dirty.Workloads[projections.WorkloadKey("resourcequota", "default", "compute")]; !ok {
		t.Errorf("quota not dirty after a pod of its namespace changed: %v", f.Dirty)
	}
}
