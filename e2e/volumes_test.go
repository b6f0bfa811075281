package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The tests read and write what a container sees through /proc/<pid>/root
// of its process, from the host (the demo image has no shell): the
// container's own mounts, exactly as its programs see them.

// taskPID is the pid of the running task of container name of pod.
func (c *cluster) taskPID(t testing.TB, pod, container string) int {
	t.Helper()
	p, ok := c.pod(pod)
	if !ok {
		t.Fatalf("no pod %s", pod)
	}
	id := ""
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == container {
			id = cs.ContainerID
			if _, after, found := strings.Cut(id, "://"); found {
				id = after
			}
		}
	}
	out, err := exec.Command("ctr", "-n", ctrNS, "tasks", "ls").Output()
	if err != nil {
		t.Fatalf("ctr tasks ls: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == id && f[2] == "RUNNING" {
			pid, _ := strconv.Atoi(f[1])
			return pid
		}
	}
	t.Fatalf("no running task for %s/%s (container %q)\n%s", pod, container, id, out)
	return 0
}

// unmountUnder lazily unmounts what the node left mounted under dir (the
// tmpfs of memory volumes of pods the teardown killed without removing),
// so that the test's temporary directory can be removed.
func unmountUnder(dir string) {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			_ = exec.Command("umount", "-l", f[4]).Run()
		}
	}
}

// inContainer is path as the process pid sees it.
func inContainer(pid int, path string) string { return fmt.Sprintf("/proc/%d/root%s", pid, path) }

// mountOf is the line of /proc/<pid>/mountinfo for the mount at path in the
// container ("" if none).
func mountOf(t *testing.T, pid int, path string) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == path {
			return line
		}
	}
	return ""
}

