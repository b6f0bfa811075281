package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const claimYAML = `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
`

// claimPod is a pod that mounts the claim data at /data and runs cmd (the
// demo image's server when empty, serving /data under /files/).
func claimPod(name, restart string, cmd ...string) string {
	command := ""
	if len(cmd) > 0 {
		command = fmt.Sprintf("\n    command: [%s]", strings.Join(cmd, ", "))
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  restartPolicy: %s
  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
  containers:
  - name: app
    image: gantry.local/hello:v1%s
    env: [{name: FILES_DIR, value: /data}]
    volumeMounts: [{name: data, mountPath: /data}]
`, name, restart, command)
}

// A claim of the default class (local-path) on real containerd: a pod
// writes a file to it, is deleted, and a new pod with the same claim reads
// the file; deleting the claim (Delete reclaim) removes the volume and its
// directory. Needs the vol helper's mounts of claims (node.Claims into the
// pod) and the demo image's `hello write` and FILES_DIR (init helper) of
// issue 17: it passes once those are merged.
func TestPersistentVolumeClaimEndToEnd(t *testing.T) {
	c := newCluster(t)
	c.up()
	c.waitFor("the default StorageClass", 30*time.Second, func() bool {
		out, _, code := c.gantry("get", "storageclass")
		return code == 0 && strings.Contains(out, "local-path (default)") && strings.Contains(out, "WaitForFirstConsumer")
	})
	c.mustGantry("apply", "-f", writeYAML(t, "claim.yaml", claimYAML))
	if out := c.mustGantry("get", "pvc", "data"); !strings.Contains(out, "Pending") || !strings.Contains(out, "local-path") {
		t.Errorf("a claim without a pod:\n%s", out)
	}
	c.mustGantry("apply", "-f", writeYAML(t, "writer.yaml", claimPod("writer", "Never", "/app/hello", "write", "/data/note.txt", "kept across pods")))
	var dirs []string
	c.waitFor("the claim bound and its directory made on the node", 60*time.Second, func() bool {
		out, _, _ := c.gantry("get", "pvc", "data")
		dirs, _ = filepath.Glob(filepath.Join(c.dataDir, "node", "volumes", "pvc-*"))
		return strings.Contains(out, "Bound") && len(dirs) == 1
	})
	c.waitFor("writer Succeeded", 90*time.Second, func() bool {
		for _, p := range c.pods() {
			if p.Metadata.Name == "writer" {
				return p.Status.Phase == "Succeeded"
			}
		}
		return false
	})
	out := c.mustGantry("get", "pvc", "data")
	if !strings.Contains(out, "Bound") || !strings.Contains(out, "RWO") || !strings.Contains(out, "1Gi") {
		t.Errorf("get pvc after its pod:\n%s", out)
	}
	if b, err := os.ReadFile(filepath.Join(dirs[0], "note.txt")); err != nil || string(b) != "kept across pods\n" {
		t.Errorf("the file on the node: %q, %v", b, err)
	}
	if out := c.mustGantry("get", "pv"); !strings.Contains(out, "default/data") || !strings.Contains(out, "Delete") || !strings.Contains(out, "Bound") {
		t.Errorf("get pv:\n%s", out)
	}

	c.mustGantry("delete", "pod", "writer")
	c.mustGantry("apply", "-f", writeYAML(t, "reader.yaml", claimPod("reader", "Always")))
	var ip string
	c.waitFor("reader Running", 90*time.Second, func() bool {
		for _, p := range c.runningPods() {
			if p.Metadata.Name == "reader" {
				ip = p.Status.PodIP
			}
		}
		return ip != ""
	})
	var body string
	c.waitFor("the first pod's file read by the second", 30*time.Second, func() bool {
		body, _ = httpGet(fmt.Sprintf("http://%s:8080/files/note.txt", ip))
		return body == "kept across pods\n"
	})

	c.mustGantry("delete", "pod", "reader")
	c.mustGantry("delete", "pvc", "data")
	c.waitFor("the volume's directory deleted", 60*time.Second, func() bool {
		_, err := os.Stat(dirs[0])
		return os.IsNotExist(err)
	})
	c.waitFor("the volume deleted", 30*time.Second, func() bool {
		out, _, _ := c.gantry("get", "pv")
		return !strings.Contains(out, "pvc-")
	})
}
