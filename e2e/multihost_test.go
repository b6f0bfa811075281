package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/vishvananda/netns"

	"github.com/gantry-sh/gantry/node/network"
)

// pinnedHello is the demo Deployment's pods (deploy/examples/hello.yaml)
// as Deployment name, with replicas pods pinned to node.
func pinnedHello(name, node string, replicas int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s}
spec:
  replicas: %[3]d
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      nodeSelector: {kubernetes.io/hostname: %[2]s}
      containers:
        - name: hello
          image: gantry.local/hello:v1
          ports: [{containerPort: 8080}]
          resources: {requests: {cpu: 50m, memory: 16Mi}, limits: {cpu: 200m, memory: 64Mi}}
---
`, name, node, replicas)
}

// multiHostYAML is one pod on node A, two on node B, and a Service backed
// only by B's.
var multiHostYAML = pinnedHello("hello-a", "mh-a", 1) + pinnedHello("hello-b", "mh-b", 2) + `apiVersion: v1
kind: Service
metadata: {name: hello-b}
spec:
  selector: {app: hello-b}
  ports: [{name: http, port: 80, targetPort: 8080}]
`

// host is a network namespace standing in for a machine of the cluster.
type host struct {
	name   string // the node's name
	netns  string // the network namespace's name (ip netns)
	addr   string // its address on the hosts' bridge
	ctrNS  string // the node's containerd namespace
	bridge string // the node's pod bridge (inside the namespace)
}

// Two node agents on two "hosts" (network namespaces joined by a bridge in a
// namespace of its own), sharing this machine's containerd, each in a containerd namespace and
// state directory of its own, under a control plane reached across the
// hosts' network: both nodes get pod CIDRs of their own from ipam, each has
// a route to the other's pods through the other's address, a pod on A
// reaches a pod on B by its IP, and reaches B's pods through a Service's
// virtual IP, whose name A's node DNS resolves. Root and containerd are
// checked by TestMain (the end-to-end tests fail without them); missing
// tools or bridge support skip.
func TestMultiHost(t *testing.T) {
	began := time.Now()
	for _, tool := range []string{"ip", "nsenter", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (the multi-host test needs ip, nsenter and curl)", tool)
		}
	}
	if out, err := exec.Command("modprobe", "-n", "bridge").CombinedOutput(); err != nil {
		if _, serr := os.Stat("/sys/module/bridge"); serr != nil {
			t.Skipf("no Linux bridge support (modprobe -n bridge: %v: %s)", err, strings.TrimSpace(string(out)))
		}
	}
	pid := os.Getpid()
	net24, err := freeSubnet()
	if err != nil {
		t.Skip(err)
	}
	lan := fmt.Sprintf("mh-lan-%d", pid) // the namespace of the hosts' bridge
	gateway := net24 + ".1"
	hosts := []*host{
		{name: "mh-a", netns: fmt.Sprintf("mh-a-%d", pid), addr: net24 + ".11", ctrNS: fmt.Sprintf("gantry-mh-a-%d", pid), bridge: "gmha"},
		{name: "mh-b", netns: fmt.Sprintf("mh-b-%d", pid), addr: net24 + ".12", ctrNS: fmt.Sprintf("gantry-mh-b-%d", pid), bridge: "gmhb"},
	}
	// Cleanups run last registered first: the topology goes last, after the
	// cluster's processes and the nodes' containers.
	t.Cleanup(func() { removeHosts(lan, hosts) })
	if err := makeHosts(lan, gateway, hosts); err != nil {
		t.Fatalf("hosts' network: %v", err)
	}

	c := newCluster(t)
	c.up("--node=false")
	// The control plane listens on loopback, in this machine's network
	// namespace: this forwarder, on the hosts' bridge, stands in for the
	// network between the hosts and it. Each agent authenticates with its
	// node's own credentials (gantry node credentials).
	natsURL := forwardTCP(t, "/var/run/netns/"+lan, gateway+":0", c.listen)
	t.Cleanup(func() {
		for _, p := range c.procs {
			p.stop()
		}
		var wg sync.WaitGroup
		for _, h := range hosts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				removeContainers(h.ctrNS)
				removeNamespace(h.ctrNS)
			}()
		}
		wg.Wait()
	})
	for _, h := range hosts {
		if out, err := exec.Command(gantryBin, "image", "import", "--containerd-namespace", h.ctrNS, demoTar).CombinedOutput(); err != nil {
			t.Fatalf("import the demo image into %s: %v: %s", h.ctrNS, err, out)
		}
	}
	for _, h := range hosts {
		// nsenter, not `ip netns exec`: the latter gives the agent a mount
		// namespace of its own, and the pods' network namespaces it mounts
		// under /var/run/netns would be invisible to containerd.
		cmd := exec.Command("nsenter", "--net=/var/run/netns/"+h.netns, gantryBin, "node",
			"--nats", natsURL, "--node-name", h.name, "--node-ip", h.addr,
			"--containerd-namespace", h.ctrNS, "--data-dir", t.TempDir(), "--pod-bridge", h.bridge)
		cmd.Args = append(cmd.Args, c.nodeCreds(h.name)...)
		c.startCmd(cmd, "node-"+h.name)
	}
	cidrs := map[string]netip.Prefix{}
	c.waitFor("both nodes Ready with pod CIDRs of their own", 60*time.Second, func() bool {
		cidrs = readyNodeCIDRs(c)
		_, okA := cidrs["mh-a"]
		_, okB := cidrs["mh-b"]
		return okA && okB && cidrs["mh-a"] != cidrs["mh-b"]
	})
	a, b := hosts[0], hosts[1]
	t.Logf("%.1fs: nodes Ready: %s %s, %s %s", time.Since(began).Seconds(), a.name, cidrs[a.name], b.name, cidrs[b.name])

	if out, errOut, code := c.gantryIn(multiHostYAML, "apply", "-f", "-"); code != 0 {
		t.Fatalf("apply: %s%s", out, errOut)
	}
	var podA podJSON
	var podsB []podJSON
	c.waitFor("hello-a's pod running on mh-a and hello-b's two on mh-b", 60*time.Second, func() bool {
		podsB = nil
		n := 0
		for _, p := range c.runningPods() {
			ip, err := netip.ParseAddr(p.Status.PodIP)
			if err != nil || !cidrs[p.Spec.NodeName].Contains(ip) {
				continue
			}
			switch {
			case p.Spec.NodeName == a.name && strings.HasPrefix(p.Metadata.Name, "hello-a-"):
				podA, n = p, n+1
			case p.Spec.NodeName == b.name && strings.HasPrefix(p.Metadata.Name, "hello-b-"):
				podsB = append(podsB, p)
			}
		}
		return n == 1 && len(podsB) == 2
	})
	podNS := "gantry-" + podA.Metadata.UID
	if ok, _ := network.IsNetNS("/var/run/netns/" + podNS); !ok {
		t.Fatalf("pod %s's network namespace %s is not mounted", podA.Metadata.Name, podNS)
	}
	t.Logf("%.1fs: pods running: %s %s on %s, %s %s and %s %s on %s", time.Since(began).Seconds(),
		podA.Metadata.Name, podA.Status.PodIP, a.name, podsB[0].Metadata.Name, podsB[0].Status.PodIP,
		podsB[1].Metadata.Name, podsB[1].Status.PodIP, b.name)

	// Each host routes the other's pod CIDR through the other's address.
	for _, p := range [][2]*host{{a, b}, {b, a}} {
		from, to := p[0], p[1]
		want := fmt.Sprintf("%s via %s", cidrs[to.name], to.addr)
		c.waitFor(fmt.Sprintf("%s's route to %s's pods", from.name, to.name), 30*time.Second, func() bool {
			out, _ := exec.Command("ip", "-n", from.netns, "route", "show", cidrs[to.name].String()).Output()
			return strings.Contains(string(out), want)
		})
	}

	// A pod on A reaches a pod on B by its IP.
	ipB := podsB[0].Status.PodIP
	c.waitFor("a pod on mh-a to reach a pod on mh-b by its IP", 30*time.Second, func() bool {
		out, err := inPod(podNS, "http://"+net.JoinHostPort(ipB, "8080")+"/")
		return err == nil && strings.Contains(out, "hello from "+podsB[0].Metadata.Name)
	})
	// Pod to pod is not NATed: B's pod sees A's pod's address.
	if logs := c.mustGantry("logs", podsB[0].Metadata.Name); !strings.Contains(logs, "from "+podA.Status.PodIP+":") {
		t.Errorf("%s's log shows no request from %s (the pod on mh-a), pod to pod across nodes was NATed:\n%s",
			podsB[0].Metadata.Name, podA.Status.PodIP, logs)
	}

	// A's node DNS, on A's pods' gateway, resolves the Service's name to its
	// virtual IP; asked from inside A's pod, as the pod's resolver would.
	gwA := cidrs[a.name].Masked().Addr().Next().String()
	vip := ""
	c.waitFor("hello-b's name to resolve through mh-a's DNS", 30*time.Second, func() bool {
		rrs, err := lookupIn("/var/run/netns/"+podNS, gwA, "hello-b.default.svc.gantry.local")
		if addrs := aRecords(rrs); err == nil && len(addrs) == 1 {
			vip = addrs[0]
			return true
		}
		return false
	})
	if svc := c.mustGantry("get", "svc", "hello-b"); !strings.Contains(svc, " "+vip+" ") {
		t.Errorf("hello-b resolved to %s, get svc says:\n%s", vip, svc)
	}

	// The virtual IP, backed only by B's pods, answers a pod on A; the
	// requests reach both of B's pods.
	c.waitFor("hello-b's virtual IP to answer a pod on mh-a", 30*time.Second, func() bool {
		out, err := inPod(podNS, "http://"+vip+"/")
		return err == nil && strings.Contains(out, "hello from hello-b-")
	})
	seen := map[string]int{}
	failed := 0
	for i := 0; i < 30; i++ {
		out, err := inPod(podNS, "http://"+vip+"/")
		if err != nil {
			failed++
			continue
		}
		for _, p := range podsB {
			if strings.Contains(out, "hello from "+p.Metadata.Name) {
				seen[p.Metadata.Name]++
			}
		}
	}
	if failed > 0 || len(seen) != 2 {
		t.Errorf("30 requests to %s from %s on mh-a: %d failed, answered by %v (want both of hello-b's pods)", vip, podA.Metadata.Name, failed, seen)
	}
	t.Logf("%.1fs: 30 requests to hello-b (%s) from %s on mh-a: answered by %v", time.Since(began).Seconds(), vip, podA.Metadata.Name, seen)
}

// freeSubnet picks a 192.168.x.0/24 (as "192.168.x") that no address or
// route of this machine's namespace touches.
func freeSubnet() (string, error) {
	routes, err := exec.Command("ip", "-4", "route", "show", "table", "all").Output()
	if err != nil {
		return "", fmt.Errorf("ip route: %v", err)
	}
	addrs, err := exec.Command("ip", "-4", "addr").Output()
	if err != nil {
		return "", fmt.Errorf("ip addr: %v", err)
	}
	used := string(routes) + string(addrs)
	if strings.Contains(used, "192.168.0.0/16") || strings.Contains(used, "default via 192.168.") {
		return "", errors.New("this machine uses 192.168.0.0/16 as a whole: no subnet left for the hosts' network")
	}
	for i := 0; i < 150; i++ {
		x := 100 + (os.Getpid()+i)%150
		if !strings.Contains(used, fmt.Sprintf("192.168.%d.", x)) {
			return fmt.Sprintf("192.168.%d", x), nil
		}
	}
	return "", errors.New("no free 192.168.x.0/24 for the hosts' network")
}

// makeHosts makes the hosts' network: a namespace lan holding a bridge
// (address gateway), and a namespace per host with a veth on it, the
// host's address and a default route through the bridge. The bridge is in
// a namespace of its own, not this machine's, so the machine's firewall
// and NAT rules (bridged packets pass them when br_netfilter is loaded)
// stay out of the hosts' traffic.
func makeHosts(lan, gateway string, hosts []*host) error {
	cmds := [][]string{
		{"netns", "add", lan},
		{"-n", lan, "link", "add", "lan", "type", "bridge"},
		{"-n", lan, "addr", "add", gateway + "/24", "dev", "lan"},
		{"-n", lan, "link", "set", "lan", "up"},
		{"-n", lan, "link", "set", "lo", "up"},
	}
	for _, h := range hosts {
		cmds = append(cmds,
			[]string{"netns", "add", h.netns},
			[]string{"-n", lan, "link", "add", h.name, "type", "veth", "peer", "name", "eth0", "netns", h.netns},
			[]string{"-n", lan, "link", "set", h.name, "master", "lan", "up"},
			[]string{"-n", h.netns, "addr", "add", h.addr + "/24", "dev", "eth0"},
			[]string{"-n", h.netns, "link", "set", "eth0", "up"},
			[]string{"-n", h.netns, "link", "set", "lo", "up"},
			[]string{"-n", h.netns, "route", "add", "default", "via", gateway},
		)
	}
	for _, args := range cmds {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// removeHosts deletes the hosts' namespaces (with them their veths, pod
// bridges, routes, nftables tables and masquerade rules) and lan's.
func removeHosts(lan string, hosts []*host) {
	for _, h := range hosts {
		_ = exec.Command("ip", "netns", "delete", h.netns).Run()
	}
	_ = exec.Command("ip", "netns", "delete", lan).Run()
}

// inNetNS runs fn on a thread in the network namespace at nsPath: the
// sockets fn makes live there. If the thread cannot go back, it stays
// locked and ends with its goroutine.
func inNetNS(nsPath string, fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			done <- err
			return
		}
		defer orig.Close()
		target, err := netns.GetFromPath(nsPath)
		if err != nil {
			runtime.UnlockOSThread()
			done <- err
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			done <- err
			return
		}
		err = fn()
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		done <- err
	}()
	return <-done
}

// forwardTCP listens on listen in the network namespace at nsPath and
// forwards each connection to target, in this one, until the test ends; it
// returns the NATS URL of its listener.
func forwardTCP(t *testing.T, nsPath, listen, target string) string {
	t.Helper()
	var l net.Listener
	err := inNetNS(nsPath, func() (err error) {
		l, err = net.Listen("tcp", listen)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, in, out)
			mu.Unlock()
			wg.Add(2)
			pipe := func(dst, src net.Conn) {
				defer wg.Done()
				_, _ = io.Copy(dst, src)
				dst.Close()
				src.Close()
			}
			go pipe(in, out)
			go pipe(out, in)
		}
	}()
	return "nats://" + l.Addr().String()
}

// nodeJSON is the part of `gantry get nodes -o json` the test reads.
type nodeJSON struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		PodCIDR string `json:"podCIDR"`
	} `json:"spec"`
	Status struct {
		Conditions []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
		} `json:"conditions"`
	} `json:"status"`
}

// readyNodeCIDRs is the pod CIDR of each Ready node that has one.
func readyNodeCIDRs(c *cluster) map[string]netip.Prefix {
	out, _, code := c.gantry("get", "nodes", "-o", "json")
	var list struct {
		Items []nodeJSON `json:"items"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil {
		return nil
	}
	m := map[string]netip.Prefix{}
	for _, n := range list.Items {
		ready := false
		for _, cond := range n.Status.Conditions {
			ready = ready || cond.Type == "Ready" && cond.Status == "True"
		}
		if p, err := netip.ParsePrefix(n.Spec.PodCIDR); err == nil && ready {
			m[n.Metadata.Name] = p
		}
	}
	return m
}

// lookupIn asks server (port 53) for name's A records from inside the
// network namespace at nsPath, as a process there would.
func lookupIn(nsPath, server, name string) ([]dns.RR, error) {
	var rrs []dns.RR
	err := inNetNS(nsPath, func() error {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(name), dns.TypeA)
		cl := &dns.Client{Timeout: 2 * time.Second}
		r, _, err := cl.Exchange(m, net.JoinHostPort(server, "53"))
		if err != nil {
			return err
		}
		rrs = r.Answer
		return nil
	})
	return rrs, err
}
