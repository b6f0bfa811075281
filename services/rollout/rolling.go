package rollout

// The rolling update's arithmetic, as Kubernetes' deployment controller
// does it (pkg/controller/deployment/rolling.go), on counts alone so that
// it is tested as a table. replicas is the Deployment's spec.replicas,
// surge and unavailable the resolved maxSurge and maxUnavailable
// (manifest.ResolveBounds).
//
// A ReplicaSet counts as size = max(spec.replicas, pods it has that are
// neither ended nor being deleted): a set scaled down whose pods the
// replica service has not deleted yet still holds them, so the next
// scale-up waits for them to go and the surge bound holds on the pods
// that exist, not only on the specs. It counts as available = min(spec,
// available pods): the pods above its spec are about to be deleted.

// set is what the arithmetic knows of one ReplicaSet.
type set struct {
	spec      int32 // spec.replicas
	pods      int32 // pods neither ended nor being deleted
	available int32 // of those, available (ready for minReadySeconds)
}

func (s set) size() int32 { return max(s.spec, s.pods) }

func (s set) avail() int32 { return min(s.spec, s.available) }

// scaleUp is the new ReplicaSet's next spec.replicas (Kubernetes'
// NewRSNewReplicas): grow it by what the surge leaves room for, up to
// target (spec.replicas, or a canary step's share).
//
// Worked numbers: 10 replicas, surge 3; old at 10, new at 0 → room 13-10
// = 3, new 3. Old at 8 (2 scaled down), new at 3 → room 13-11 = 2, new 5.
// Old at 10 with 2 of its pods still going (spec 8, 10 pods) and new at 3
// → size 10 + 3 = 13, no room: new stays 3.
func scaleUp(replicas, surge, target int32, newSet set, old []set) int32 {
	total := newSet.size()
	for _, o := range old {
		total += o.size()
	}
	room := replicas + surge - total
	if room <= 0 || newSet.spec >= target {
		return min(newSet.spec, target)
	}
	return newSet.spec + min(room, target-newSet.spec)
}

// scaleDown is the old ReplicaSets' next spec.replicas, in their order
// (oldest revision first), as Kubernetes' reconcileOldReplicaSets: first
// the pods that are not available anyway (cleanupUnhealthyReplicas), as
// far as the pods above minAvailable that the new set's unavailable ones
// do not already use; then available ones, as far as the available pods
// exceed replicas - unavailable.
//
// Worked numbers: 10 replicas, unavailable 2 (min available 8). Old at 10
// (10 available), new at 3 (0 available) → unhealthy cleanup: room 13 - 8
// - 3 = 2, old has none unhealthy; then available 10 - 8 = 2 → old 8.
// Next: old 8 (8 available), new 5 (3 available) → available 11 - 8 = 3 →
// old 5. Old at 10 of which 4 crash (6 available), new 3 (0 available) →
// room 13 - 8 - 3 = 2: 2 of the unhealthy go, old 8; then available 6 is
// below 8: nothing more.
func scaleDown(replicas, unavailable int32, newSet set, old []set) []int32 {
	out := make([]int32, len(old))
	all := newSet.size()
	for i, o := range old {
		out[i] = o.spec
		all += o.size()
	}
	minAvailable := replicas - unavailable
	newUnavailable := max(0, newSet.spec-newSet.avail())
	room := all - minAvailable - newUnavailable
	if room <= 0 {
		return out
	}
	for i, o := range old {
		if room == 0 {
			break
		}
		unhealthy := max(0, o.spec-o.avail())
		n := min(unhealthy, room)
		out[i] -= n
		room -= n
	}
	available := newSet.avail()
	for _, o := range old {
		available += o.avail()
	}
	excess := available - minAvailable
	for i := range old {
		if excess <= 0 {
			break
		}
		n := min(out[i], excess)
		out[i] -= n
		excess -= n
	}
	return out
}

// trim brings the sets' total down to replicas + surge when spec.replicas
// was lowered during a rollout (a user's scaling is not bounded by
// maxUnavailable, as in Kubernetes): the oldest sets first, then the new
// one, whose result is last. Worked numbers: 10 → 4 replicas (surge 1)
// with old at 6 and new at 5 → total 11, allowed 5: old 0, new 5.
func trim(replicas, surge int32, newSpec int32, old []int32) (int32, []int32) {
	total := newSpec
	for _, o := range old {
		total += o
	}
	excess := total - (replicas + surge)
	out := append([]int32(nil), old...)
	for i := range out {
		if excess <= 0 {
			break
		}
		n := min(out[i], excess)
		out[i] -= n
		excess -= n
	}
	if excess > 0 {
		newSpec -= min(newSpec, excess)
	}
	return newSpec, out
}
