package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// taskPIDs maps each running container id in the tests' namespace to its pid.
func taskPIDs(t *testing.T) map[string]string {
	t.Helper()
	out, err := exec.Command("ctr", "-n", ctrNS, "tasks", "ls").Output()
	if err != nil {
		t.Fatalf("ctr tasks ls: %v", err)
	}
	pids := map[string]string{}
	for _, line := range strings.Split(string(out), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) >= 3 && f[2] == "RUNNING" {
			pids[f[0]] = f[1]
		}
	}
	return pids
}

func containerIDs(ps []podJSON) []string {
	var ids []string
	for _, p := range ps {
		for _, cs := range p.Status.ContainerStatuses {
			ids = append(ids, cs.ContainerID)
		}
	}
	sort.Strings(ids)
	return ids
}

func podUIDs(ps []podJSON) []string {
	var ids []string
	for _, p := range ps {
		ids = append(ids, p.Metadata.UID)
	}
	sort.Strings(ids)
	return ids
}

func intentCount(c *cluster) int {
	out := c.mustGantry("events", "--stream", "intents", "-o", "json")
	return strings.Count(out, `"specversion"`)
}

// assertNothingLeft checks that no container, task, container snapshot, pod
// network namespace or veth of Gantry's remains.
func assertNothingLeft(t *testing.T, c *cluster, containers []string) {
	t.Helper()
	c.waitFor("containerd and the network to be clean", 60*time.Second, func() bool {
		return len(ctrList("containers")) == 0 && len(ctrList("tasks")) == 0 &&
			len(c.netnsList()) == 0 && len(vethsOnBridge()) == 0
	})
	snaps, _ := exec.Command("ctr", "-n", ctrNS, "snapshots", "ls").Output()
	for _, id := range containers {
		if strings.Contains(string(snaps), id) {
			t.Errorf("snapshot of container %s left behind", id)
		}
	}
}

func TestDemoDeploymentEndToEnd(t *testing.T) {
	c := newCluster(t)
	c.up()
	hello := filepath.Join(repoRoot, "deploy/examples/hello.yaml")
	if out := c.mustGantry("apply", "-f", hello); !strings.Contains(out, "deployment.apps/hello created") {
		t.Fatalf("apply: %q", out)
	}
	c.waitFor("3 running pods", 90*time.Second, func() bool { return len(c.runningPods()) == 3 })
	pods := c.runningPods()

	ips := map[string]bool{}
	for _, p := range pods {
		ips[p.Status.PodIP] = true
		body, err := httpGet(fmt.Sprintf("http://%s:8080/", p.Status.PodIP))
		if err != nil {
			t.Fatalf("GET pod %s at %s: %v", p.Metadata.Name, p.Status.PodIP, err)
		}
		if !strings.Contains(body, p.Metadata.Name) {
			t.Errorf("pod %s answered %q, want its name", p.Metadata.Name, body)
		}
	}
	if len(ips) != 3 {
		t.Fatalf("pod IPs are not distinct: %v", ips)
	}
	if logs := c.mustGantry("logs", pods[0].Metadata.Name); !strings.Contains(logs, "listening") || !strings.Contains(logs, "GET / from") {
		t.Errorf("logs of %s: %q", pods[0].Metadata.Name, logs)
	}
	wide := c.mustGantry("get", "pods", "-o", "wide")
	for _, p := range pods {
		if !strings.Contains(wide, p.Status.PodIP) || !strings.Contains(wide, "e2e-node") {
			t.Errorf("get pods -o wide misses %s/%s:\n%s", p.Metadata.Name, p.Status.PodIP, wide)
		}
	}
	if ev := c.mustGantry("events"); !strings.Contains(ev, "PodBound") || !strings.Contains(ev, "AdmissionAccepted") || !strings.Contains(ev, "PodStatusObserved") {
		t.Errorf("events miss the chain:\n%s", ev)
	}

	// kill -9 the whole of `gantry up` (NATS, services, node agent) and start
	// it again: every acknowledged intent is still in the log, and the pods
	// are the same pods in the same containers, none restarted or duplicated.
	intents := intentCount(c)
	uids, cids, pids := podUIDs(pods), containerIDs(pods), taskPIDs(t)
	c.procs[0].kill9(t)
	c.up()
	c.waitFor("3 running pods after restart", 60*time.Second, func() bool { return len(c.runningPods()) == 3 })
	after := c.runningPods()
	if got := podUIDs(after); strings.Join(got, ",") != strings.Join(uids, ",") {
		t.Errorf("pods changed across kill -9: %v → %v", uids, got)
	}
	if got := containerIDs(after); strings.Join(got, ",") != strings.Join(cids, ",") {
		t.Errorf("containers changed across kill -9: %v → %v", cids, got)
	}
	if got := taskPIDs(t); fmt.Sprint(got) != fmt.Sprint(pids) {
		t.Errorf("tasks restarted across kill -9: %v → %v", pids, got)
	}
	if n := len(ctrList("containers")); n != 3 {
		t.Errorf("containerd holds %d containers, want 3", n)
	}
	if got := intentCount(c); got != intents {
		t.Errorf("intents in the log: %d before kill -9, %d after", intents, got)
	}

	// Delete: nothing is left behind.
	if out := c.mustGantry("delete", "-f", hello); !strings.Contains(out, "deleted") {
		t.Fatalf("delete: %q", out)
	}
	if left := c.pods(); len(left) != 0 {
		t.Errorf("pods left after delete --wait: %d", len(left))
	}
	assertNothingLeft(t, c, cids)
}

