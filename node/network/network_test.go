package network

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/pkg/netns"
	cnins "github.com/containernetworking/plugins/pkg/ns"
	"github.com/rs/zerolog"
)

// Each test run has its own bridge and subnet, apart from a running agent's
// (gantry0, 10.42.0.0/24) and from the containerd package's tests.
var (
	testBridge = fmt.Sprintf("gtn%d", os.Getpid())
	testCIDR   = fmt.Sprintf("10.42.%d.0/24", 200+os.Getpid()%50)
)

func TestMain(m *testing.M) {
	code := m.Run()
	exec.Command("ip", "link", "del", testBridge).Run()
	if err := RemoveMasqueradeRule(context.Background(), testCIDR, testBridge); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the network tests need root (network namespaces, CNI)")
	}
}

func newTestNetwork(t *testing.T) (*Network, string) {
	t.Helper()
	needRoot(t)
	nsDir := t.TempDir()
	state := t.TempDir()
	n, err := New(Config{PodCIDR: testCIDR, BridgeName: testBridge, StateDir: state, NetNSDir: nsDir}, zerolog.New(zerolog.NewTestWriter(t)))
	if err != nil {
		t.Fatal(err)
	}
	return n, state
}

func TestNetNSLifecycle(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	p, err := CreateNetNS(dir, "gantry-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { RemoveNetNS(p) })
	if ok, err := IsNetNS(p); !ok || err != nil {
		t.Fatalf("IsNetNS = %v, %v", ok, err)
	}
	// Idempotent: the same namespace comes back.
	var before, after os.FileInfo
	before, _ = os.Stat(p)
	if p2, err := CreateNetNS(dir, "gantry-test"); err != nil || p2 != p {
		t.Fatalf("CreateNetNS again = %q, %v", p2, err)
	}
	after, _ = os.Stat(p)
	if !os.SameFile(before, after) {
		t.Fatal("CreateNetNS again made a new namespace")
	}
	// It is a namespace of its own, not the host's.
	self, _ := os.Stat("/proc/self/ns/net")
	if os.SameFile(self, after) {
		t.Fatal("the namespace is the host's")
	}
	if err := RemoveNetNS(p); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("netns file after remove: %v", err)
	}
	if err := RemoveNetNS(p); err != nil {
		t.Fatalf("second remove: %v", err)
	}
	if ok, err := IsNetNS(p); ok || err != nil {
		t.Fatalf("IsNetNS of removed = %v, %v", ok, err)
	}
	if _, err := CreateNetNS(dir, "../escape"); err == nil {
		t.Fatal("a name with a path was accepted")
	}
}

func TestSetupReachableFromHostAndTeardown(t *testing.T) {
	n, state := newTestNetwork(t)
	ctx := context.Background()
	id := fmt.Sprintf("nettest-%d", os.Getpid())
	p, err := CreateNetNS(n.Config().NetNSDir, "gantry-"+id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.Teardown(context.Background(), id, p)
		RemoveNetNS(p)
	})
	ip, err := n.Setup(ctx, id, p)
	if err != nil {
		t.Fatal(err)
	}
	_, subnet, _ := net.ParseCIDR(testCIDR)
	if !subnet.Contains(net.ParseIP(ip)) {
		t.Fatalf("IP %s not in %s", ip, testCIDR)
	}
	lease := filepath.Join(state, "ipam", DefaultNetworkName, ip)
	if _, err := os.Stat(lease); err != nil {
		t.Fatalf("lease: %v", err)
	}

	// A listener inside the namespace answers the host on the pod IP.
	var ln net.Listener
	err = netns.LoadNetNS(p).Do(func(cnins.NetNS) error {
		var err error
		ln, err = net.Listen("tcp", net.JoinHostPort(ip, "0"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		io.WriteString(c, "pong\n")
		c.Close()
	}()
	conn, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatalf("host cannot reach the pod IP: %v", err)
	}
	b, _ := io.ReadAll(conn)
	conn.Close()
	if string(b) != "pong\n" {
		t.Fatalf("read %q", b)
	}

	// Only lo and eth0 inside; eth0 has the IP.
	var ifaces []string
	netns.LoadNetNS(p).Do(func(cnins.NetNS) error {
		list, _ := net.Interfaces()
		for _, i := range list {
			ifaces = append(ifaces, i.Name)
		}
		return nil
	})
	if strings.Join(ifaces, ",") != "lo,eth0" {
		t.Fatalf("interfaces in the namespace: %v", ifaces)
	}
	ports := bridgePorts(t)
	if len(ports) != 1 {
		t.Fatalf("bridge ports %v, want one veth", ports)
	}

	if err := n.Teardown(ctx, id, p); err != nil {
		t.Fatal(err)
	}
	if got := bridgePorts(t); len(got) != 0 {
		t.Fatalf("bridge ports after teardown: %v", got)
	}
	if _, err := os.Stat(lease); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("lease after teardown: %v", err)
	}
	if err := n.Teardown(ctx, id, p); err != nil {
		t.Fatalf("second teardown: %v", err)
	}
	if err := RemoveNetNS(p); err != nil {
		t.Fatal(err)
	}
	if err := n.Teardown(ctx, id, p); err != nil {
		t.Fatalf("teardown without namespace: %v", err)
	}
}

