package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// probePods are the pods of TestProbesEndToEnd, each the demo image shaped
// by its environment to fail one way.
const probePods = `
# live turns unhealthy 2 s into each run: its liveness probe restarts it.
apiVersion: v1
kind: Pod
metadata: {name: live}
spec:
  containers:
  - name: app
    image: gantry.local/hello:v1
    ports: [{name: http, containerPort: 8080}]
    env: [{name: HELLO_UNHEALTHY_AFTER, value: 2s}]
    livenessProbe:
      httpGet: {path: /healthz, port: http}
      periodSeconds: 1
      failureThreshold: 1
---
# unready stops being ready 8 s into its run (long enough to be seen Ready
# on a loaded machine): Ready flips, nothing restarts.
apiVersion: v1
kind: Pod
metadata: {name: unready}
spec:
  containers:
  - name: app
    image: gantry.local/hello:v1
    env: [{name: HELLO_UNREADY_AFTER, value: 8s}]
    readinessProbe:
      httpGet: {path: /ready, port: 8080}
      periodSeconds: 1
      failureThreshold: 1
---
# slow listens only after 4 s: its liveness probe (tcpSocket) would kill
# it at once, but the startup probe holds liveness back until it listens.
apiVersion: v1
kind: Pod
metadata: {name: slow}
spec:
  containers:
  - name: app
    image: gantry.local/hello:v1
    env: [{name: HELLO_START_DELAY, value: 4s}]
    startupProbe:
      tcpSocket: {port: 8080}
      periodSeconds: 1
      failureThreshold: 20
    livenessProbe:
      tcpSocket: {port: 8080}
      periodSeconds: 1
      failureThreshold: 1
---
# checked runs its exec readiness probe in the container.
apiVersion: v1
kind: Pod
metadata: {name: checked}
spec:
  containers:
  - name: app
    image: gantry.local/hello:v1
    readinessProbe:
      exec: {command: [/app/hello, probe, /healthz]}
      periodSeconds: 1
      timeoutSeconds: 5
---
# hooked's postStart hook fails (/nope answers 404): it is killed and
# restarted, again and again.
apiVersion: v1
kind: Pod
metadata: {name: hooked}
spec:
  containers:
  - name: app
    image: gantry.local/hello:v1
    lifecycle:
      postStart:
        exec: {command: [/app/hello, probe, /nope]}
---
# calm and busy are ready only while the queue_depth in their /status JSON
# is below 10: a CEL check over the response.
apiVersion: v1
kind: Pod
metadata: {name: calm}
spec:
  containers:
  - name: app
    image: gantry.local/hello:v1
    env: [{name: HELLO_QUEUE_DEPTH, value: "4"}]
    readinessProbe:
      httpGet: {path: /status, port: 8080, cel: "response.status == 200 && response.json.queue_depth < 10"}
      periodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata: {name: busy}
spec:
  containers:
  - name: app
    image: gantry.local/hello:v1
    env: [{name: HELLO_QUEUE_DEPTH, value: "50"}]
    readinessProbe:
      httpGet: {path: /status, port: 8080, cel: "response.status == 200 && response.json.queue_depth < 10"}
      periodSeconds: 1
`

// podRow is a pod's row of `gantry get pods`: READY, STATUS, RESTARTS.
func (c *cluster) podRow(name string) (ready, status, restarts string) {
	c.t.Helper()
	out, _, _ := c.gantry("get", "pods", name)
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 4 && f[0] == name {
			return f[1], f[2], f[3]
		}
	}
	return "", "", ""
}

func (c *cluster) pod(name string) (podJSON, bool) {
	for _, p := range c.pods() {
		if p.Metadata.Name == name {
			return p, true
		}
	}
	return podJSON{}, false
}