func TestNodeAgentKill9AdoptsContainers(t *testing.T) {
	c := newCluster(t)
	c.up("--node=false")
	nodeArgs := []string{"node", "--nats", c.url, "--data-dir", c.dataDir, "--node-name", "e2e-node", "--containerd-namespace", ctrNS}
	agent := c.start(nodeArgs...)
	c.waitNodeReady()
	manifest := strings.Replace(readFile(t, filepath.Join(repoRoot, "deploy/examples/hello.yaml")), "replicas: 3", "replicas: 2", 1)
	if _, errOut, code := c.gantryIn(manifest, "apply", "-f", "-"); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	c.waitFor("2 running pods", 90*time.Second, func() bool { return len(c.runningPods()) == 2 })
	before := c.runningPods()
	cids, pids := containerIDs(before), taskPIDs(t)

	agent.kill9(t)
	c.start(nodeArgs...)
	// The restarted agent re-reports; wait until it has been heard from again.
	c.waitFor("the restarted agent's heartbeat", 30*time.Second, func() bool {
		return strings.Count(c.procs[len(c.procs)-1].out.String(), "node agent starting") == 1 &&
			len(c.runningPods()) == 2
	})
	if got := containerIDs(c.runningPods()); strings.Join(got, ",") != strings.Join(cids, ",") {
		t.Errorf("containers changed across the agent's kill -9: %v → %v", cids, got)
	}
	if got := taskPIDs(t); fmt.Sprint(got) != fmt.Sprint(pids) {
		t.Errorf("tasks restarted across the agent's kill -9: %v → %v", pids, got)
	}
	if n := len(ctrList("containers")); n != 2 {
		t.Errorf("containerd holds %d containers, want 2", n)
	}
	c.mustGantry("delete", "deployment", "hello")
	assertNothingLeft(t, c, cids)
}

func TestBadInputEndToEnd(t *testing.T) {
	c := newCluster(t)
	c.up()
	good := readFile(t, filepath.Join(repoRoot, "deploy/examples/hello.yaml"))
	cases := []struct {
		name, manifest string
		want           []string
	}{
		{"malformed yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x\n", []string{"document 1"}},
		{"unknown field", strings.Replace(good, "          ports:", "          imagePullPolicy: Never\n          ports:", 1),
			[]string{"spec.template.spec.containers[0].imagePullPolicy"}},
		{"not supported yet", strings.Replace(good, "          ports:", "          workingDir: /srv\n          ports:", 1),
			[]string{"spec.template.spec.containers[0].workingDir: not supported yet"}},
		{"bad name", strings.Replace(good, "name: hello\n  labels", "name: Hello_World\n  labels", 1), []string{"metadata.name"}},
		{"dotted name", strings.Replace(good, "name: hello\n  labels", "name: hello.world\n  labels", 1), []string{"metadata.name"}},
		{"selector not matching", strings.Replace(good, "    matchLabels:\n      app: hello", "    matchLabels:\n      app: other", 1), []string{"spec.selector"}},
		{"negative replicas", strings.Replace(good, "replicas: 3", "replicas: -2", 1), []string{"spec.replicas"}},
		{"bad quantity", strings.Replace(good, "memory: 16Mi", "memory: 16Mx", 1), []string{"resources.requests", "memory"}},
		{"unsupported kind", "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: x}\n", []string{"Ingress", "not supported"}},
	}
	for _, tc := range cases {
		out, errOut, code := c.gantryIn(tc.manifest, "apply", "-f", "-")
		if code == 0 {
			t.Errorf("%s: exit 0, want an error (stdout %q)", tc.name, out)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%s: error %q does not mention %q", tc.name, errOut, w)
			}
		}
	}
	if _, errOut, code := c.gantry("get", "pods", "nope"); code == 0 || !strings.Contains(errOut, `"nope" not found`) {
		t.Errorf("get of a missing pod: exit %d, %q", code, errOut)
	}

	// An image that is not there: the pod says so, nothing crashes.
	missing := strings.Replace(strings.Replace(good, "gantry.local/hello:v1", "gantry.local/nope:v1", 1), "name: hello\n  labels", "name: nope\n  labels", 1)
	if _, errOut, code := c.gantryIn(missing, "apply", "-f", "-"); code != 0 {
		t.Fatalf("apply of a missing image is valid input: %s", errOut)
	}
	c.waitFor("ErrImagePull in get pods", 90*time.Second, func() bool {
		out, _, _ := c.gantry("get", "pods")
		return strings.Contains(out, "ErrImagePull") || strings.Contains(out, "ImagePullBackOff")
	})
	c.mustGantry("delete", "deployment", "nope")

	// The cluster still works.
	one := strings.Replace(good, "replicas: 3", "replicas: 1", 1)
	if _, errOut, code := c.gantryIn(one, "apply", "-f", "-"); code != 0 {
		t.Fatalf("apply after bad input: %s", errOut)
	}
	c.waitFor("1 running pod", 60*time.Second, func() bool { return len(c.runningPods()) == 1 })
	c.mustGantry("delete", "deployment", "hello")
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := exec.Command("cat", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
