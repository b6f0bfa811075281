package main

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/cli/clitest"
	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/node"
	"github.com/gantry-sh/gantry/node/sim"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/admission"
)

// drainNodes starts a node agent for each name, each offering 4 cpus; a
// container takes 300 ms to start, so a replacement is not ready at once.
func drainNodes(c *simCluster, names ...string) {
	for _, name := range names {
		c.addNode(name, sim.Config{MilliCPU: 4000, Memory: 8 << 30, StartDelay: 300 * time.Millisecond},
			node.Config{ResyncEvery: 100 * time.Millisecond, HeartbeatEvery: 200 * time.Millisecond})
	}
}

// webYAML is a Deployment of 3 whose pods ask for 1.5 cpus, so a node of 4
// holds two at most (on two nodes: two on one, one on the other), and a
// budget that keeps 2 of them available.
var webYAML = strings.NewReplacer("REPLICAS", "3", "cpu: 100m", "cpu: 1500m").Replace(deploymentYAML) + `---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: web-pdb
spec:
  minAvailable: 2
  selector:
    matchLabels: {app: web}
`

// runningOn waits until n pods whose names start with prefix run and are
// ready, and returns them by node.
func runningOn(t *testing.T, conn *bus.Conn, prefix string, n int) map[string][]string {
	t.Helper()
	var byNode map[string][]string
	deadline := time.Now().Add(30 * time.Second)
	for {
		byNode = map[string][]string{}
		count := 0
		for _, p := range kvAll[projections.Pod](t, conn, bus.BucketPods) {
			if strings.HasPrefix(p.Name, prefix) && p.Healthy() {
				byNode[p.Node] = append(byNode[p.Node], p.Name)
				count++
			}
		}
		if count == n {
			return byNode
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d running pods of %s, want %d: %v", count, prefix, n, byNode)
		}
		time.Sleep(20 * time.Millisecond) // polling
	}
}

// Drain a node that holds two of a Deployment's three pods under a budget
// of minAvailable 2: drain evicts one, waits for the budget while its
// replacement starts elsewhere, then evicts the other, and ends once both
// are gone. Replayed from the log, never fewer than 2 of the pods were
// available at any instant, and the second eviction was refused (in the
// log) until the first replacement ran.
func TestDrainHonoursAPodDisruptionBudget(t *testing.T) {
	c := newSimCluster(t)
	drainNodes(c, "n1", "n2")
	conn, gantry := c.conn, c.gantry
	c.apply(webYAML)
	byNode := runningOn(t, conn, "web-", 3)
	drainNodes(c, "n3") // room for the replacements
	var victim string
	for n, pods := range byNode {
		if len(pods) == 2 {
			victim = n
		}
	}
	if victim == "" {
		t.Fatalf("no node holds two of the pods: %v", byNode)
	}
	clitest.Eventually(t, "the budget's status", func() bool {
		code, out, _ := gantry("get", "pdb")
		return code == 0 && strings.Contains(out, "web-pdb   2               N/A               1")
	})

	code, out, errOut := gantry("node", "drain", victim, "--timeout=60s")
	t.Logf("drain:\n%s%s", out, errOut)
	if code != 0 {
		t.Fatalf("drain exited %d", code)
	}
	evicted := byNode[victim]
	sort.Strings(evicted)
	for _, want := range []string{
		"node/" + victim + " cordoned\n",
		"evicting pod default/" + evicted[0] + "\n",
		"evicting pod default/" + evicted[1] + "\n",
		"waiting for PodDisruptionBudget default/web-pdb (0 disruptions allowed)\n",
		"pod/" + evicted[0] + " evicted\n",
		"pod/" + evicted[1] + " evicted\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("drain's output lacks %q", want)
		}
	}
	if !strings.HasSuffix(out, "node/"+victim+" drained\n") {
		t.Errorf("drain's output does not end with node/%s drained", victim)
	}
	after := runningOn(t, conn, "web-", 3)
	if len(after[victim]) != 0 {
		t.Errorf("pods on the drained node: %v", after)
	}

	// The log, replayed: each pod available from its node's report of it
	// running and ready until its deletion is decided (or its node reports
	// it otherwise); counted after every record once all 3 were up.
	recs := append(streamRecords(t, conn, events.StreamDecisions, events.SubjectPodDecAll),
		streamRecords(t, conn, events.StreamObservations, events.SubjectObsPodAll)...)
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Envelope.Time.Before(recs[j].Envelope.Time) })
	up, deleted := map[string]bool{}, map[string]bool{}
	evictions, least, counting := 0, 3, false
	for _, r := range recs {
		switch e := r.Event.(type) {
		case *events.PodStatusObserved:
			if strings.HasPrefix(e.Name, "web-") {
				up[e.UID] = e.Phase == events.PhaseRunning && len(e.Containers) > 0 && e.Containers[0].Ready
			}
		case *events.PodDeleted:
			deleted[e.UID] = true
			if e.Reason == admission.ReasonEvicted {
				evictions++
			}
		case *events.PodRemoved:
			up[e.UID] = false
		}
		n := 0
		for uid, ok := range up {
			if ok && !deleted[uid] {
				n++
			}
		}
		counting = counting || n == 3
		if counting && n < least {
			least = n
			t.Logf("%d available after %s %s", n, r.Event.Type(), r.Subject)
		}
	}
	if least < 2 {
		t.Errorf("%d pods available at one instant, the budget wants 2", least)
	}
	if evictions != 2 {
		t.Errorf("%d evictions in the log, want 2", evictions)
	}
	refused := 0
	for _, r := range streamRecords(t, conn, events.StreamDecisions, events.SubjectAdmissionAll) {
		if e, ok := r.Event.(*events.AdmissionRejected); ok && e.Op == events.OpEvict {
			if e.Code != events.RejectTooManyRequests || len(e.Causes) != 1 || e.Causes[0].Object != "default/web-pdb" {
				t.Errorf("refusal %+v", e)
			}
			refused++
		}
	}
	if refused == 0 {
		t.Error("no eviction refused in the log")
	}
}

