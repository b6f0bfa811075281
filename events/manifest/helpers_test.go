package manifest

import (
	"strings"
	"testing"
)

func TestRequests(t *testing.T) {
	d := mustDecode(t, goodDeploymentYAML)
	// web requests 100m and 64Mi; the sidecar has only limits (1 cpu, 1e6
	// bytes), which stand in for its requests.
	cpu, mem := d.Deployment().Template.Spec.Requests()
	if cpu != 1100 || mem != 64<<20+1e6 {
		t.Errorf("got %d millicores, %d bytes", cpu, mem)
	}
	p := mustDecode(t, goodPodYAML)
	if cpu, mem := p.Pod().Requests(); cpu != 0 || mem != 0 {
		t.Errorf("got %d, %d; want nothing requested", cpu, mem)
	}
	huge := Container{Resources: ResourceRequirements{Requests: ResourceList{"cpu": MustQuantity("4e15"), "memory": MustQuantity("1Pi")}}}
	big := PodSpec{Containers: []Container{huge, huge, huge}}
	if cpu, mem := big.Requests(); cpu != 1<<63-1 || mem != 3<<50 {
		t.Errorf("got %d, %d; want cpu to saturate", cpu, mem)
	}
	reqAndLimit := PodSpec{Containers: []Container{{Resources: ResourceRequirements{
		Requests: ResourceList{"cpu": MustQuantity("1500m")},
		Limits:   ResourceList{"cpu": MustQuantity("2"), "memory": MustQuantity("1Gi")},
	}}}}
	if cpu, mem := reqAndLimit.Requests(); cpu != 1500 || mem != 1<<30 {
		t.Errorf("got %d, %d; want the request, and the memory limit", cpu, mem)
	}
}

func TestReplicaCount(t *testing.T) {
	if n := (DeploymentSpec{}).ReplicaCount(); n != 1 {
		t.Errorf("unset: %d", n)
	}
	if n := (DeploymentSpec{Replicas: int32p(0)}).ReplicaCount(); n != 0 {
		t.Errorf("zero: %d", n)
	}
	if n := mustDecode(t, goodDeploymentYAML).Deployment().ReplicaCount(); n != 3 {
		t.Errorf("good deployment: %d", n)
	}
}

func TestTemplateHash(t *testing.T) {
	a := mustDecode(t, goodDeploymentYAML).Deployment().Template
	h := TemplateHash(a)
	if len(h) != TemplateHashLength || strings.Trim(h, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
		t.Fatalf("hash %q is not 10 lower-case letters and digits", h)
	}
	// A golden value: the hash must not drift between versions, or every
	// Deployment would roll its pods on upgrade.
	if h != "knd9qd8hms" {
		t.Errorf("hash of the good template changed: %s", h)
	}
	b := mustDecode(t, goodDeploymentYAML).Deployment().Template
	if TemplateHash(b) != h {
		t.Error("equal templates hash differently")
	}
	b.Spec.Containers[0].Image = "nginx:2"
	if TemplateHash(b) == h {
		t.Error("different templates hash equally")
	}
	c := mustDecode(t, goodDeploymentYAML).Deployment().Template
	c.Metadata.Labels = map[string]string{"tier": "frontend", "app": "web"} // other insertion order
	if TemplateHash(c) != h {
		t.Error("hash depends on map order")
	}
}
