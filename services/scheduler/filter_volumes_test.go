package scheduler

import (
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
)

type claimTable map[string]ClaimState

func (t claimTable) Claim(ns, name string) ClaimState { return t[ns+"/"+name] }

func mounts(claims ...string) podOpt {
	return spec(func(s *manifest.PodSpec) {
		for _, c := range claims {
			s.Volumes = append(s.Volumes, manifest.Volume{Name: c,
				PersistentVolumeClaim: &manifest.PersistentVolumeClaimVolumeSource{ClaimName: c}})
		}
	})
}

func TestVolumeBindingFilter(t *testing.T) {
	n1, n2 := testNode("n1", 1000, 1<<30, 0), testNode("n2", 1000, 1<<30, 0)
	claims := claimTable{
		"default/local":  {Exists: true, Bound: true, Node: "n1"},
		"default/shared": {Exists: true, Bound: true},
		"default/fresh":  {Exists: true},
		"default/taken":  {Exists: true, On: map[*NodeState]int{n1: 1}},
		"default/static": {Exists: true, Immediate: true},
	}
	f := VolumeBinding{Claims: claims}
	if f.Name() != NameVolumeBinding || f.Relevant(testPod()) || !f.Relevant(testPod(mounts("local"))) {
		t.Errorf("name %q; relevant only with claims", f.Name())
	}
	cases := []struct {
		name   string
		claims []string
		n      *NodeState
		want   string
	}{
		{"bound to this node", []string{"local"}, n1, ""},
		{"bound to another node", []string{"local"}, n2, "node(s) had volume node affinity conflict"},
		{"bound, any node", []string{"shared"}, n2, ""},
		{"not bound, unused", []string{"fresh"}, n2, ""},
		{"not bound, its first pod on n1: n1", []string{"taken"}, n1, ""},
		{"not bound, its first pod on n1: not n2", []string{"taken"}, n2, "node(s) had volume node affinity conflict"},
		{"immediate, not bound", []string{"static"}, n1, "pod has unbound immediate PersistentVolumeClaims"},
		{"missing", []string{"local", "nope"}, n1, `persistentvolumeclaim "nope" not found`},
	}
	for _, tc := range cases {
		if got := f.Filter(testPod(mounts(tc.claims...)), tc.n); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// Through the whole scheduler: a pod naming a claim that does not exist is
// unschedulable with Kubernetes' reason; two pods of one claim not bound
// yet go to one node, the second following the first in the same pass;
// a pod of a claim bound to n2's volume goes to n2.
func TestSchedulerPlacesPodsWithTheirClaims(t *testing.T) {
	l := pt.NewLog()
	s := New()
	for _, n := range []string{"n1", "n2", "n3"} {
		s.Apply(l.Registered(pt.NodeInfo(n, 4000, 8<<30, 110)))
		s.Apply(l.Heartbeat(pt.NodeInfo(n, 4000, 8<<30, 110)))
	}
	claim := func(name string) {
		cls := manifest.DefaultStorageClass
		o := manifest.Object{APIVersion: "v1", Kind: manifest.KindPersistentVolumeClaim, Metadata: manifest.ObjectMeta{Name: name, Namespace: "default"},
			Spec: &manifest.PersistentVolumeClaimSpec{AccessModes: []string{manifest.ReadWriteOnce}, StorageClassName: &cls,
				Resources: manifest.VolumeResourceRequirements{Requests: manifest.ResourceList{"storage": manifest.MustQuantity("1Gi")}}}}
		s.Apply(l.Accepted(o, name+"-uid", 1))
	}
	sc := manifest.DefaultStorageClassObject()
	s.Apply(l.Append(events.AdmissionSubject(events.ClusterScope, "storageclass", "local-path"), &events.AdmissionAccepted{Op: events.OpApply,
		Kind: "storageclass", Namespace: events.ClusterScope, Name: "local-path", UID: "sc", Generation: 1, Object: pt.Canonical(sc)}))
	claim("data")
	claim("bound")
	s.Apply(l.Append(events.StorageSubject("pv-b"), &events.VolumeDecided{Volume: "pv-b", VolumeUID: "pv-b-uid", Phase: manifest.VolumeBound,
		ClaimNamespace: "default", ClaimName: "bound", ClaimUID: "bound-uid", Node: "n2"}))
	pod := func(name string, claims ...string) events.PodPlanned {
		p := events.PodPlanned{Namespace: "default", Name: name, UID: name + "-uid",
			Spec: manifest.PodSpec{Containers: []manifest.Container{{Name: "a", Image: "x"}}}}
		for _, c := range claims {
			p.Spec.Volumes = append(p.Spec.Volumes, manifest.Volume{Name: c, PersistentVolumeClaim: &manifest.PersistentVolumeClaimVolumeSource{ClaimName: c}})
		}
		s.Apply(l.Planned(p))
		return p
	}
	pod("a", "data")
	pod("b", "data")
	pod("c", "bound")
	pod("d", "missing")
	nodes, msgs := map[string]string{}, map[string]string{}
	for _, d := range s.Decide(l.Now) {
		switch e := d.Event.(type) {
		case *events.PodBound:
			nodes[e.Pod.Name] = e.Node
		case *events.PodUnschedulable:
			msgs[e.Name] = e.Message
		}
	}
	if nodes["a"] == "" || nodes["a"] != nodes["b"] {
		t.Errorf("the pods of one claim on %q and %q, want one node", nodes["a"], nodes["b"])
	}
	if nodes["c"] != "n2" {
		t.Errorf("the pod of a claim bound on n2 went to %q", nodes["c"])
	}
	if m := msgs["d"]; m != `0/3 nodes are available: 3 persistentvolumeclaim "missing" not found.` {
		t.Errorf("missing claim: %q (bound %q)", m, nodes["d"])
	}
}