// emptyDir shared by two containers of a pod (one on disk, one in memory),
// a downwardAPI labels file, a subPath mount, and a hostPath DaemonSet
// reading a host file; then a subPath with ".." refused at apply.
func TestVolumesEndToEnd(t *testing.T) {
	c := newCluster(t)
	t.Cleanup(func() { unmountUnder(c.dataDir) })
	c.up()
	hostDir := t.TempDir()
	motd := filepath.Join(hostDir, "motd")
	if err := os.WriteFile(motd, []byte("hello from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.mustGantry("apply", "-f", writeYAML(t, "volumes.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: shared, labels: {app: shared, tier: web}, annotations: {note: "say \"hi\""}}
spec:
  containers:
  - name: a
    image: gantry.local/hello:v1
    volumeMounts:
    - {name: cache, mountPath: /cache}
    - {name: mem, mountPath: /mem}
    - {name: info, mountPath: /etc/podinfo}
  - name: b
    image: gantry.local/hello:v1
    env: [{name: PORT, value: "8081"}]
    volumeMounts:
    - {name: cache, mountPath: /cache, readOnly: true}
    - {name: cache, mountPath: /sub, subPath: work/dir}
  volumes:
  - {name: cache, emptyDir: {}}
  - {name: mem, emptyDir: {medium: Memory, sizeLimit: 16Mi}}
  - name: info
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: annotations, fieldRef: {fieldPath: metadata.annotations}}
      - {path: name, fieldRef: {fieldPath: metadata.name}}
      - {path: mem, resourceFieldRef: {containerName: a, resource: limits.memory, divisor: 1Mi}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: hostreader}
spec:
  selector: {matchLabels: {app: hostreader}}
  template:
    metadata: {labels: {app: hostreader}}
    spec:
      containers:
      - name: app
        image: gantry.local/hello:v1
        volumeMounts: [{name: motd, mountPath: /host/motd, readOnly: true}]
      volumes:
      - {name: motd, hostPath: {path: %s, type: File}}
`, motd)))
	c.waitFor("pods shared and hostreader running", 90*time.Second, func() bool {
		return len(c.runningPods()) == 2
	})

	t.Run("emptyDir shared by two containers", func(t *testing.T) {
		a, b := c.taskPID(t, "shared", "a"), c.taskPID(t, "shared", "b")
		if err := os.WriteFile(inContainer(a, "/cache/msg"), []byte("from a"), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(inContainer(b, "/cache/msg")); err != nil || string(got) != "from a" {
			t.Errorf("b reads %q, %v; want what a wrote", got, err)
		}
		if err := os.WriteFile(inContainer(b, "/cache/nope"), []byte("x"), 0o644); err == nil {
			t.Errorf("b wrote to its read-only mount of the volume")
		}
		if m := mountOf(t, a, "/mem"); !strings.Contains(m, " - tmpfs ") || !strings.Contains(m, "size=16384k") {
			t.Errorf("/mem in a is not a 16Mi tmpfs: %q", m)
		}
	})

	t.Run("subPath mount", func(t *testing.T) {
		a, b := c.taskPID(t, "shared", "a"), c.taskPID(t, "shared", "b")
		if err := os.WriteFile(inContainer(a, "/cache/work/dir/file"), []byte("deep"), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(inContainer(b, "/sub/file")); err != nil || string(got) != "deep" {
			t.Errorf("b's subPath mount reads %q, %v", got, err)
		}
	})

	t.Run("downwardAPI files", func(t *testing.T) {
		a := c.taskPID(t, "shared", "a")
		want := map[string]string{
			"labels":      "app=\"shared\"\ntier=\"web\"",
			"annotations": `note="say \"hi\""`,
			"name":        "shared",
		}
		for f, w := range want {
			if got, err := os.ReadFile(inContainer(a, "/etc/podinfo/"+f)); err != nil || string(got) != w {
				t.Errorf("%s = %q, %v; want %q", f, got, err, w)
			}
		}
		if target, err := os.Readlink(inContainer(a, "/etc/podinfo/labels")); err != nil || target != "..data/labels" {
			t.Errorf("labels -> %q, %v; want ..data/labels (the atomic writer's layout)", target, err)
		}
		if err := os.WriteFile(inContainer(a, "/etc/podinfo/x"), nil, 0o644); err == nil {
			t.Errorf("a downwardAPI volume is writable")
		}
	})

	t.Run("hostPath DaemonSet reads a host file", func(t *testing.T) {
		var pod string
		for _, p := range c.pods() {
			if strings.HasPrefix(p.Metadata.Name, "hostreader-") {
				pod = p.Metadata.Name
			}
		}
		pid := c.taskPID(t, pod, "app")
		if got, err := os.ReadFile(inContainer(pid, "/host/motd")); err != nil || string(got) != "hello from the host\n" {
			t.Errorf("the daemon reads %q, %v", got, err)
		}
	})

	t.Run("a subPath with .. is refused", func(t *testing.T) {
		_, errOut, code := c.gantry("apply", "-f", writeYAML(t, "bad.yaml", `apiVersion: v1
kind: Pod
metadata: {name: escape}
spec:
  containers:
  - name: a
    image: gantry.local/hello:v1
    volumeMounts: [{name: cache, mountPath: /cache, subPath: ../../etc}]
  volumes: [{name: cache, emptyDir: {}}]
`))
		if code == 0 || !strings.Contains(errOut, `spec.containers[0].volumeMounts[0].subPath: invalid value "../../etc": must not start with '..'`) {
			t.Errorf("apply: exit %d, %s", code, errOut)
		}
	})

	t.Run("removal unmounts and removes the pod's volumes", func(t *testing.T) {
		p, _ := c.pod("shared")
		dir := filepath.Join(c.dataDir, "node", "pods", p.Metadata.UID)
		if _, err := os.Stat(dir); err != nil {
			t.Fatalf("volumes dir: %v", err)
		}
		c.mustGantry("delete", "pod", "shared")
		c.waitFor("shared's volumes removed", 60*time.Second, func() bool {
			_, err := os.Stat(dir)
			return os.IsNotExist(err)
		})
		if b, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(b), dir) {
			t.Errorf("a mount under %s is left", dir)
		}
	})
}

// environOf is the environment of process pid.
func environOf(t *testing.T, pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

func hasEnv(env []string, kv string) bool {
	for _, e := range env {
		if e == kv {
			return true
		}
	}
	return false
}

// A pod reads a ConfigMap as env and as files, a Secret as env and as files
// (mode 0400, on tmpfs), both in a projected volume; the ConfigMap's file
// changes in place after an apply (timed), its env does not; a missing
// ConfigMap holds the container in CreateContainerConfigError until it
// exists. Needs the ConfigMap and Secret kinds and their delivery to the
// node (the cfg and deliver parts of issue 17).
func TestConfigMapAndSecretVolumesEndToEnd(t *testing.T) {
	c := newCluster(t)
	t.Cleanup(func() { unmountUnder(c.dataDir) })
	c.up()
	configMap := func(level string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: app-config}
data: {level: %s, app.conf: "a=1"}
`, level)
	}
	if out, errOut, code := c.gantry("apply", "-f", writeYAML(t, "cm.yaml", configMap("info"))); code != 0 {
		t.Fatalf("apply the ConfigMap: %s%s", out, errOut)
	}
	c.mustGantry("apply", "-f", writeYAML(t, "secret.yaml", `apiVersion: v1
kind: Secret
metadata: {name: db}
stringData: {password: s3cret, user: admin}
`))
	c.mustGantry("apply", "-f", writeYAML(t, "pods.yaml", `apiVersion: v1
kind: Pod
metadata: {name: cfg}
spec:
  containers:
  - name: app
    image: gantry.local/hello:v1
    env: [{name: LEVEL, valueFrom: {configMapKeyRef: {name: app-config, key: level}}}]
    envFrom: [{prefix: DB_, secretRef: {name: db}}]
    volumeMounts:
    - {name: config, mountPath: /etc/app}
    - {name: config, mountPath: /etc/app.conf, subPath: app.conf}
    - {name: creds, mountPath: /etc/creds}
    - {name: all, mountPath: /etc/all}
  volumes:
  - {name: config, configMap: {name: app-config}}
  - {name: creds, secret: {secretName: db, defaultMode: 0400}}
  - name: all
    projected:
      sources:
      - configMap: {name: app-config, items: [{key: level, path: config/level}]}
      - secret: {name: db, items: [{key: password, path: secret/password}]}
---
apiVersion: v1
kind: Pod
metadata: {name: missing}
spec:
  containers:
  - name: app
    image: gantry.local/hello:v1
    env: [{name: X, valueFrom: {configMapKeyRef: {name: later, key: x}}}]
`))
	c.waitFor("pod cfg running", 90*time.Second, func() bool {
		p, ok := c.pod("cfg")
		return ok && p.Status.Phase == "Running"
	})
	pid := c.taskPID(t, "cfg", "app")

	t.Run("env", func(t *testing.T) {
		env := environOf(t, pid)
		for _, kv := range []string{"LEVEL=info", "DB_password=s3cret", "DB_user=admin"} {
			if !hasEnv(env, kv) {
				t.Errorf("env lacks %s: %q", kv, env)
			}
		}
	})
	t.Run("files", func(t *testing.T) {
		for path, want := range map[string]string{"/etc/app/level": "info", "/etc/app.conf": "a=1", "/etc/creds/password": "s3cret",
			"/etc/all/config/level": "info", "/etc/all/secret/password": "s3cret"} {
			if got, err := os.ReadFile(inContainer(pid, path)); err != nil || string(got) != want {
				t.Errorf("%s = %q, %v; want %q", path, got, err, want)
			}
		}
		if st, err := os.Stat(inContainer(pid, "/etc/creds/password")); err != nil || st.Mode().Perm() != 0o400 {
			t.Errorf("secret file mode %v, %v; want 0400", st.Mode().Perm(), err)
		}
		for _, m := range []string{"/etc/creds", "/etc/all"} {
			if line := mountOf(t, pid, m); !strings.Contains(line, " - tmpfs ") {
				t.Errorf("%s is not on tmpfs: %q", m, line)
			}
		}
	})
	t.Run("update in place and env unchanged", func(t *testing.T) {
		start := time.Now()
		c.mustGantry("apply", "-f", writeYAML(t, "cm2.yaml", configMap("debug")))
		c.waitFor("the file to follow the ConfigMap", 60*time.Second, func() bool {
			got, _ := os.ReadFile(inContainer(pid, "/etc/app/level"))
			return string(got) == "debug"
		})
		t.Logf("the ConfigMap's file changed %v after the apply", time.Since(start).Round(time.Millisecond))
		if got, _ := os.ReadFile(inContainer(pid, "/etc/all/config/level")); string(got) != "debug" {
			t.Errorf("projected level = %q, want debug", got)
		}
		if got, _ := os.ReadFile(inContainer(pid, "/etc/app.conf")); string(got) != "a=1" {
			t.Errorf("subPath file = %q", got)
		}
		if env := environOf(t, pid); !hasEnv(env, "LEVEL=info") {
			t.Errorf("env changed without a restart: %q", env)
		}
		if c.taskPID(t, "cfg", "app") != pid {
			t.Errorf("the container was restarted")
		}
	})
	t.Run("a missing ConfigMap then created", func(t *testing.T) {
		c.waitFor("missing in CreateContainerConfigError", 60*time.Second, func() bool {
			_, status, _ := c.podRow("missing")
			return status == "CreateContainerConfigError"
		})
		if out := c.mustGantry("describe", "pod", "missing"); !strings.Contains(out, `configmap "later" not found`) {
			t.Errorf("describe lacks Kubernetes' message:\n%s", out)
		}
		c.mustGantry("apply", "-f", writeYAML(t, "later.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: later}\ndata: {x: \"1\"}\n"))
		c.waitFor("missing running once its ConfigMap exists", 90*time.Second, func() bool {
			p, ok := c.pod("missing")
			return ok && p.Status.Phase == "Running"
		})
	})
}

