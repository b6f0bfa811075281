package projections

import "github.com/gantry-sh/gantry/events"

// Changes names what the fold changed since the last ClearDirty, aggregate
// by aggregate, each record with the newest sequence of every stream that
// changed it: what a writer of read models must write again, and what a
// service must look at again.
type Changes struct {
	Workloads map[string]Seqs // by WorkloadKey(kind, ns, name)
	Pods      map[string]Seqs // by Key(ns, name)
	Nodes     map[string]Seqs // by node name
}

func newChanges() Changes {
	return Changes{Workloads: map[string]Seqs{}, Pods: map[string]Seqs{}, Nodes: map[string]Seqs{}}
}

// Len is how many records changed.
func (c Changes) Len() int { return len(c.Workloads) + len(c.Pods) + len(c.Nodes) }

func (c Changes) clear() {
	clear(c.Workloads)
	clear(c.Pods)
	clear(c.Nodes)
}

// mark records that r changed the record key of set.
func mark(set map[string]Seqs, key string, r events.Record) {
	d := set[key]
	if d == nil {
		d = Seqs{}
		set[key] = d
	}
	if r.Seq > d[r.Stream] {
		d[r.Stream] = r.Seq
	}
}
