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

// Replay is what ReplayRollout found in a log.
type Replay struct {
	// Planned counts each pod's PodPlanned, by "<ns>/<name>" and by
	// "uid <uid>"; Decided each ReplicaSet generation's WorkloadDecided.
	Planned, Decided map[string]int
}

// Pods is how many pods were planned.
func (r Replay) Pods() int { return len(r.Planned) / 2 }

// Problems lists the pods planned more than once and the ReplicaSet
// generations decided more than once.
func (r Replay) Problems() []string {
	var out []string
	for pod, n := range r.Planned {
		if n != 1 {
			out = append(out, fmt.Sprintf("pod %s planned %d times", pod, n))
		}
	}
	for rs, n := range r.Decided {
		if n != 1 {
			out = append(out, fmt.Sprintf("replica set %s decided %d times", rs, n))
		}
	}
	return out
}

// ReplayRollout folds records (Merge's order) into a fresh
// projections.Cluster, checking b after every one, and counts the pods'
// plans and the ReplicaSets' decisions.
func ReplayRollout(records []Stored, b *Bounds) Replay {
	r := Replay{Planned: map[string]int{}, Decided: map[string]int{}}
	fold := projections.NewCluster()
	for _, s := range records {
		fold.Apply(s.Rec)
		switch e := s.Rec.Event.(type) {
		case *events.PodPlanned:
			r.Planned[e.Namespace+"/"+e.Name]++
			r.Planned["uid "+e.UID]++
		case *events.WorkloadDecided:
			if e.Kind == "replicaset" {
				r.Decided[fmt.Sprintf("%s/%s generation %d", e.Namespace, e.Name, e.Generation)]++
			}
		}
		b.Check(CountPods(fold, nil, s.At), s)
	}
	return r
}
