package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// initPods are the pods of TestInitContainersEndToEnd: init containers of
// the demo image that log and exit 0, one that fails with restartPolicy
// Never, one that fails again and again with Always.
const initPods = `
apiVersion: v1
kind: Pod
metadata: {name: prep}
spec:
  initContainers:
  - name: announce
    image: gantry.local/hello:v1
    command: [/app/hello, log, "init: step one done"]
  - name: settle
    image: gantry.local/hello:v1
    env: [{name: HELLO_RUN_FOR, value: 1s}]
  containers:
  - name: app
    image: gantry.local/hello:v1
---
apiVersion: v1
kind: Pod
metadata: {name: initfail}
spec:
  restartPolicy: Never
  initContainers:
  - name: check
    image: gantry.local/hello:v1
    env: [{name: HELLO_EXIT_CODE, value: "3"}]
  containers:
  - name: app
    image: gantry.local/hello:v1
---
apiVersion: v1
kind: Pod
metadata: {name: initloop}
spec:
  initContainers:
  - name: check
    image: gantry.local/hello:v1
    env: [{name: HELLO_EXIT_CODE, value: "1"}]
  containers:
  - name: app
    image: gantry.local/hello:v1
`

// initPodJSON is the part of `gantry get pod NAME -o json` these tests read.
type initPodJSON struct {
	Status struct {
		Phase                 string         `json:"phase"`
		PodIP                 string         `json:"podIP"`
		InitContainerStatuses []initStatusJS `json:"initContainerStatuses"`
		ContainerStatuses     []initStatusJS `json:"containerStatuses"`
	} `json:"status"`
}

type initStatusJS struct {
	Name         string                    `json:"name"`
	Ready        bool                      `json:"ready"`
	RestartCount int                       `json:"restartCount"`
	State        map[string]map[string]any `json:"state"`
}

func (c *cluster) initPod(name string) initPodJSON {
	c.t.Helper()
	var p initPodJSON
	out, _, code := c.gantry("get", "pod", name, "-o", "json")
	if code == 0 {
		_ = json.Unmarshal([]byte(out), &p)
	}
	return p
}

// Init containers on real containerd: run in order to completion before the
// container, their logs readable with -c, shown as kubectl shows them; a
// failing one fails the pod with restartPolicy Never (Init:Error) and
// crash-loops with Always.
func TestInitContainersEndToEnd(t *testing.T) {
	c := newCluster(t)
	c.up()
	c.mustGantry("apply", "-f", writeYAML(t, "init.yaml", initPods))

	c.waitFor("prep Running after its init containers", 90*time.Second, func() bool {
		r, status, _ := c.podRow("prep")
		return r == "1/1" && status == "Running"
	})
	p := c.initPod("prep")
	if len(p.Status.InitContainerStatuses) != 2 {
		t.Fatalf("prep initContainerStatuses: %+v", p.Status.InitContainerStatuses)
	}
	for _, s := range p.Status.InitContainerStatuses {
		if term := s.State["terminated"]; term == nil || term["reason"] != "Completed" || !s.Ready || s.RestartCount != 0 {
			t.Errorf("prep init container %s: %+v, want terminated Completed, ready, never restarted", s.Name, s)
		}
	}
	if out := c.mustGantry("logs", "prep", "-c", "announce"); !strings.Contains(out, "hello: init: step one done") {
		t.Errorf("logs -c announce: %q", out)
	}
	if out := c.mustGantry("logs", "prep", "-c", "settle"); !strings.Contains(out, "exiting with code 0") {
		t.Errorf("logs -c settle: %q", out)
	}
	desc := c.mustGantry("describe", "pod", "prep")
	if i, j := strings.Index(desc, "Init Containers:"), strings.Index(desc, "\nContainers:"); i < 0 || j < i ||
		!strings.Contains(desc[i:j], "announce:") || !strings.Contains(desc[i:j], "Completed") {
		t.Errorf("describe pod prep:\n%s", desc)
	}
	if y := c.mustGantry("get", "pod", "prep", "-o", "yaml"); !strings.Contains(y, "initContainerStatuses:") {
		t.Errorf("get pod prep -o yaml has no initContainerStatuses:\n%s", y)
	}

	c.waitFor("initfail Failed", 60*time.Second, func() bool { return c.initPod("initfail").Status.Phase == "Failed" })
	if _, status, _ := c.podRow("initfail"); status != "Init:Error" {
		t.Errorf("initfail STATUS %q, want Init:Error", status)
	}
	if f := c.initPod("initfail"); len(f.Status.ContainerStatuses) != 1 || f.Status.ContainerStatuses[0].State["waiting"]["reason"] != "PodInitializing" {
		t.Errorf("initfail's container ran or is not waiting: %+v", f.Status.ContainerStatuses)
	}

	c.waitFor("initloop in Init:CrashLoopBackOff", 60*time.Second, func() bool {
		_, status, restarts := c.podRow("initloop")
		return status == "Init:CrashLoopBackOff" && restarts != "0"
	})
	if ph := c.initPod("initloop").Status.Phase; ph != "Pending" {
		t.Errorf("initloop phase %s, want Pending", ph)
	}
}

// volumePod's init container writes a file into an emptyDir that the app
// container then serves (the demo image serves FILES_DIR under /files/).
const volumePod = `
apiVersion: v1
kind: Pod
metadata: {name: served}
spec:
  volumes:
  - name: work
    emptyDir: {}
  initContainers:
  - name: prepare
    image: gantry.local/hello:v1
    command: [/app/hello, write, /work/greeting.txt, prepared by init]
    volumeMounts: [{name: work, mountPath: /work}]
  containers:
  - name: app
    image: gantry.local/hello:v1
    env: [{name: FILES_DIR, value: /work}]
    volumeMounts: [{name: work, mountPath: /work}]
`

// An init container prepares a volume the app serves, as real manifests use
// them. Needs emptyDir mounts (the vol helper's part of issue 17).
func TestInitContainerPreparesAVolumeEndToEnd(t *testing.T) {
	c := newCluster(t)
	c.up()
	c.mustGantry("apply", "-f", writeYAML(t, "served.yaml", volumePod))
	c.waitFor("served Running", 90*time.Second, func() bool { r, status, _ := c.podRow("served"); return r == "1/1" && status == "Running" })
	ip := c.initPod("served").Status.PodIP
	var body string
	c.waitFor("the prepared file served", 30*time.Second, func() bool {
		body, _ = httpGet(fmt.Sprintf("http://%s:8080/files/greeting.txt", ip))
		return body == "prepared by init\n"
	})
}
