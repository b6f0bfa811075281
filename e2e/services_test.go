package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// servicesYAML puts the demo Deployment behind a ClusterIP Service (hello),
// a NodePort one (hello-np) and a headless one (hello-headless).
const servicesYAML = `apiVersion: v1
kind: Service
metadata: {name: hello}
spec:
  selector: {app: hello}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: hello-np}
spec:
  type: NodePort
  selector: {app: hello}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: hello-lb}
spec:
  type: LoadBalancer
  selector: {app: hello}
  ports: [{port: 8081, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: hello-headless}
spec:
  clusterIP: None
  selector: {app: hello}
  ports: [{name: http, port: 8080}]
`

// helloReady is the demo Deployment with a readiness probe: its pods get a
// Service's traffic once they answer, not as soon as they run.
func helloReady(t testing.TB) string {
	t.Helper()
	y := readFile(t, filepath.Join(repoRoot, "deploy/examples/hello.yaml"))
	out := strings.Replace(y, "            - containerPort: 8080\n",
		"            - containerPort: 8080\n          readinessProbe:\n            httpGet: {path: /ready, port: 8080}\n            periodSeconds: 1\n", 1)
	if out == y {
		t.Fatal("deploy/examples/hello.yaml changed: no containerPort 8080 line to add a probe after")
	}
	return out
}

// podGatewayAddr is the run's pods' gateway: the pod CIDR's first address,
// where the node's cluster DNS answers.
func podGatewayAddr() string {
	return netip.MustParsePrefix(podCIDR).Masked().Addr().Next().String()
}

// lookup asks the node's cluster DNS for name's records of type qtype.
func lookup(name string, qtype uint16) ([]dns.RR, int, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	c := &dns.Client{Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, net.JoinHostPort(podGatewayAddr(), "53"))
	if err != nil {
		return nil, 0, err
	}
	return r.Answer, r.Rcode, nil
}

func aRecords(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	return out
}

