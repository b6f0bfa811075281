package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The bad input for configuration and storage, through the CLI as
// a user types it: each refused with the field named and nothing applied,
// and a pod whose env names a key its ConfigMap lacks waits with
// Kubernetes' reason (unless the reference is optional).
func TestConfigAndStorageBadInputEndToEnd(t *testing.T) {
	c := newCluster(t)
	c.up()
	c.waitNodeReady()

	big := filepath.Join(t.TempDir(), "big.bin")
	if err := os.WriteFile(big, make([]byte, 1<<20+1), 0o600); err != nil {
		t.Fatal(err)
	}
	c.mustGantry("apply", "-f", writeYAML(t, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: frozen}\nimmutable: true\ndata: {a: \"1\"}\n"))
	cases := []struct {
		name string
		args []string
		in   string
		want []string
	}{
		{"a claim bigger than any volume can be", []string{"apply", "-f", "-"},
			"apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: huge}\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 2Pi}}\n",
			[]string{"spec.resources.requests.storage"}},
		{"a StorageClass that does not exist", []string{"apply", "-f", "-"},
			"apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: fast}\nspec:\n  storageClassName: fast-ssd\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n",
			[]string{"spec.storageClassName", `"fast-ssd" not found`}},
		{"a Secret over 1 MiB", []string{"create", "secret", "generic", "big", "--from-file=big=" + big}, "",
			[]string{"data", "Too long"}},
		{"a tls Secret without its key", []string{"create", "secret", "generic", "cert", "--type", "kubernetes.io/tls", "--from-literal=tls.crt=x"}, "",
			[]string{"data[tls.key]"}},
		{"an immutable ConfigMap changed", []string{"apply", "-f", "-"},
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: frozen}\nimmutable: true\ndata: {a: \"2\"}\n",
			[]string{"data", "immutable"}},
		{"a subPath with ..", []string{"apply", "-f", "-"},
			"apiVersion: v1\nkind: Pod\nmetadata: {name: escape}\nspec:\n  volumes: [{name: v, emptyDir: {}}]\n  containers:\n  - name: app\n    image: gantry.local/hello:v1\n    volumeMounts: [{name: v, mountPath: /v, subPath: a/../../etc}]\n",
			[]string{"spec.containers[0].volumeMounts[0].subPath"}},
	}
	for _, tc := range cases {
		out, errOut, code := c.gantryIn(tc.in, tc.args...)
		if code == 0 {
			t.Errorf("%s: exit 0, want an error (stdout %q)", tc.name, out)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%s: error %q does not name %q", tc.name, errOut, w)
			}
		}
	}
	for _, what := range []string{"pvc/huge", "pvc/fast", "secret/big", "secret/cert", "pod/escape"} {
		if _, _, code := c.gantry("get", what); code == 0 {
			t.Errorf("%s exists after its refusal", what)
		}
	}
	if out := c.mustGantry("get", "cm", "frozen", "-o", "jsonpath={.data.a}"); out != "1" {
		t.Errorf("the immutable ConfigMap holds %q after the refused change, want 1", out)
	}

	// A missing key without optional: the pod waits, saying why; with
	// optional the variable is left out and the pod runs.
	c.mustGantry("apply", "-f", writeYAML(t, "pods.yaml", `apiVersion: v1
kind: Pod
metadata: {name: nokey}
spec:
  containers:
  - name: app
    image: gantry.local/hello:v1
    env: [{name: LEVEL, valueFrom: {configMapKeyRef: {name: frozen, key: level}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: optkey}
spec:
  containers:
  - name: app
    image: gantry.local/hello:v1
    env: [{name: LEVEL, valueFrom: {configMapKeyRef: {name: frozen, key: level, optional: true}}}]
`))
	c.waitFor("nokey CreateContainerConfigError, optkey Running", 60*time.Second, func() bool {
		_, nokey, _ := c.podRow("nokey")
		_, optkey, _ := c.podRow("optkey")
		return nokey == "CreateContainerConfigError" && optkey == "Running"
	})
	if out := c.mustGantry("describe", "pod", "nokey"); !strings.Contains(out, "couldn't find key level in ConfigMap default/frozen") {
		t.Errorf("describe pod nokey does not say which key is missing:\n%s", out)
	}
}