// Drain refuses a node that runs DaemonSet pods unless told to leave them,
// and gives up at its timeout, non-zero, naming the budget it waited for.
func TestDrainRefusesDaemonSetPodsAndTimesOut(t *testing.T) {
	c := newSimCluster(t)
	drainNodes(c, "n1")
	gantry := c.gantry
	c.apply(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 1
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
        - {name: api, image: gantry.local/hello:v1}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: api-pdb
spec:
  maxUnavailable: 0
  selector:
    matchLabels: {app: api}
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      containers:
        - {name: agent, image: gantry.local/hello:v1}
`)
	api, agent := runningOn(t, c.conn, "api-", 1)["n1"][0], runningOn(t, c.conn, "agent-", 1)["n1"][0]

	code, out, errOut := gantry("node", "drain", "n1")
	if code != 1 || out != "node/n1 cordoned\n" ||
		errOut != `error: unable to drain node "n1": cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): default/`+agent+"\n" {
		t.Errorf("drain without --ignore-daemonsets: %d\n%s%s", code, out, errOut)
	}

	began := time.Now()
	code, out, errOut = gantry("node", "drain", "n1", "--ignore-daemonsets", "--timeout=2s")
	if code != 1 || time.Since(began) > 20*time.Second {
		t.Errorf("drain exited %d after %s, want 1 at its timeout", code, time.Since(began))
	}
	for _, want := range []string{
		"evicting pod default/" + api + "\n",
		"evicting pod default/" + api + ": waiting for PodDisruptionBudget default/api-pdb (0 disruptions allowed)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("drain's output lacks %q:\n%s", want, out)
		}
	}
	for _, want := range []string{
		"Warning: ignoring DaemonSet-managed Pods: default/" + agent + "\n",
		`error: unable to drain node "n1": global timeout reached: 2s; still on the node: default/` + api +
			" (waiting for PodDisruptionBudget default/api-pdb)\n",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("drain's errors lack %q:\n%s", want, errOut)
		}
	}
	code, out, _ = gantry("get", "pdb", "api-pdb")
	if code != 0 || !strings.Contains(out, "NAME      MIN AVAILABLE   MAX UNAVAILABLE   ALLOWED DISRUPTIONS   AGE\n") ||
		!strings.Contains(out, "api-pdb   N/A             0                 0                     ") {
		t.Errorf("get pdb:\n%s", out)
	}
	code, out, _ = gantry("describe", "pdb", "api-pdb")
	t.Logf("describe:\n%s", out)
	for _, want := range []string{"Max unavailable:", "Allowed disruptions:", "Current:", "Desired:", "Total:"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("describe pdb lacks %q", want)
		}
	}
}
