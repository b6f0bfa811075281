package projections

import (
	"slices"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

// VolumeBinding is the storage service's newest decision on one volume and
// the sequence it is stored at on events.StorageSubject (the fence of the
// next decision).
type VolumeBinding struct {
	Decision events.VolumeDecided
	Seq      uint64
}

// applyVolumeDecided folds a storage decision: the volume's and its
// claim's status show the binding (manifest.VolumeStatus).
func (c *Cluster) applyVolumeDecided(r events.Record, e *events.VolumeDecided) {
	if c.volumes == nil {
		c.volumes = map[string]VolumeBinding{}
	}
	c.volumes[e.Volume] = VolumeBinding{Decision: *e, Seq: r.Seq}
	claim := manifest.FormatClaim(e.ClaimNamespace, e.ClaimName)
	if w := c.Workloads[WorkloadKey("persistentvolume", events.ClusterScope, e.Volume)]; w != nil && w.UID == e.VolumeUID {
		st := &manifest.VolumeStatus{Phase: e.Phase, Claim: claim}
		if e.Phase == events.VolumeDeleted {
			st.Phase = manifest.VolumeReleased
		}
		w.decided.Volume = st
		c.touchWorkload(w, r)
	}
	if w := c.Workloads[WorkloadKey("persistentvolumeclaim", e.ClaimNamespace, e.ClaimName)]; w != nil && w.UID == e.ClaimUID {
		if e.Phase == manifest.VolumeBound {
			w.decided.Volume = &manifest.VolumeStatus{Phase: manifest.ClaimBound, Volume: e.Volume, Capacity: e.Capacity, AccessModes: e.AccessModes}
		} else {
			w.decided.Volume = &manifest.VolumeStatus{Phase: manifest.ClaimLost, Volume: e.Volume,
				Message: "bound volume " + e.Volume + " is " + e.Phase}
		}
		c.touchWorkload(w, r)
	}
}

// Volume is the storage service's newest decision on a volume, by name.
func (c *Cluster) Volume(name string) (VolumeBinding, bool) {
	v, ok := c.volumes[name]
	return v, ok
}

// ClaimVolume is the volume a claim (by uid) is bound to, and where: its
// node ("" for any node). ok is false while the claim is not bound.
func (c *Cluster) ClaimVolume(ns, name string) (volume, node string, ok bool) {
	w := c.Workloads[WorkloadKey("persistentvolumeclaim", ns, name)]
	if w == nil || w.Deleted || w.decided.Volume == nil || w.decided.Volume.Phase != manifest.ClaimBound {
		return "", "", false
	}
	vol := w.decided.Volume.Volume
	if b, ok := c.volumes[vol]; ok && b.Decision.ClaimUID == w.UID {
		node = b.Decision.Node
	}
	return vol, node, true
}

// DefaultStorageClass is the default StorageClass among the named ones
// (annotated storageclass.kubernetes.io/is-default-class: "true"; the
// newest when several are, as Kubernetes), "" when none is.
func (c *Cluster) DefaultStorageClass(names []string) string {
	best, bestAt := "", uint64(0)
	for _, name := range slices.Sorted(slices.Values(names)) {
		w := c.Workloads[WorkloadKey("storageclass", events.ClusterScope, name)]
		if w == nil || w.Deleted || !manifest.IsDefaultClass(w.Object.Metadata.Annotations) {
			continue
		}
		if at := w.Seqs[events.StreamDecisions]; best == "" || at > bestAt {
			best, bestAt = name, at
		}
	}
	return best
}
