package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// svcRPSClientYAML is the pod whose network namespace the load generator
// runs in; the Services do not select it.
const svcRPSClientYAML = `apiVersion: v1
kind: Pod
metadata:
  name: rps-client
  labels: {app: rps-client}
spec:
  containers:
  - name: app
    image: gantry.local/hello:v1
`

// svcRPSMode is one way of loading the target: wrk's default keeps its
// connections open; "Connection: close" makes every request a new
// connection, so every request passes the proxy's NAT rules, not only the
// first packet of a long-lived connection.
type svcRPSMode struct {
	name    string
	seconds int
	args    []string
}

// BenchmarkServiceRPS measures requests per second through a ClusterIP
// Service's virtual IP against straight to a pod's IP, on one real
// containerd node. The demo Deployment (its readiness probed; its CPU limit
// taken off so that the pod's quota does not cap both paths alike and hide
// the proxy's cost, its CPU request raised to 500m so that its cgroup's
// weight does not starve it on a loaded machine) runs one replica behind
// the Service; wrk, run in a client pod's network namespace (ip netns
// exec), loads for a fixed duration at a fixed concurrency, alternating pod
// IP and virtual IP (pod, VIP, …, pod), in two modes (connections kept
// open; a new connection per request). Then the
// Deployment scales to 3 and the virtual IP is loaded again, for
// information. Last line: `SVC-RPS ratio=<vip/pod> vip_rps=… pod_rps=…`,
// the means of the kept-open runs. GANTRY_SVCRPS_SECONDS (default 10),
// GANTRY_SVCRPS_CONNS (default 32) and GANTRY_SVCRPS_ROUNDS (default 3
// pod/VIP pairs) change the load.
func BenchmarkServiceRPS(b *testing.B) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		b.Skip("wrk is not installed (go tool task bench:servicerps installs it)")
	}
	seconds := envInt(b, "GANTRY_SVCRPS_SECONDS", 10)
	conns := envInt(b, "GANTRY_SVCRPS_CONNS", 32)
	rounds := envInt(b, "GANTRY_SVCRPS_ROUNDS", 3)
	modes := []svcRPSMode{
		{name: "keepalive", seconds: seconds},
		// Shorter: each of its connections holds a conntrack entry for two
		// minutes after it closes.
		{name: "newconn", seconds: max(1, seconds/2), args: []string{"-H", "Connection: close"}},
	}

	c := newCluster(b)
	c.up()
	deploy := helloReady(b)
	for _, r := range [][2]string{
		{"  replicas: 3\n", "  replicas: 1\n"},
		{"            limits:\n              cpu: 200m\n              memory: 64Mi\n", ""},
		{"            requests:\n              cpu: 50m\n", "            requests:\n              cpu: 500m\n"},
	} {
		out := strings.Replace(deploy, r[0], r[1], 1)
		if out == deploy {
			b.Fatalf("deploy/examples/hello.yaml changed: no %q to replace", r[0])
		}
		deploy = out
	}
	for _, y := range []string{deploy, servicesYAML, svcRPSClientYAML} {
		if out, errOut, code := c.gantryIn(y, "apply", "-f", "-"); code != 0 {
			b.Fatalf("apply: %s%s", out, errOut)
		}
	}
	vip := c.serviceVIP("hello")
	var podIP, podName, netns string
	c.waitFor("hello's pod and the client to run ready", 60*time.Second, func() bool {
		podIP, netns = "", ""
		for _, p := range c.runningPods() {
			switch {
			case p.Metadata.Name == "rps-client":
				netns = "gantry-" + p.Metadata.UID
			case strings.HasPrefix(p.Metadata.Name, "hello-"):
				podIP, podName = p.Status.PodIP, p.Metadata.Name
			}
		}
		return podIP != "" && netns != ""
	})
	// wrk closes first when the server says Connection: close, so its
	// sockets wait in TIME_WAIT; without reuse, a run of new connections
	// exhausts the client's ports and connect() crawls (the pod's own
	// namespace, nothing else sees it).
	if out, err := exec.Command("ip", "netns", "exec", netns, "sysctl", "-qw", "net.ipv4.tcp_tw_reuse=1").CombinedOutput(); err != nil {
		b.Fatalf("tcp_tw_reuse in the client pod: %v\n%s", err, out)
	}
	podURL := "http://" + net.JoinHostPort(podIP, "8080") + "/"
	vipURL := "http://" + vip + "/"
	c.waitFor("the virtual IP to answer from the client pod", 30*time.Second, func() bool {
		out, err := inPod(netns, vipURL)
		return err == nil && strings.Contains(out, "hello from "+podName)
	})

	load := func(m svcRPSMode, target, url string) float64 {
		b.Helper()
		if m.name == "newconn" {
			waitConntrackRoom(b)
		}
		// Pod and virtual IP runs take their client ports from disjoint
		// ranges: a connection to the virtual IP DNATed to the pod has the
		// same reply tuple as a direct one from the same port, and one still
		// in conntrack's TIME_WAIT would make the other's SYN a clash, dropped.
		ports := "10000 34999"
		if target != "pod" {
			ports = "35000 60999"
		}
		if out, err := exec.Command("ip", "netns", "exec", netns, "sysctl", "-qw", "net.ipv4.ip_local_port_range="+ports).CombinedOutput(); err != nil {
			b.Fatalf("client port range: %v\n%s", err, out)
		}
		retrans := tcpRetrans(b, netns)
		args := append([]string{"netns", "exec", netns, wrk, "-t2", fmt.Sprintf("-c%d", conns),
			fmt.Sprintf("-d%ds", m.seconds)}, m.args...)
		out, err := exec.Command("ip", append(args, url)...).CombinedOutput()
		if err != nil {
			b.Fatalf("wrk %s %s: %v\n%s", m.name, target, err, out)
		}
		rps, errs := parseWrk(b, string(out))
		fmt.Printf("SVC-RPS-run mode=%s target=%s rps=%.0f client_retransmits=%d %s\n",
			m.name, target, rps, tcpRetrans(b, netns)-retrans, errs)
		return rps
	}

	type figures struct{ pod, vip1, vip3 []float64 }
	got := map[string]*figures{}
	for _, m := range modes {
		f := &figures{}
		got[m.name] = f
		for range rounds {
			f.pod = append(f.pod, load(m, "pod", podURL))
			f.vip1 = append(f.vip1, load(m, "vip1", vipURL))
		}
		// A last pod run makes the sequence symmetric: a drift of the
		// shared machine's load over the runs weighs on both means alike.
		f.pod = append(f.pod, load(m, "pod", podURL))
	}

	c.mustGantry("scale", "deploy/hello", "--replicas=3")
	c.waitFor("three ready pods behind the headless name", 60*time.Second, func() bool {
		rrs, _, err := lookup("hello-headless.default.svc.gantry.local", dns.TypeA)
		return err == nil && len(aRecords(rrs)) == 3
	})
	// The proxy's rules follow the same EndpointSlice as the name: wait until
	// requests through the virtual IP reach all three.
	c.waitFor("the virtual IP to reach three pods", 30*time.Second, func() bool {
		seen := map[string]bool{}
		for range 30 {
			if out, err := inPod(netns, vipURL); err == nil {
				seen[out] = true
			}
		}
		return len(seen) == 3
	})
	for _, m := range modes {
		for range 2 {
			got[m.name].vip3 = append(got[m.name].vip3, load(m, "vip3", vipURL))
		}
	}

	for _, m := range modes {
		f := got[m.name]
		fmt.Printf("SVC-RPS-detail mode=%s seconds=%d conns=%d pod_rps=%s vip1_rps=%s vip3_rps=%s ratio=%.3f vip3_ratio=%.3f\n",
			m.name, m.seconds, conns, joinRPS(f.pod), joinRPS(f.vip1), joinRPS(f.vip3),
			mean(f.vip1)/mean(f.pod), mean(f.vip3)/mean(f.pod))
	}
	f := got["keepalive"]
	fmt.Printf("SVC-RPS ratio=%.3f vip_rps=%.0f pod_rps=%.0f\n", mean(f.vip1)/mean(f.pod), mean(f.vip1), mean(f.pod))
}