// versionsIn is the versions the files k0…k9 of the projected directory
// dir (as a container sees it) hold, read through one resolution of ..data
// (what a program that opens the directory once sees); ok is false when the
// version was replaced under the reader (it reads again).
func versionsIn(pid int, dir string) (versions map[string]bool, ok bool) {
	target, err := os.Readlink(inContainer(pid, dir+"/..data"))
	if err != nil {
		return nil, false
	}
	versions = map[string]bool{}
	for i := range 10 {
		b, err := os.ReadFile(inContainer(pid, fmt.Sprintf("%s/%s/config/k%d", dir, target, i)))
		if err != nil {
			return nil, false
		}
		versions[strings.SplitN(string(b), " ", 2)[0]] = true
	}
	return versions, true
}

// The node agent killed with SIGKILL while it writes a projected volume:
// the pod sees the old content or the new, never a mix, and the agent
// started again finishes the update. Needs the ConfigMaps' delivery to the
// node (the deliver part of issue 17).
func TestProjectedVolumeAgentKilledMidWriteEndToEnd(t *testing.T) {
	c := newCluster(t)
	t.Cleanup(func() { unmountUnder(c.dataDir) })
	up := c.up()
	configMap := func(v int) string {
		var b strings.Builder
		fmt.Fprintf(&b, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: many}\ndata:\n")
		for i := range 10 {
			fmt.Fprintf(&b, "  k%d: \"v%d %s\"\n", i, v, strings.Repeat("x", 64<<10))
		}
		return b.String()
	}
	if out, errOut, code := c.gantry("apply", "-f", writeYAML(t, "cm.yaml", configMap(0))); code != 0 {
		t.Fatalf("apply the ConfigMap: %s%s", out, errOut)
	}
	c.mustGantry("apply", "-f", writeYAML(t, "pod.yaml", `apiVersion: v1
kind: Pod
metadata: {name: reader, labels: {app: reader}}
spec:
  containers:
  - name: app
    image: gantry.local/hello:v1
    volumeMounts: [{name: all, mountPath: /etc/all}]
  volumes:
  - name: all
    projected:
      sources:
      - configMap: {name: many, items: [{key: k0, path: config/k0}, {key: k1, path: config/k1}, {key: k2, path: config/k2},
          {key: k3, path: config/k3}, {key: k4, path: config/k4}, {key: k5, path: config/k5}, {key: k6, path: config/k6},
          {key: k7, path: config/k7}, {key: k8, path: config/k8}, {key: k9, path: config/k9}]}
      - downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]}
`))
	c.waitFor("pod reader running", 90*time.Second, func() bool {
		p, ok := c.pod("reader")
		return ok && p.Status.Phase == "Running"
	})
	pid := c.taskPID(t, "reader", "app")

	// A reader in the pod's view reads all along, agent kills included.
	stop := make(chan struct{})
	mixes := make(chan map[string]bool, 1)
	passes := 0
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if v, ok := versionsIn(pid, "/etc/all"); ok {
				passes++
				if len(v) != 1 {
					select {
					case mixes <- v:
					default:
					}
				}
			}
		}
	}()
	for round := 1; round <= 4; round++ {
		c.mustGantry("apply", "-f", writeYAML(t, fmt.Sprintf("cm%d.yaml", round), configMap(round)))
		// Kill at a different moment of the node's write each round (not a
		// synchronization: any moment must do).
		time.Sleep(time.Duration(round*40) * time.Millisecond)
		up.kill9(t)
		want := fmt.Sprintf("v%d", round)
		v, ok := versionsIn(pid, "/etc/all")
		if !ok || len(v) != 1 {
			t.Fatalf("round %d: after kill -9 the pod sees %v (ok %v)", round, v, ok)
		}
		t.Logf("round %d: killed with the pod seeing %v (updated before the kill: %v)", round, v, v[want])
		up = c.up()
		c.waitFor("the restarted agent to finish the update to "+want, 60*time.Second, func() bool {
			v, ok := versionsIn(pid, "/etc/all")
			return ok && len(v) == 1 && v[want]
		})
	}
	close(stop)
	<-readerDone
	select {
	case v := <-mixes:
		t.Errorf("the pod saw a mix of versions: %v", v)
	default:
	}
	if passes == 0 {
		t.Errorf("the reader read nothing")
	}
	if got := c.taskPID(t, "reader", "app"); got != pid {
		t.Errorf("the container was restarted (pid %d, was %d)", got, pid)
	}
}
