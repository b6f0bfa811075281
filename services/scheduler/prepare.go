package scheduler

import (
	"github.com/gantry-sh/gantry/events/manifest"
)

// prepared is what one pod needs to know of the whole cluster before its
// nodes are filtered one by one: how many matching pods each topology domain
// holds, for its anti-affinity and spread constraints (Kubernetes' PreFilter).
// Worked out once per pod per pass, in one walk over the bound pods; the
// filters then read a map per node.
type prepared struct {
	anti       []domainCount // aligned with PodInfo.antiRequired
	sym        []domainCount // existing pods' required anti-affinity that selects this pod, one per topology key
	antiSoft   []domainCount // aligned with PodInfo.antiPreferred
	spreadHard []spreadState // aligned with PodInfo.spreadHard
	spreadSoft []spreadState // aligned with PodInfo.spreadSoft
	softTaints bool          // some node has a PreferNoSchedule taint
	// owned counts the pod's workload's pods per node (one small map per
	// workload, not one per node: scoring reads it for every node).
	owned map[*NodeState]int
	// stale: counts changed since the spread bounds were worked out.
	stale bool
	// byTemplate remembers, while the view is worked out, which of the
	// pod's terms select the pods of each template (all alike), so a
	// template's selectors are matched once, not once per pod.
	byTemplate map[string]uint64
}

// maxTerms is how many anti-affinity and spread terms a pod's terms
// bitmask holds; admission refuses a pod with more (manifest.MaxPodTerms).
const maxTerms = manifest.MaxPodTerms

// selected says which of p's terms select pods with these labels (of the
// template named, "" for none), one bit per term in the order
// antiRequired, antiPreferred, spreadHard, spreadSoft.
func (pr *prepared) selected(p *PodInfo, template string, labels map[string]string) uint64 {
	n := len(p.antiRequired) + len(p.antiPreferred) + len(p.spreadHard) + len(p.spreadSoft)
	memo := template != "" && n <= maxTerms
	if memo {
		if m, ok := pr.byTemplate[template]; ok {
			return m
		}
	}
	var m uint64
	bit := 0
	set := func(sel *manifest.LabelSelector) {
		if bit < maxTerms && selects(sel, labels) {
			m |= 1 << bit
		}
		bit++
	}
	for i := range p.antiRequired {
		set(p.antiRequired[i].LabelSelector)
	}
	for i := range p.antiPreferred {
		set(p.antiPreferred[i].PodAffinityTerm.LabelSelector)
	}
	for i := range p.spreadHard {
		set(p.spreadHard[i].LabelSelector)
	}
	for i := range p.spreadSoft {
		set(p.spreadSoft[i].LabelSelector)
	}
	if memo {
		pr.byTemplate[template] = m
	}
	return m
}

// countGroups works out p's anti-affinity and spread counts from the index
// of bound pods by group: each group's labels are matched once, and only
// the groups some term selects are counted, node by node.
func (p *PodInfo) countGroups(nodes []*NodeState, groups map[string]*podGroup) {
	pr := p.prep
	spread := len(p.spreadHard)+len(p.spreadSoft) > 0
	for key, g := range groups {
		if g.namespace != p.namespace {
			continue
		}
		m := pr.selected(p, key, g.labels)
		if m == 0 {
			continue
		}
		for n, c := range g.on {
			if !n.known {
				continue
			}
			p.tally(pr, n, m, c.live+c.deleting, c.live, spread && c.live > 0 && p.matchesAffinity(n))
		}
	}
	if !spread {
		return
	}
	// Every eligible domain counts toward the minimum, empty ones too.
	for _, n := range nodes {
		if n.known && p.matchesAffinity(n) {
			spreadDomain(pr.spreadHard, n)
			spreadDomain(pr.spreadSoft, n)
		}
	}
	pr.stale = true
	pr.refresh()
}

// tally adds matching pods on n to pr, p's view: all of them to the
// anti-affinity terms m selects, live ones (not on their way out) to the
// spread terms m selects when n is eligible for p's spread.
func (p *PodInfo) tally(pr *prepared, n *NodeState, m uint64, all, live int, eligible bool) {
	for i := range p.antiRequired {
		if m&(1<<i) != 0 {
			pr.anti[i].add(n, all)
		}
	}
	base := len(p.antiRequired)
	for i := range p.antiPreferred {
		if m&(1<<(base+i)) != 0 {
			pr.antiSoft[i].add(n, all)
		}
	}
	if live == 0 || !eligible {
		return
	}
	base += len(p.antiPreferred)
	for i := range pr.spreadHard {
		if d := n.domain(pr.spreadHard[i].key); d >= 0 && m&(1<<(base+i)) != 0 {
			pr.spreadHard[i].add(d, live)
			pr.stale = true
		}
	}
	base += len(p.spreadHard)
	for i := range pr.spreadSoft {
		if d := n.domain(pr.spreadSoft[i].key); d >= 0 && m&(1<<(base+i)) != 0 {
			pr.spreadSoft[i].add(d, live)
			pr.stale = true
		}
	}
}

