package network_test

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/gantry-sh/gantry/node/network"
)

// inNetns makes a network namespace standing in for a host, with a link
// 192.168.77.1/24 up, and returns its path and a way to run `ip` in it.
func inNetns(t *testing.T) (string, func(args ...string) string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a network namespace")
	}
	name := fmt.Sprintf("gantry-test-routes-%d", os.Getpid())
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "delete", name).Run() })
	in := func(args ...string) string { return run(append([]string{"-n", name}, args...)...) }
	in("link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
	in("link", "set", "eth1", "up")
	in("addr", "add", "192.168.77.1/24", "dev", "eth0")
	in("link", "set", "eth0", "up")
	return "/var/run/netns/" + name, in
}

// Given two nodes' pod CIDRs through their addresses, expect both routes,
// marked Gantry's; then one node gone and the other moved, expect its
// route replaced and the gone one's deleted; a route of the host's own is
// never touched.
func TestRouteTableSync(t *testing.T) {
	path, in := inNetns(t)
	in("route", "add", "10.99.0.0/24", "via", "192.168.77.254") // the host's own
	rt, err := network.NewRouteTable(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	route := func(dst, via string) network.Route {
		return network.Route{Dst: netip.MustParsePrefix(dst), Via: netip.MustParseAddr(via)}
	}
	if err := rt.Sync([]network.Route{route("10.42.1.0/24", "192.168.77.11"), route("10.42.2.0/24", "192.168.77.12")}); err != nil {
		t.Fatal(err)
	}
	got := in("route", "show")
	for _, want := range []string{"10.42.1.0/24 via 192.168.77.11 dev eth0 proto 103", "10.42.2.0/24 via 192.168.77.12 dev eth0 proto 103", "10.99.0.0/24 via 192.168.77.254"} {
		if !strings.Contains(got, want) {
			t.Errorf("routes lack %q:\n%s", want, got)
		}
	}
	if err := rt.Sync([]network.Route{route("10.42.2.0/24", "192.168.77.13")}); err != nil {
		t.Fatal(err)
	}
	got = in("route", "show")
	if strings.Contains(got, "10.42.1.0/24") || !strings.Contains(got, "10.42.2.0/24 via 192.168.77.13") || !strings.Contains(got, "10.99.0.0/24") {
		t.Errorf("after the second sync:\n%s", got)
	}
	if err := rt.Sync(nil); err != nil {
		t.Fatal(err)
	}
	if got = in("route", "show"); strings.Contains(got, "10.42.") || !strings.Contains(got, "10.99.0.0/24") {
		t.Errorf("after an empty sync:\n%s", got)
	}
}
