package projectiontest

import (
	"fmt"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/projections"
)

// Stored is one record of a real log and when the server stored it.
type Stored struct {
	Rec events.Record
	At  time.Time
}

// Merge interleaves streams read whole, each in its own order, into the
// order the server stored them: by store time, a tie going to the list
// given first.
func Merge(lists ...[]Stored) []Stored {
	var out []Stored
	heads := make([]int, len(lists))
	for {
		next := -1
		for i, l := range lists {
			if heads[i] < len(l) && (next < 0 || l[heads[i]].At.Before(lists[next][heads[next]].At)) {
				next = i
			}
		}
		if next < 0 {
			return out
		}
		out = append(out, lists[next][heads[next]])
		heads[next]++
	}
}

// PodCounts counts one Deployment's pods in a fold. Available: Ready (every
// container running and ready, by its node's newest report, on a node not
// NotReady) and not being deleted, as Pod.AvailableAt and the workload
// status count it; Pods: neither terminal nor being deleted
// (status.replicas); Live: not yet gone (planned and not yet bound, and
// being deleted and not yet removed, included); Old: live pods of the
// template hashes in old; NewAvailable: available pods of any other
// template.
type PodCounts struct{ Available, Pods, Live, Old, NewAvailable int }

// CountPods counts the pods of a fold at now by their label app (a
// Deployment's pods carry its selector's labels).
func CountPods(c *projections.Cluster, old map[string]bool, now time.Time) map[string]PodCounts {
	out := map[string]PodCounts{}
	for _, p := range c.Pods { // counted: no order needed
		app, ok := p.Labels["app"]
		if !ok {
			continue
		}
		n := out[app]
		n.Live++
		if old[p.TemplateHash] {
			n.Old++
		}
		if !p.Deleting {
			if !p.Terminal() {
				n.Pods++
			}
			if p.AvailableAt(0, now) {
				n.Available++
				if !old[p.TemplateHash] {
					n.NewAvailable++
				}
			}
		}
		out[app] = n
	}
	return out
}

// Bounds checks a RollingUpdate through a replay: after every record,
// each Deployment (by its pods' label app) of Replicas replicas, once all
// of them were first available, has at most Replicas+MaxSurge pods and at
// least Replicas-MaxUnavailable available ones.
type Bounds struct {
	Replicas, MaxSurge, MaxUnavailable int
	// Extremes are each app's fewest available and most pods since it was
	// first fully available.
	Extremes map[string]*Extremes
	// Breaches describe the first records that broke a bound (at most 10).
	Breaches []string
}

// Extremes are one Deployment's fewest available and most pods.
type Extremes struct{ MinAvailable, MaxPods int }

// Check notes the counts after the record s.
func (b *Bounds) Check(counts map[string]PodCounts, s Stored) {
	if b.Extremes == nil {
		b.Extremes = map[string]*Extremes{}
	}
	for app, n := range counts {
		x := b.Extremes[app]
		if x == nil {
			if n.Available < b.Replicas {
				continue
			}
			x = &Extremes{MinAvailable: n.Available, MaxPods: n.Pods}
			b.Extremes[app] = x
		}
		x.MinAvailable, x.MaxPods = min(x.MinAvailable, n.Available), max(x.MaxPods, n.Pods)
		if (n.Pods > b.Replicas+b.MaxSurge || n.Available < b.Replicas-b.MaxUnavailable) && len(b.Breaches) < 10 {
			b.Breaches = append(b.Breaches, fmt.Sprintf("%s after %s seq %d (%s): %d pods, %d available; bounds %d pods, %d available",
				app, s.Rec.Stream, s.Rec.Seq, s.Rec.Envelope.Type, n.Pods, n.Available, b.Replicas+b.MaxSurge, b.Replicas-b.MaxUnavailable))
		}
	}
}
