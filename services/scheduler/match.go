package scheduler

import (
	"math"

	"github.com/gantry-sh/gantry/events/manifest"
)

// selects reports whether a pod affinity term's or a spread constraint's
// selector picks a pod with these labels. As in Kubernetes, a nil selector
// picks nothing (and an empty one everything).
func selects(sel *manifest.LabelSelector, labels map[string]string) bool {
	return sel != nil && sel.Matches(labels)
}

// matchNodeLabels reports whether every nodeSelector pair is a node label.
func matchNodeLabels(sel, labels map[string]string) bool {
	for k, v := range sel {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// tolerated reports whether any of the tolerations tolerates the taint.
func tolerated(ts []manifest.Toleration, taint manifest.Taint) bool {
	for _, t := range ts {
		if t.Tolerates(taint) {
			return true
		}
	}
	return false
}

func addSat(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