// perDomain counts pods by domain number (see domains); a domain never
// counted holds 0.
type perDomain []int

// at is the count of domain d (0 for -1, a node without the key).
func (c perDomain) at(d int32) int {
	if d >= 0 && int(d) < len(c) {
		return c[d]
	}
	return 0
}

// add counts delta pods in domain d (>= 0).
func (c *perDomain) add(d int32, delta int) {
	for int(d) >= len(*c) {
		*c = append(*c, 0)
	}
	(*c)[d] += delta
}

// domainCount counts pods per value of a topology key.
type domainCount struct {
	key    int
	counts perDomain
}

func (d *domainCount) on(n *NodeState) int { return d.counts.at(n.domain(d.key)) }

// spreadState is one topology spread constraint's view of the cluster: the
// matching pods in each domain of its key, over the eligible nodes (those
// that satisfy the pod's node selector and affinity and carry the key), and
// the smallest and largest count.
type spreadState struct {
	key     int // topology key, numbered (see domains)
	maxSkew int
	self    int // 1 when the pod matches its own selector (Kubernetes' selfMatchNum)
	// counts and seen are by domain number: the matching pods in each
	// domain, and the domains counted (eligible ones, empty included).
	counts   perDomain
	seen     []bool
	min, max int
}

// add counts delta pods in domain d.
func (s *spreadState) add(d int32, delta int) {
	s.see(d)
	s.counts.add(d, delta)
}

// see counts domain d, with no pods if it had none.
func (s *spreadState) see(d int32) {
	for int(d) >= len(s.seen) {
		s.seen = append(s.seen, false)
	}
	s.seen[d] = true
}

func (s *spreadState) bounds() {
	first := true
	for d, ok := range s.seen {
		if !ok {
			continue
		}
		c := s.counts.at(int32(d))
		if first || c < s.min {
			s.min = c
		}
		if first || c > s.max {
			s.max = c
		}
		first = false
	}
	if first {
		s.min, s.max = 0, 0
	}
}

func newDomainCount(d *domainCount, key string) {
	d.key = domains.key(key)
	d.counts = d.counts[:0]
}

// needsPrepare reports whether a pod has constraints that count pods across
// the cluster, or whether some bound pod's anti-affinity could be about it.
func (p *PodInfo) needsPrepare(antiPods []*PodInfo) bool {
	return len(p.antiRequired) > 0 || len(p.antiPreferred) > 0 || len(p.spreadHard) > 0 ||
		len(p.spreadSoft) > 0 || len(antiPods) > 0
}

// prepare works out p.prep over nodes (every node, in any order) and
// antiPods (the bound pods with required anti-affinity).
//
// With groups (the Service's index of bound pods by template) the counts
// are worked out group by group; without, by walking every bound pod (the
// reference the index is tested against).
func (p *PodInfo) prepare(nodes []*NodeState, groups map[string]*podGroup, antiPods []*PodInfo, softTaints bool) {
	if p.prep == nil {
		p.prep = &p.own
	}
	pr := p.prep
	pr.stale = false
	pr.softTaints = softTaints
	pr.anti = resizeDomains(pr.anti, len(p.antiRequired))
	for i, t := range p.antiRequired {
		newDomainCount(&pr.anti[i], t.TopologyKey)
	}
	pr.antiSoft = resizeDomains(pr.antiSoft, len(p.antiPreferred))
	for i, t := range p.antiPreferred {
		newDomainCount(&pr.antiSoft[i], t.PodAffinityTerm.TopologyKey)
	}
	pr.spreadHard = resizeSpread(pr.spreadHard, p.spreadHard, p.labels)
	pr.spreadSoft = resizeSpread(pr.spreadSoft, p.spreadSoft, p.labels)
	if pr.byTemplate == nil {
		pr.byTemplate = map[string]uint64{}
	} else {
		clear(pr.byTemplate)
	}

	if groups != nil && len(p.antiRequired)+len(p.antiPreferred)+len(p.spreadHard)+len(p.spreadSoft) > 0 {
		p.countGroups(nodes, groups)
	} else if len(p.antiRequired)+len(p.antiPreferred)+len(p.spreadHard)+len(p.spreadSoft) > 0 {
		for _, n := range nodes {
			if !n.known {
				continue
			}
			eligible := -1 // spread: worked out once per node, when needed
			for _, q := range n.bound {
				if q == p || q.namespace != p.namespace {
					continue
				}
				m := pr.selected(p, q.template, q.labels)
				if m == 0 {
					continue
				}
				live := 0 // a pod on its way out does not count toward spread, as in Kubernetes
				if !q.deleting && len(p.spreadHard)+len(p.spreadSoft) > 0 {
					live = 1
					if eligible < 0 {
						eligible = 0
						if p.matchesAffinity(n) {
							eligible = 1
						}
					}
				}
				p.tally(pr, n, m, 1, live, eligible == 1)
			}
			// Every eligible domain counts toward the minimum, empty ones too.
			if len(p.spreadHard)+len(p.spreadSoft) > 0 && (eligible == 1 || (eligible < 0 && p.matchesAffinity(n))) {
				spreadDomain(pr.spreadHard, n)
				spreadDomain(pr.spreadSoft, n)
			}
		}
		pr.stale = true
		pr.refresh()
	}

	pr.sym = pr.sym[:0]
	for _, q := range antiPods {
		if q.node == nil || q.namespace != p.namespace || q == p {
			continue
		}
		for _, t := range q.antiRequired {
			if selects(t.LabelSelector, p.labels) {
				pr.symFor(t.TopologyKey).add(q.node, 1)
			}
		}
	}
}