// Probes on real containerd, made by the node agent from the host: liveness
// failure restarts the container; readiness failure flips Ready without a
// restart; a startup probe holds liveness back; an exec probe runs in the
// container; a failing postStart hook kills its container; a CEL check
// judges the demo app's JSON.
func TestProbesEndToEnd(t *testing.T) {
	c := newCluster(t)
	c.up()
	c.mustGantry("apply", "-f", writeYAML(t, "probes.yaml", probePods))

	// unready is Ready only for its first 8 s: watched first, as the other
	// waits can outlast that window on a loaded machine.
	c.waitFor("unready Ready", 30*time.Second, func() bool { r, _, _ := c.podRow("unready"); return r == "1/1" })
	c.waitFor("live restarted by its liveness probe", 60*time.Second, func() bool {
		p, ok := c.pod("live")
		return ok && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 1
	})
	c.waitFor("unready not Ready", 30*time.Second, func() bool { r, _, _ := c.podRow("unready"); return r == "0/1" })
	if ready, status, restarts := c.podRow("unready"); status != "Running" || restarts != "0" {
		t.Errorf("unready: READY %s STATUS %s RESTARTS %s, want Running and no restart", ready, status, restarts)
	}

	c.waitFor("slow started and Ready", 60*time.Second, func() bool { r, _, _ := c.podRow("slow"); return r == "1/1" })
	if _, _, restarts := c.podRow("slow"); restarts != "0" {
		t.Errorf("slow was restarted %s times: the startup probe did not hold liveness back", restarts)
	}

	c.waitFor("checked Ready by its exec probe", 30*time.Second, func() bool { r, _, _ := c.podRow("checked"); return r == "1/1" })

	c.waitFor("hooked restarted after its failed postStart hook", 30*time.Second, func() bool {
		_, _, restarts := c.podRow("hooked")
		return restarts != "" && restarts != "0"
	})

	c.waitFor("calm Ready by its CEL check", 30*time.Second, func() bool { r, _, _ := c.podRow("calm"); return r == "1/1" })
	// busy has run as long as the others, its check failing every second.
	if ready, status, restarts := c.podRow("busy"); ready != "0/1" || status != "Running" || restarts != "0" {
		t.Errorf("busy: READY %s STATUS %s RESTARTS %s, want 0/1 Running 0 (its CEL check fails)", ready, status, restarts)
	}
	want := `Readiness:  http-get http://:8080/status cel="response.status == 200 && response.json.queue_depth < 10" delay=0s timeout=1s period=1s #success=1 #failure=3`
	if out := c.mustGantry("describe", "pod", "busy"); !strings.Contains(strings.Join(strings.Fields(out), " "), strings.Join(strings.Fields(want), " ")) {
		t.Errorf("describe pod busy lacks %q:\n%s", want, out)
	}
}

// Deletion on real containerd: the pod shows Terminating while its preStop
// hook runs and its container (which ignores SIGTERM) is given its grace
// period; the preStop hook's line comes before the SIGTERM's in its log;
// the pod is gone once the grace period has passed, not before.
func TestGracefulDeletionEndToEnd(t *testing.T) {
	c := newCluster(t)
	c.up()
	c.mustGantry("apply", "-f", writeYAML(t, "term.yaml", `
apiVersion: v1
kind: Pod
metadata: {name: term}
spec:
  terminationGracePeriodSeconds: 4
  containers:
  - name: app
    image: gantry.local/hello:v1
    env: [{name: HELLO_IGNORE_SIGTERM, value: "true"}]
    lifecycle:
      preStop:
        exec: {command: [/app/hello, log, "preStop: draining"]}
`))
	c.waitFor("term running", 60*time.Second, func() bool { r, _, _ := c.podRow("term"); return r == "1/1" })

	start := time.Now()
	c.mustGantry("delete", "pod", "term", "--wait=false")
	var log string
	sawTerminating := false
	c.waitFor("term gone", 30*time.Second, func() bool {
		if _, status, _ := c.podRow("term"); status == "Terminating" {
			sawTerminating = true
		}
		if out, _, code := c.gantry("logs", "term"); code == 0 {
			log = out
		}
		_, ok := c.pod("term")
		return !ok
	})
	took := time.Since(start)
	if !sawTerminating {
		t.Error("term never showed Terminating")
	}
	if took < 4*time.Second {
		t.Errorf("term was gone %s after its deletion, before its 4 s grace period", took)
	}
	if !regexp.MustCompile(`(?s)hello: preStop: draining.*hello: SIGTERM ignored`).MatchString(log) {
		t.Errorf("want the preStop line, then the SIGTERM's, in the log:\n%s", log)
	}
}
