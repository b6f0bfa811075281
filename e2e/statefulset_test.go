package e2e

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// statefulSetYAML is a headless Service and a StatefulSet web of 3 behind
// it, OrderedReady, each pod with a claim data (the default StorageClass)
// mounted at /data.
const statefulSetYAML = `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{name: http, port: 8080}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: gantry.local/hello:v1
        ports: [{name: http, containerPort: 8080}]
        readinessProbe:
          httpGet: {path: /ready, port: 8080}
          periodSeconds: 1
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 64Mi}}
`

// helloExec runs the demo image's command in the container app of the
// pod uid and returns its output.
func helloExec(t *testing.T, uid, execID string, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command("ctr", append([]string{"-n", ctrNS, "tasks", "exec", "--exec-id", execID, uid + "_app", "/app/hello"}, args...)...).CombinedOutput()
	return string(out), err
}

// webPods are the running and ready pods of web, by name.
func (c *cluster) webPods() map[string]podJSON {
	out := map[string]podJSON{}
	for _, p := range c.runningPods() {
		if strings.HasPrefix(p.Metadata.Name, "web-") {
			out[p.Metadata.Name] = p
		}
	}
	return out
}

// A headless Service and a StatefulSet of 3 on real containerd: web-0,
// web-1 and web-2 come up in that order (each only once the one before is
// ready), web-1.web resolves to web-1's IP in the node's DNS and is
// reached by name from inside web-0; each pod writes its name to its own
// claim; the set deleted (its claims retained) and applied again, each
// pod finds its own data. This needs the pod volume mounts and the storage
// service's local-path provisioner (issue 17's vol and storage parts).
func TestStatefulSetEndToEnd(t *testing.T) {
	c := newCluster(t)
	c.up()
	if out, errOut, code := c.gantryIn(statefulSetYAML, "apply", "-f", "-"); code != 0 {
		t.Fatalf("apply: %s%s", out, errOut)
	}

	// Ordered: never a higher ordinal running before a lower one is.
	c.waitFor("web-0, web-1 and web-2 running and ready, in order", 120*time.Second, func() bool {
		pods := map[string]bool{}
		for _, p := range c.pods() {
			pods[p.Metadata.Name] = true
		}
		ready := c.webPods()
		for i, name := range []string{"web-1", "web-2"} {
			prev := []string{"web-0", "web-1"}[i]
			if pods[name] && ready[prev].Metadata.Name == "" {
				t.Fatalf("%s exists before %s is ready", name, prev)
			}
		}
		return len(ready) == 3
	})
	if out := c.mustGantry("get", "sts", "web"); !strings.Contains(out, "3/3") {
		t.Errorf("get sts web:\n%s", out)
	}
	if out := c.mustGantry("rollout", "status", "sts/web", "--watch=false"); !strings.Contains(out, "partitioned roll out complete: 3 new pods have been updated...") {
		t.Errorf("rollout status sts/web: %s", out)
	}

	pods := c.webPods()
	c.waitFor("web-1.web.default.svc to resolve to web-1's IP", 30*time.Second, func() bool {
		rrs, _, err := lookup("web-1.web.default.svc.gantry.local", dns.TypeA)
		a := aRecords(rrs)
		return err == nil && len(a) == 1 && a[0] == pods["web-1"].Status.PodIP
	})
	out, err := helloExec(t, pods["web-0"].Metadata.UID, "fetch-web-1", "fetch", "http://web-1.web:8080/")
	if err != nil || !strings.Contains(out, "hello from web-1") {
		t.Errorf("http://web-1.web:8080/ from web-0: %v: %s", err, out)
	}

	// Each ordinal writes its name to its claim.
	for name, p := range pods {
		if out, err := helloExec(t, p.Metadata.UID, "write-"+name, "write", "/data/who", name); err != nil {
			t.Fatalf("write in %s: %v: %s", name, err, out)
		}
	}
	claims := c.mustGantry("get", "pvc")
	for _, name := range []string{"data-web-0", "data-web-1", "data-web-2"} {
		if !strings.Contains(claims, name) {
			t.Errorf("no claim %s in:\n%s", name, claims)
		}
	}

	// Deleted (claims retained) and applied again: each ordinal finds its
	// own data.
	c.mustGantry("delete", "sts", "web")
	c.waitFor("web's pods gone", 120*time.Second, func() bool {
		for _, p := range c.pods() {
			if strings.HasPrefix(p.Metadata.Name, "web-") {
				return false
			}
		}
		return true
	})
	if claims := c.mustGantry("get", "pvc"); !strings.Contains(claims, "data-web-2") {
		t.Fatalf("the claims were not retained:\n%s", claims)
	}
	if out, errOut, code := c.gantryIn(statefulSetYAML, "apply", "-f", "-"); code != 0 {
		t.Fatalf("apply again: %s%s", out, errOut)
	}
	c.waitFor("web-0 … web-2 back", 120*time.Second, func() bool { return len(c.webPods()) == 3 })
	for name, p := range c.webPods() {
		out, err := helloExec(t, p.Metadata.UID, "read-"+name, "read", "/data/who")
		if err != nil || strings.TrimSpace(out) != name {
			t.Errorf("%s reads %q from its claim (%v), want its own name", name, out, err)
		}
	}
}
