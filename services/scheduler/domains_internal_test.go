package scheduler

import "testing"

// A node's domain for a key follows its labels: the same value is the same
// number on every node, a relabelled node moves, and a node without the
// key has none.
func TestNodeDomainsFollowLabels(t *testing.T) {
	zone := domains.key("test.gantry.dev/zone")
	a1 := testNode("a1", 1000, 1<<30, 0, labels("test.gantry.dev/zone", "a"))
	a2 := testNode("a2", 1000, 1<<30, 0, labels("test.gantry.dev/zone", "a"))
	b := testNode("b", 1000, 1<<30, 0, labels("test.gantry.dev/zone", "b"))
	none := testNode("none", 1000, 1<<30, 0)
	if a1.domain(zone) < 0 || a1.domain(zone) != a2.domain(zone) {
		t.Errorf("two nodes in zone a: domains %d and %d", a1.domain(zone), a2.domain(zone))
	}
	if b.domain(zone) == a1.domain(zone) {
		t.Errorf("zones a and b share domain %d", b.domain(zone))
	}
	if d := none.domain(zone); d != -1 {
		t.Errorf("a node without the key: domain %d, want -1", d)
	}
	info := a1.info
	info.Labels = map[string]string{"test.gantry.dev/zone": "b"}
	a1.setInfo(info)
	if a1.domain(zone) != b.domain(zone) {
		t.Errorf("a node relabelled into zone b: domain %d, zone b's is %d", a1.domain(zone), b.domain(zone))
	}
	host := domains.key("kubernetes.io/hostname")
	if a1.domain(host) == a2.domain(host) || a1.domain(host) < 0 {
		t.Errorf("hostnames a1 and a2: domains %d and %d", a1.domain(host), a2.domain(host))
	}
}