// inPod runs curl in a pod's network namespace (netns path) and returns
// its output.
func inPod(netns string, args ...string) (string, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", filepath.Base(netns), "curl", "-s", "--max-time", "2"}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// applyServices applies the demo Deployment (with its readiness probe),
// the Services and, with client, a one-pod client Deployment of its own;
// it waits until hello's name resolves and its three pods are behind the
// headless name, and returns hello's virtual IP and, with client, the
// client pod's network namespace.
func (c *cluster) applyServices(t *testing.T, client bool) (vip, clientNetns string) {
	t.Helper()
	docs := []string{helloReady(t), servicesYAML}
	if client {
		// The client is a pod of its own, which a rollout of hello leaves alone.
		docs = append(docs, strings.NewReplacer("name: hello\n", "name: client\n", "app: hello", "app: client", "replicas: 3", "replicas: 1").
			Replace(readFile(t, filepath.Join(repoRoot, "deploy/examples/hello.yaml"))))
	}
	for _, y := range docs {
		if out, errOut, code := c.gantryIn(y, "apply", "-f", "-"); code != 0 {
			t.Fatalf("apply: %s%s", out, errOut)
		}
	}
	c.waitFor("hello's name to resolve with three pods behind it", 60*time.Second, func() bool {
		rrs, _, err := lookup("hello.default.svc.gantry.local", dns.TypeA)
		hs, _, herr := lookup("hello-headless.default.svc.gantry.local", dns.TypeA)
		if a := aRecords(rrs); err == nil && herr == nil && len(a) == 1 && len(aRecords(hs)) == 3 {
			vip = a[0]
			return true
		}
		return false
	})
	if !client {
		return vip, ""
	}
	c.waitFor("the client pod", 60*time.Second, func() bool { return len(c.runningPods()) == 4 })
	for _, p := range c.runningPods() {
		if strings.HasPrefix(p.Metadata.Name, "client-") {
			clientNetns = "gantry-" + p.Metadata.UID
		}
	}
	return vip, clientNetns
}

// The demo Deployment (3 replicas, with a readiness probe) behind
// Services, on real containerd: the Service's name resolves to its virtual
// IP through the node's DNS; 300 requests through the virtual IP from
// inside a pod reach all three pods; the headless name returns the three
// pods; the NodePort and the load-balancer port answer from the host (the
// latter on the address its EXTERNAL-IP lists); port-forward reaches a pod;
// inside a pod, http://hello/ (the short name, through the pod's own
// resolv.conf) answers; a pod failing readiness gets no request through
// the virtual IP while unready and gets them again after; deleting the
// Service removes its name.
func TestServicesEndToEnd(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	c := newCluster(t)
	c.up()
	vip, _ := c.applyServices(t, false)
	pods := c.runningPods()
	if len(pods) != 3 {
		t.Fatalf("%d running pods", len(pods))
	}
	netns := ""
	for _, ns := range c.netnsList() {
		netns = ns
	}
	if netns == "" {
		t.Fatal("no pod network namespace")
	}

	// The pods' resolv.conf carries the search path, so "hello" alone is
	// hello.default.svc.gantry.local.
	resolv, err := os.ReadFile(podResolvConf(t, c))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(resolv), "search default.svc.gantry.local svc.gantry.local gantry.local") ||
		!strings.Contains(string(resolv), "nameserver "+podGatewayAddr()) {
		t.Errorf("a pod's resolv.conf:\n%s", resolv)
	}

	seen := map[string]int{}
	failed := 0
	for i := 0; i < 300; i++ {
		out, err := inPod(netns, "http://"+vip+"/")
		if err != nil {
			failed++
			continue
		}
		for _, p := range pods {
			if strings.Contains(out, p.Metadata.Name) {
				seen[p.Metadata.Name]++
			}
		}
	}
	if failed > 0 || len(seen) != 3 {
		t.Errorf("300 requests to %s from a pod: %d failed, pods answering %v", vip, failed, seen)
	}
	t.Logf("300 requests to %s (hello's virtual IP) from a pod: answered by %v", vip, seen)

	svcs := c.mustGantry("get", "svc", "hello-np")
	port := ""
	for _, f := range strings.Fields(svcs) {
		if strings.HasPrefix(f, "80:") {
			port = strings.TrimSuffix(strings.TrimPrefix(f, "80:"), "/TCP")
		}
	}
	if port == "" {
		t.Fatalf("no node port in:\n%s", svcs)
	}
	c.waitFor("the node port to answer from the host", 30*time.Second, func() bool {
		out, err := httpGet(fmt.Sprintf("http://127.0.0.1:%s/", port))
		if err != nil {
			if addr, aerr := nodeHostAddress(); aerr == nil {
				out, err = httpGet(fmt.Sprintf("http://%s:%s/", addr, port))
			}
		}
		return err == nil && strings.Contains(out, "hello-")
	})

	// gantry port-forward svc/hello relays through the node agent to one of
	// its pods.
	pf := c.start("port-forward", "svc/hello", ":80")
	var local string
	c.waitFor("port-forward to listen", 30*time.Second, func() bool {
		for _, line := range strings.Split(pf.out.String(), "\n") {
			if rest, ok := strings.CutPrefix(line, "Forwarding from 127.0.0.1:"); ok {
				local, _, _ = strings.Cut(rest, " ")
				return true
			}
		}
		return false
	})
	if out, err := httpGet("http://127.0.0.1:" + local + "/"); err != nil || !strings.Contains(out, "hello-") {
		t.Errorf("through port-forward: %q, %v\n%s", out, err, pf.out.String())
	}
	pf.stop()

	// A LoadBalancer is served as k3s' ServiceLB serves it: on the node's
	// address, which its EXTERNAL-IP lists.
	var ingress string
	c.waitFor("hello-lb's external IP", 30*time.Second, func() bool {
		f := strings.Fields(strings.Split(c.mustGantry("get", "svc", "hello-lb"), "\n")[1])
		if len(f) > 3 && f[3] != "<pending>" {
			ingress = f[3]
			return true
		}
		return false
	})
	c.waitFor("the load-balancer port to answer from the host", 30*time.Second, func() bool {
		out, err := httpGet("http://" + ingress + ":8081/")
		return err == nil && strings.Contains(out, "hello-")
	})

	// Inside a pod, "hello" alone is the Service, through the pod's own
	// resolv.conf (its search path) and the node's DNS.
	task := ""
	for _, id := range ctrList("tasks") {
		if strings.HasSuffix(id, "_hello") {
			task = id
		}
	}
	out, err := exec.Command("ctr", "-n", ctrNS, "tasks", "exec", "--exec-id", "fetch-short-name", task,
		"/app/hello", "fetch", "http://hello/").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "hello-") {
		t.Errorf("http://hello/ from inside a pod: %v: %s", err, out)
	}

	// A pod failing readiness gets no requests while unready, and gets
	// them again after.
	victim := pods[0]
	flip := func(state string) {
		t.Helper()
		resp, err := http.Post("http://"+victim.Status.PodIP+":8080/ready/"+state, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	headless := func(n int) func() bool {
		return func() bool {
			rrs, _, err := lookup("hello-headless.default.svc.gantry.local", dns.TypeA)
			return err == nil && len(aRecords(rrs)) == n
		}
	}
	flip("off")
	c.waitFor("the unready pod to leave the endpoints", 30*time.Second, headless(2))
	for i := 0; i < 60; i++ {
		out, err := freshGet("http://" + vip + "/")
		if err != nil || strings.Contains(out, victim.Metadata.Name) {
			t.Fatalf("request %d through the virtual IP while %s is unready: %q, %v", i, victim.Metadata.Name, out, err)
		}
	}
	flip("on")
	c.waitFor("the pod to come back to the endpoints", 30*time.Second, headless(3))
	c.waitFor("requests to reach it again", 30*time.Second, func() bool {
		out, err := freshGet("http://" + vip + "/")
		return err == nil && strings.Contains(out, victim.Metadata.Name)
	})

	c.mustGantry("delete", "svc", "hello")
	c.waitFor("hello's name to go", 30*time.Second, func() bool {
		_, rcode, err := lookup("hello.default.svc.gantry.local", dns.TypeA)
		return err == nil && rcode == dns.RcodeNameError
	})
}

// nodeHostAddress is the host's address on its default route, where the
// node serves its node ports.
func nodeHostAddress() (string, error) {
	out, err := exec.Command("ip", "-4", "route", "get", "192.0.2.1").Output()
	if err != nil {
		return "", err
	}
	f := strings.Fields(string(out))
	for i := range f {
		if f[i] == "src" && i+1 < len(f) {
			return f[i+1], nil
		}
	}
	return "", fmt.Errorf("no src in %q", out)
}

// podResolvConf is the path of one pod's resolv.conf in the node's state.
func podResolvConf(t *testing.T, c *cluster) string {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(c.dataDir, "node", "*", "resolv.conf"))
	if len(matches) == 0 {
		matches, _ = filepath.Glob(filepath.Join(c.dataDir, "node", "*", "*", "resolv.conf"))
	}
	if len(matches) == 0 {
		t.Fatalf("no pod resolv.conf under %s", filepath.Join(c.dataDir, "node"))
	}
	return matches[0]
}

