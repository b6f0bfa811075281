package scheduler

import "sync"

// domains numbers topology keys and their values (zones, hostnames, …) for
// the spread constraints. A node keeps its domain for each key as a small
// number (NodeState.domain), so a constraint reads a node's count from a
// slice instead of hashing two strings for every node it looks at: with
// spread over zones, most nodes a pass looks at are refused, and that check
// was the largest part of a spread pass (4.2 of 11.8 s of scheduler CPU in
// B1 spread). Shared by every scheduler of the process (tests
// run several); it only grows, by one entry per key and value ever seen.
var domains = &interner{keys: map[string]int{}}

type interner struct {
	mu    sync.RWMutex
	keys  map[string]int     // key → id
	names []string           // id → key
	vals  []map[string]int32 // by key id: value → domain
}

// key returns the number of a topology key.
func (t *interner) key(k string) int {
	t.mu.RLock()
	id, ok := t.keys[k]
	t.mu.RUnlock()
	if ok {
		return id
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if id, ok := t.keys[k]; ok {
		return id
	}
	id = len(t.names)
	t.keys[k] = id
	t.names = append(t.names, k)
	t.vals = append(t.vals, map[string]int32{})
	return id
}

// name returns the key numbered id.
func (t *interner) name(id int) string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.names[id]
}

// domain returns the number of a value of the key numbered id.
func (t *interner) domain(id int, v string) int32 {
	t.mu.RLock()
	d, ok := t.vals[id][v]
	t.mu.RUnlock()
	if ok {
		return d
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if d, ok := t.vals[id][v]; ok {
		return d
	}
	d = int32(len(t.vals[id]))
	t.vals[id][v] = d
	return d
}

// domain is the node's domain for the topology key numbered key, -1 when
// the node does not carry the key.
func (n *NodeState) domain(key int) int32 {
	for len(n.doms) <= key {
		d := int32(-1)
		id := len(n.doms)
		if v, ok := n.Labels[domains.name(id)]; ok {
			d = domains.domain(id, v)
		}
		n.doms = append(n.doms, d)
	}
	return n.doms[key]
}
