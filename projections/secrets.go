package projections

import "github.com/gantry-sh/gantry/events"

// applyResealed puts a Secret's re-sealed data (a keyring rotation) in
// place of its Sealed: the same data, sealed to the newer key. The spec is
// copied, so holders of the old object see no change.
func (c *Cluster) applyResealed(r events.Record, e *events.SecretResealed) {
	w := c.Workloads[WorkloadKey("secret", e.Namespace, e.Name)]
	if w == nil || w.UID != e.UID || w.Deleted {
		return
	}
	s := w.Object.Secret()
	if s == nil {
		return
	}
	cp := *s
	sealed := e.Sealed
	cp.Sealed = &sealed
	w.Object.Spec = &cp
	c.touchWorkload(w, r)
}
