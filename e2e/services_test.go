package e2e

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// The demo Deployment (3 replicas) behind Services, on real containerd:
// the Service's name resolves to its virtual IP through the node's DNS and
// the pods' search path, 300 requests through the virtual IP from inside a
// pod reach all three pods, the headless name returns the three pods, and
// the NodePort answers from the host, port-forward reaches a pod. Deleting
// the Service removes its name.
func TestServicesEndToEnd(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	c := newCluster(t)
	c.up()
	if out, errOut, code := c.gantryIn(helloReady(t), "apply", "-f", "-"); code != 0 {
		t.Fatalf("apply hello: %s%s", out, errOut)
	}
	if out, errOut, code := c.gantryIn(servicesYAML, "apply", "-f", "-"); code != 0 {
		t.Fatalf("apply services: %s%s", out, errOut)
	}
	var vip string
	c.waitFor("hello's name to resolve", 60*time.Second, func() bool {
		rrs, _, err := lookup("hello.default.svc.gantry.local", dns.TypeA)
		if a := aRecords(rrs); err == nil && len(a) == 1 {
			vip = a[0]
			return true
		}
		return false
	})
	c.waitFor("three pods behind the headless name", 60*time.Second, func() bool {
		rrs, _, err := lookup("hello-headless.default.svc.gantry.local", dns.TypeA)
		return err == nil && len(aRecords(rrs)) == 3
	})
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
	if out, errOut, code := c.gantryIn(helloReady(t), "apply", "-f", "-"); code != 0 {
		t.Fatalf("apply hello: %s%s", out, errOut)
	}
	if out, errOut, code := c.gantryIn(servicesYAML, "apply", "-f", "-"); code != 0 {
		t.Fatalf("apply services: %s%s", out, errOut)
	}
	var vip string
	c.waitFor("hello's name to resolve", 60*time.Second, func() bool {
		rrs, _, err := lookup("hello.default.svc.gantry.local", dns.TypeA)
		if a := aRecords(rrs); err == nil && len(a) == 1 {
			vip = a[0]
			return true
		}
		return false
	})
	// The client is a pod of its own, which the rollout leaves alone.
	client := strings.NewReplacer("name: hello\n", "name: client\n", "app: hello", "app: client", "replicas: 3", "replicas: 1").
		Replace(readFile(t, filepath.Join(repoRoot, "deploy/examples/hello.yaml")))
	if out, errOut, code := c.gantryIn(client, "apply", "-f", "-"); code != 0 {
		t.Fatalf("apply the client: %s%s", out, errOut)
	}
	c.waitFor("four ready pods", 60*time.Second, func() bool { return len(c.runningPods()) == 4 })
	netns := ""
	for _, p := range c.runningPods() {
		if strings.HasPrefix(p.Metadata.Name, "client-") {
			netns = "gantry-" + p.Metadata.UID
		}
	}
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