// A namespace that vanishes (or loses its interface) before CNI DEL leaves
// the bridge plugin's masquerade rules behind; Teardown removes them, so the
// id can be set up and torn down again.
func TestTeardownAfterNamespaceVanished(t *testing.T) {
	n, state := newTestNetwork(t)
	ctx := context.Background()
	id := fmt.Sprintf("nettest-gone-%d", os.Getpid())
	chain := masqChain(DefaultNetworkName, id)
	chainExists := func() bool {
		return exec.Command("iptables", "-w", "-t", "nat", "-n", "-L", chain).Run() == nil
	}
	jumps := func() bool {
		out, _ := exec.Command("iptables", "-w", "-t", "nat", "-S", "POSTROUTING").Output()
		return strings.Contains(string(out), chain)
	}
	p := filepath.Join(n.Config().NetNSDir, "gantry-"+id)
	t.Cleanup(func() {
		n.Teardown(context.Background(), id, p)
		RemoveNetNS(p)
	})
	var ips []string
	for round, vanish := range []func() error{
		func() error { return RemoveNetNS(p) }, // the namespace is gone
		func() error { // a fresh namespace without the pod's interface
			if err := RemoveNetNS(p); err != nil {
				return err
			}
			_, err := CreateNetNS(n.Config().NetNSDir, "gantry-"+id)
			return err
		},
	} {
		if _, err := CreateNetNS(n.Config().NetNSDir, "gantry-"+id); err != nil {
			t.Fatal(err)
		}
		ip, err := n.Setup(ctx, id, p)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		ips = append(ips, ip)
		// One node-wide rule masquerades the pods; no chain per pod.
		if chainExists() || jumps() {
			t.Fatalf("round %d: a masquerade chain %s per pod after setup", round, chain)
		}
		rule := append([]string{"-w", "-t", "nat", "-C"}, masqueradeRule(testCIDR, testCIDR, testBridge)...)
		if err := exec.Command("iptables", rule...).Run(); err != nil {
			t.Fatalf("round %d: node masquerade rule missing: %v", round, err)
		}
		if err := vanish(); err != nil {
			t.Fatal(err)
		}
		if err := n.Teardown(ctx, id, p); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if chainExists() || jumps() {
			t.Fatalf("round %d: masquerade chain %s left", round, chain)
		}
	}
	for _, ip := range ips {
		if _, err := os.Stat(filepath.Join(state, "ipam", DefaultNetworkName, ip)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("lease of %s: %v", ip, err)
		}
	}
}

func TestTwoNamespacesGetDistinctIPs(t *testing.T) {
	n, _ := newTestNetwork(t)
	ctx := context.Background()
	seen := map[string]bool{}
	for i := 0; i < 2; i++ {
		id := fmt.Sprintf("nettest-%d-%d", os.Getpid(), i)
		p, err := CreateNetNS(n.Config().NetNSDir, "gantry-"+id)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := n.Teardown(context.Background(), id, p); err != nil {
				t.Error(err)
			}
			RemoveNetNS(p)
		})
		ip, err := n.Setup(ctx, id, p)
		if err != nil {
			t.Fatal(err)
		}
		if seen[ip] {
			t.Fatalf("IP %s given twice", ip)
		}
		seen[ip] = true
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{
		{StateDir: ""},
		{StateDir: t.TempDir(), PodCIDR: "nonsense"},
		{StateDir: t.TempDir(), PodCIDR: "fd00::/64"},
		{StateDir: t.TempDir(), BridgeName: "a-name-longer-than-15"},
		{StateDir: t.TempDir(), PluginDirs: []string{t.TempDir()}},
	} {
		if _, err := New(c, zerolog.Nop()); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
}

func bridgePorts(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("ip", "-o", "link", "show", "master", testBridge).Output()
	if err != nil {
		t.Fatalf("ip link: %v", err)
	}
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(line); len(f) >= 2 {
			names = append(names, f[1])
		}
	}
	return names
}

// The masquerade rule leaves the cluster's pods out (pod to pod across
// nodes keeps its source) and replaces the node's older rule, which left
// out only its own pods; a pod CIDR outside the cluster CIDR keeps the
// one-node rule. RemoveMasqueradeRule removes whichever is there.
func TestMasqueradeLeavesTheClusterOut(t *testing.T) {
	needRoot(t)
	has := func(dst string) bool {
		rule := append([]string{"-w", "-t", "nat", "-C"}, masqueradeRule(testCIDR, dst, testBridge)...)
		return exec.Command("iptables", rule...).Run() == nil
	}
	old := append([]string{"-w", "-t", "nat", "-A"}, masqueradeRule(testCIDR, testCIDR, testBridge)...)
	if out, err := exec.Command("iptables", old...).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	t.Cleanup(func() { _ = RemoveMasqueradeRule(context.Background(), testCIDR, testBridge) })
	log := zerolog.New(zerolog.NewTestWriter(t))
	if _, err := New(Config{PodCIDR: testCIDR, ClusterCIDR: "10.42.0.0/16", BridgeName: testBridge, StateDir: t.TempDir(), NetNSDir: t.TempDir()}, log); err != nil {
		t.Fatal(err)
	}
	if !has("10.42.0.0/16") || has(testCIDR) {
		t.Fatalf("after New with the cluster CIDR: cluster rule %v, node-only rule %v; want true, false", has("10.42.0.0/16"), has(testCIDR))
	}
	if _, err := New(Config{PodCIDR: testCIDR, ClusterCIDR: "10.99.0.0/16", BridgeName: testBridge, StateDir: t.TempDir(), NetNSDir: t.TempDir()}, log); err != nil {
		t.Fatal(err)
	}
	if has("10.42.0.0/16") || !has(testCIDR) {
		t.Fatalf("pod CIDR outside the cluster CIDR: cluster rule %v, node-only rule %v; want false, true", has("10.42.0.0/16"), has(testCIDR))
	}
	if err := RemoveMasqueradeRule(context.Background(), testCIDR, testBridge); err != nil {
		t.Fatal(err)
	}
	if has(testCIDR) || has("10.42.0.0/16") {
		t.Fatal("a masquerade rule left after RemoveMasqueradeRule")
	}
}