func (d *domainCount) add(n *NodeState, delta int) {
	if dom := n.domain(d.key); dom >= 0 {
		d.counts.add(dom, delta)
	}
}

func (pr *prepared) symFor(key string) *domainCount {
	id := domains.key(key)
	for i := range pr.sym {
		if pr.sym[i].key == id {
			return &pr.sym[i]
		}
	}
	if len(pr.sym) < cap(pr.sym) {
		pr.sym = pr.sym[:len(pr.sym)+1]
	} else {
		pr.sym = append(pr.sym, domainCount{})
	}
	d := &pr.sym[len(pr.sym)-1]
	newDomainCount(d, key)
	return d
}

func resizeDomains(ds []domainCount, n int) []domainCount {
	if cap(ds) >= n {
		return ds[:n]
	}
	return append(ds[:cap(ds)], make([]domainCount, n-cap(ds))...)
}

func resizeSpread(ss []spreadState, cs []manifest.TopologySpreadConstraint, labels map[string]string) []spreadState {
	if cap(ss) >= len(cs) {
		ss = ss[:len(cs)]
	} else {
		ss = append(ss[:cap(ss)], make([]spreadState, len(cs)-cap(ss))...)
	}
	for i, c := range cs {
		s := &ss[i]
		s.key, s.maxSkew, s.self, s.min, s.max = domains.key(c.TopologyKey), int(c.MaxSkew), 0, 0, 0
		if selects(c.LabelSelector, labels) {
			s.self = 1
		}
		s.counts, s.seen = s.counts[:0], s.seen[:0]
	}
	return ss
}

func spreadCount(ss []spreadState, cs []manifest.TopologySpreadConstraint, n *NodeState, q *PodInfo, delta int) {
	for i := range ss {
		if !selects(cs[i].LabelSelector, q.labels) {
			continue
		}
		if d := n.domain(ss[i].key); d >= 0 {
			ss[i].add(d, delta)
		}
	}
}

func spreadDomain(ss []spreadState, n *NodeState) {
	for i := range ss {
		if d := n.domain(ss[i].key); d >= 0 {
			ss[i].see(d)
		}
	}
}

// adjust counts q in (delta 1) or out (delta -1) of node n in p's prepared
// counts, as if q were bound there or gone: preemption asks "would p fit if
// these pods were gone".
func (p *PodInfo) adjust(n *NodeState, q *PodInfo, delta int) {
	pr := p.prep
	if q.namespace != p.namespace {
		return
	}
	for i := range p.antiRequired {
		if selects(p.antiRequired[i].LabelSelector, q.labels) {
			pr.anti[i].add(n, delta)
		}
	}
	for _, t := range q.antiRequired {
		if selects(t.LabelSelector, p.labels) {
			id := domains.key(t.TopologyKey)
			for i := range pr.sym {
				if pr.sym[i].key == id {
					pr.sym[i].add(n, delta)
				}
			}
		}
	}
	if !q.deleting && len(p.spreadHard) > 0 && p.matchesAffinity(n) {
		spreadCount(pr.spreadHard, p.spreadHard, n, q, delta)
		for i := range pr.spreadHard {
			pr.spreadHard[i].bounds()
		}
	}
}

// count adds q, just placed on n (delta 1) or taken off it (delta -1), to
// pr, a view worked out for p, as a fresh prepare would find it for the
// next pod of p's template: the pods of one template share one prepared
// view for a whole pass, kept up to date pod by pod instead of walked again
// for each. (q may be p itself: the next pod sees p bound.)
func (p *PodInfo) count(pr *prepared, n *NodeState, q *PodInfo, delta int) {
	if q.namespace != p.namespace {
		return
	}
	live := 0
	if !q.deleting && len(p.spreadHard)+len(p.spreadSoft) > 0 {
		live = delta
	}
	p.tally(pr, n, pr.selected(p, q.template, q.labels), delta, live, live != 0 && p.matchesAffinity(n))
	for _, t := range q.antiRequired {
		if selects(t.LabelSelector, p.labels) {
			pr.symFor(t.TopologyKey).add(n, delta)
		}
	}
}

// refresh works out the spread bounds again when counts changed.
func (pr *prepared) refresh() {
	if !pr.stale {
		return
	}
	for i := range pr.spreadHard {
		pr.spreadHard[i].bounds()
	}
	for i := range pr.spreadSoft {
		pr.spreadSoft[i].bounds()
	}
	pr.stale = false
}
