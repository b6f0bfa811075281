package services_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/node"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services"
)

// addVolumeNode starts a simulated node that offers local volumes under
// dir; it returns the agent once it is ready.
func (c *cluster) addVolumeNode(ctx context.Context, name, dir string) *node.Agent {
	return c.startAgent(ctx, name, "10.42.9.0/24", func(cfg *node.Config) { cfg.VolumesDir = dir })
}

// With every service and one node that offers local volumes: a claim
// without storageClassName gets the default class local-path and stays
// Pending; a pod that mounts it is placed, the claim is bound to a volume
// provisioned on the pod's node, the node makes its directory and knows
// the claim's path. Deleting the pod and then the claim deletes the volume
// and its directory. A claim of a class that does not exist is refused.
func TestClaimProvisionedWhereItsPodRuns(t *testing.T) {
	c, ctx := startPlane(t, nil, services.Config{})
	dir := t.TempDir()
	agent := c.addVolumeNode(ctx, "node-a", dir)

	if v, ok := c.verdict(c.apply(`apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
`)).(*events.AdmissionAccepted); !ok {
		t.Fatalf("claim refused: %#v", v)
	}
	if v, ok := c.verdict(c.apply(`apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: fast}
spec:
  storageClassName: fast-ssd
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
`)).(*events.AdmissionRejected); !ok || v.Reasons[0] != `spec.storageClassName: storageclass.storage.k8s.io "fast-ssd" not found` {
		t.Fatalf("claim of a missing class: %#v", v)
	}
	if _, ok := c.verdict(c.apply(`apiVersion: v1
kind: Pod
metadata: {name: writer}
spec:
  containers: [{name: app, image: gantry.local/hello:v1, volumeMounts: [{name: d, mountPath: /data}]}]
  volumes: [{name: d, persistentVolumeClaim: {claimName: data}}]
`)).(*events.AdmissionAccepted); !ok {
		t.Fatal("pod refused")
	}
	var path string
	c.eventually("the claim bound and its directory made on node-a", func() bool {
		var ok bool
		path, ok = agent.Claims().ClaimPath("default", "data")
		if !ok {
			return false
		}
		st, err := os.Stat(path)
		return err == nil && st.IsDir()
	})
	if filepath.Dir(path) != dir {
		t.Errorf("volume directory %s, want one under %s", path, dir)
	}
	f := c.fold()
	claim := f.Workloads[projections.WorkloadKey("persistentvolumeclaim", "default", "data")]
	st := f.Status(claim)
	if st.Volume == nil || st.Volume.Phase != manifest.ClaimBound || claim.Object.PersistentVolumeClaim().ClassName() != manifest.DefaultStorageClass {
		t.Fatalf("claim status %+v, class %q", st.Volume, claim.Object.PersistentVolumeClaim().ClassName())
	}
	pv := f.Workloads[projections.WorkloadKey("persistentvolume", events.ClusterScope, st.Volume.Volume)]
	if pv == nil || pv.Object.PersistentVolume().Node() != "node-a" {
		t.Fatalf("volume %+v", pv)
	}

	c.verdict(c.submit(events.IntentSubject("default", "pod", "writer"), &events.IntentDeleted{Kind: "pod", Namespace: "default", Name: "writer"}))
	c.verdict(c.submit(events.IntentSubject("default", "persistentvolumeclaim", "data"),
		&events.IntentDeleted{Kind: "persistentvolumeclaim", Namespace: "default", Name: "data"}))
	c.eventually("the volume's directory deleted", func() bool {
		_, err := os.Stat(path)
		return os.IsNotExist(err)
	})
	c.eventually("the volume object deleted", func() bool {
		w := c.fold().Workloads[projections.WorkloadKey("persistentvolume", events.ClusterScope, st.Volume.Volume)]
		return w == nil || w.Deleted
	})
}