// During a rolling update of the demo Deployment, a client in a pod
// looping requests through the Service's virtual IP sees no failed
// request: new pods join the endpoints when ready, old ones leave before
// they stop serving.
func TestServiceDuringARollingUpdate(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	c := newCluster(t)
	c.up()
	vip, netns := c.applyServices(t, true)
	c.mustGantry("rollout", "restart", "deploy/hello")
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _, _ = c.gantry("rollout", "status", "deploy/hello", "--timeout", "90s")
	}()
	requests, failures := 0, []string{}
	for {
		select {
		case <-done:
			if requests < 20 || len(failures) > 0 {
				t.Errorf("%d requests during the rollout, %d failed: %v", requests, len(failures), failures)
			}
			t.Logf("%d requests during the rollout, none failed", requests)
			return
		default:
		}
		out, err := inPod(netns, "-f", "http://"+vip+"/")
		requests++
		if err != nil || !strings.Contains(out, "hello-") {
			failures = append(failures, fmt.Sprintf("%v %q", err, out))
		}
	}
}

// freshGet GETs url on a connection of its own: each request is balanced
// anew (a kept-alive connection stays with the endpoint it reached).
func freshGet(url string) (string, error) {
	cl := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := cl.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// A node agent restarted (stopped, then started again) fails no request of
// a client in a pod looping through a Service's virtual IP: the rules stay
// in the kernel while the agent is down, and it reconciles them on start.
// Deleting the Service then removes its rules from the node.
func TestServiceSurvivesANodeAgentRestart(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	c := newCluster(t)
	c.up("--node=false")
	nodeDir := t.TempDir()
	startNode := func() *proc {
		return c.start("node", "--data-dir", nodeDir, "--node-name", "e2e-node", "--containerd-namespace", ctrNS,
			"--pod-bridge", podBridge, "--pod-cidr", podCIDR)
	}
	agent := startNode()
	c.waitNodeReady()
	vip, netns := c.applyServices(t, true)

	// The client loops until told to stop; ok counts its answers.
	var mu sync.Mutex
	ok, failures := 0, []string{}
	stop := make(chan struct{})
	looped := make(chan struct{})
	go func() {
		defer close(looped)
		for {
			select {
			case <-stop:
				return
			default:
			}
			out, err := inPod(netns, "-f", "http://"+vip+"/")
			mu.Lock()
			if err != nil || !strings.Contains(out, "hello-") {
				failures = append(failures, fmt.Sprintf("%v %q", err, out))
			} else {
				ok++
			}
			mu.Unlock()
		}
	}()
	answered := func(n int) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			return ok >= n
		}
	}
	c.waitFor("the client's first answers", 30*time.Second, answered(20))
	agent.stop()
	mu.Lock()
	before := ok
	mu.Unlock()
	c.waitFor("answers while the agent is down", 30*time.Second, answered(before+50))
	startNode()
	c.waitNodeReady()
	mu.Lock()
	restarted := ok
	mu.Unlock()
	c.waitFor("answers after the agent is back", 30*time.Second, answered(restarted+50))
	close(stop)
	<-looped
	if len(failures) > 0 {
		t.Errorf("%d requests answered, %d failed across the agent's restart: %v", ok, len(failures), failures)
	}
	t.Logf("%d requests answered across the agent's restart, none failed", ok)

	table := "gantry-" + podBridge
	if rules, err := exec.Command("nft", "list", "table", "ip", table).CombinedOutput(); err != nil || !strings.Contains(string(rules), vip) {
		t.Fatalf("table %s lacks %s: %v\n%s", table, vip, err, rules)
	}
	c.mustGantry("delete", "svc", "hello")
	c.waitFor("hello's rules to go from the node", 30*time.Second, func() bool {
		rules, err := exec.Command("nft", "list", "table", "ip", table).CombinedOutput()
		return err == nil && !strings.Contains(string(rules), vip)
	})
}
