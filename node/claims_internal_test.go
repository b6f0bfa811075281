package node

import (
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

// Given a provisioned volume bound here, expect its directory made and the
// claim's path known; released, the claim has no path and the directory
// stays; deleted, the directory goes. A decision naming a directory outside
// the node's volumes directory is left alone.
func TestPlanVolume(t *testing.T) {
	const dir = "/var/lib/gantry/node/volumes"
	s := newClaimStore()
	bound := &events.VolumeDecided{Volume: "pvc-1", Phase: manifest.VolumeBound, ClaimNamespace: "default", ClaimName: "data",
		Path: dir + "/pvc-1", Provisioned: true}
	if act := s.planVolume(dir, bound); act != (volumeAction{Mkdir: dir + "/pvc-1"}) {
		t.Errorf("bound: %+v", act)
	}
	if p, ok := s.ClaimPath("default", "data"); !ok || p != dir+"/pvc-1" {
		t.Errorf("claim path %q %v", p, ok)
	}
	released := *bound
	released.Phase = manifest.VolumeReleased
	if act := s.planVolume(dir, &released); act != (volumeAction{}) {
		t.Errorf("released: %+v", act)
	}
	if _, ok := s.ClaimPath("default", "data"); ok {
		t.Errorf("a released volume still serves its claim")
	}
	deleted := *bound
	deleted.Phase = events.VolumeDeleted
	if act := s.planVolume(dir, &deleted); act != (volumeAction{Remove: dir + "/pvc-1"}) {
		t.Errorf("deleted: %+v", act)
	}
	static := &events.VolumeDecided{Volume: "pv-a", Phase: manifest.VolumeBound, ClaimNamespace: "default", ClaimName: "db", Path: "/mnt/disks/a"}
	if act := s.planVolume(dir, static); act != (volumeAction{}) {
		t.Errorf("static volume: %+v", act)
	}
	if p, ok := s.ClaimPath("default", "db"); !ok || p != "/mnt/disks/a" {
		t.Errorf("static claim path %q %v", p, ok)
	}
	for _, p := range []string{"/etc", dir, dir + "/../x", "relative/pvc-2"} {
		evil := &events.VolumeDecided{Volume: "pvc-2", Phase: events.VolumeDeleted, Path: p, Provisioned: true}
		if act := s.planVolume(dir, evil); act.Remove != "" || act.Refused == "" {
			t.Errorf("delete of %q: %+v", p, act)
		}
	}
}