// serviceVIP waits for a default-namespace Service's name to resolve
// through the node's DNS and returns its virtual IP.
func (c *cluster) serviceVIP(name string) string {
	c.t.Helper()
	var vip string
	c.waitFor(name+"'s name to resolve", 60*time.Second, func() bool {
		rrs, _, err := lookup(name+".default.svc.gantry.local", dns.TypeA)
		if a := aRecords(rrs); err == nil && len(a) == 1 {
			vip = a[0]
		}
		return vip != ""
	})
	return vip
}

var (
	wrkRPS  = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)
	wrkErrs = regexp.MustCompile(`(?m)^\s+(Socket errors:.*|Non-2xx or 3xx responses:.*)$`)
)

// parseWrk reads wrk's requests per second, and its error lines (empty
// when none) joined for printing.
func parseWrk(t testing.TB, out string) (float64, string) {
	t.Helper()
	m := wrkRPS.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no Requests/sec in wrk's output:\n%s", out)
	}
	rps, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	var errs []string
	for _, e := range wrkErrs.FindAllStringSubmatch(out, -1) {
		errs = append(errs, strings.ReplaceAll(strings.TrimSpace(e[1]), " ", ""))
	}
	return rps, strings.Join(errs, " ")
}

// waitConntrackRoom waits until the host's connection tracking table is at
// most half full, so that a run of new connections is not dropped for the
// closed ones of the run before.
func waitConntrackRoom(t testing.TB) {
	t.Helper()
	read := func(name string) int {
		v, err := os.ReadFile("/proc/sys/net/netfilter/" + name)
		if err != nil {
			return 0 // no conntrack module: nothing to wait for
		}
		n, _ := strconv.Atoi(strings.TrimSpace(string(v)))
		return n
	}
	deadline := time.Now().Add(3 * time.Minute)
	for max := read("nf_conntrack_max"); max > 0 && read("nf_conntrack_count") > max/2; {
		if time.Now().After(deadline) {
			t.Fatalf("the conntrack table still over half full (%d of %d) after 3 minutes", read("nf_conntrack_count"), max)
		}
		time.Sleep(time.Second) // polling interval
	}
}

// tcpRetrans is the TCP segments retransmitted so far in a network
// namespace (/proc/net/snmp's Tcp RetransSegs): a dropped SYN shows here.
func tcpRetrans(t testing.TB, netns string) int {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", netns, "cat", "/proc/net/snmp").Output()
	if err != nil {
		t.Fatalf("/proc/net/snmp in %s: %v", netns, err)
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Tcp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if n == "RetransSegs" && i < len(f) {
				v, _ := strconv.Atoi(f[i])
				return v
			}
		}
	}
	t.Fatalf("no Tcp RetransSegs in %s's /proc/net/snmp", netns)
	return 0
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func joinRPS(xs []float64) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.FormatFloat(x, 'f', 0, 64)
	}
	return strings.Join(s, "/")
}
