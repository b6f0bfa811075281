package main

import (
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/cli/client"
	"github.com/gantry-sh/gantry/cli/clitest"

	"github.com/spf13/cobra"
)

// runGantry runs the CLI with args and returns its exit code and output.
func runGantry(args ...string) (code int, stdout, stderr string) {
	var out, errOut strings.Builder
	code = run(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

const clusterHint = `: is a cluster running? start one with "gantry up", or point --nats / GANTRY_NATS at it`

// clientVerbs is every command that dials the cluster, with arguments that
// get it as far as dialing; offlineVerbs the ones that do not (or run a
// daemon with its own connection). Every command of the CLI is in one of
// them, so a verb added later is tested here too.
func clientVerbs(t *testing.T) map[string][]string {
	dir := t.TempDir()
	manifest := filepath.Join(dir, "pod.yaml")
	if err := os.WriteFile(manifest, []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: hello:v1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return map[string][]string{
		"apply":                         {"apply", "-f", manifest},
		"get":                           {"get", "pods"},
		"describe":                      {"describe", "pod", "p"},
		"delete":                        {"delete", "pod", "p"},
		"logs":                          {"logs", "p"},
		"logs -l":                       {"logs", "-l", "app=hello"},
		"port-forward":                  {"port-forward", "pod/p", "8080:80"},
		"create":                        {"create", "job", "x", "--from=cronjob/y"},
		"create job":                    {"create", "job", "x", "--from=cronjob/y"},
		"create configmap":              {"create", "configmap", "x", "--from-literal=a=b"},
		"create secret generic":         {"create", "secret", "generic", "x", "--from-literal=a=b"},
		"create secret tls":             {"create", "secret", "tls", "x", "--cert", manifest, "--key", manifest},
		"create secret docker-registry": {"create", "secret", "docker-registry", "x", "--docker-username=u", "--docker-password=p"},
		"keyring rotate":                {"keyring", "rotate"},
		"wait":                          {"wait", "--for=condition=complete", "job/x"},
		"scale":                         {"scale", "deploy/x", "--replicas=2"},
		"set image":                     {"set", "image", "deploy/x", "x=nginx"},
		"rollout history":               {"rollout", "history", "deploy/web"},
		"rollout status":                {"rollout", "status", "deploy/web"},
		"rollout undo":                  {"rollout", "undo", "deploy/web"},
		"rollout restart":               {"rollout", "restart", "deploy/web"},
		"rollout pause":                 {"rollout", "pause", "deploy/web"},
		"rollout resume":                {"rollout", "resume", "deploy/web"},
		"rollout promote":               {"rollout", "promote", "deploy/web"},
		"events":                        {"events"},
		"node cordon":                   {"node", "cordon", "n1"},
		"node uncordon":                 {"node", "uncordon", "n1"},
		"node drain":                    {"node", "drain", "n1"},
		"version":                       {"version"},
		"status":                        {"status"},
		"sim":                           {"sim", "--nodes", "1"},
		"log verify":                    {"log", "verify"},
		"backup":                        {"backup", filepath.Join(dir, "backup")},
		"auth can-i":                    {"auth", "can-i", "get", "pods"},
		"auth whoami":                   {"auth", "whoami"},
	}
}

var offlineVerbs = map[string]string{
	"api-resources":       "the kinds this client knows, from its own table",
	"up":                  "starts its own NATS",
	"serve":               "the control plane: its own hint (TestServeWithoutNATS)",
	"node":                "the node agent daemon: a NATS server's hint (TestNodeWithoutNATS)",
	"image":               "a group",
	"config":              "a group",
	"config view":         "reads the client config only",
	"config get-contexts": "reads the client config only",
	"config use-context":  "writes the client config only",
	"node credentials":    "writes credentials from the data dir's identities",
	"auth":                "a group",
	"set":                 "a group",
	"create secret":       "a group",
	"keyring":             "a group",
	"image import":        "talks to containerd only",
	"log":                 "a group",
	"rollout":             "a group",
	"restore":             "reads its backup first; into a NATS without Gantry's log, so a NATS server's hint",
	"completion":          "cobra's shell completion",
	"help":                "cobra's help",
}

func TestEveryVerbSaysWhatToDoWithoutCluster(t *testing.T) {
	url := clitest.ClosedPort(t)
	verbs := clientVerbs(t)
	for _, name := range commandPaths(newRoot(&client.Globals{In: strings.NewReader(""), Out: io.Discard, ErrOut: io.Discard})) {
		_, client := verbs[name]
		if _, offline := offlineVerbs[name]; !client && !offline {
			t.Errorf("command %q is in neither clientVerbs nor offlineVerbs: say whether it dials the cluster", name)
		}
	}
	for name, args := range verbs {
		// --nats after the verb's arguments: a persistent flag goes anywhere.
		start := time.Now()
		code, _, errOut := runGantry(append(args, "--nats", url)...)
		took := time.Since(start)
		want := "error: no Gantry cluster answers at " + url + clusterHint + "\n"
		if code != 1 || !strings.HasSuffix(errOut, want) {
			t.Errorf("%s: exit %d, stderr %q; want it to end with %q", name, code, errOut, want)
		}
		// Refused at once, not after a dial timeout.
		if took > 3*time.Second {
			t.Errorf("%s took %s to fail", name, took)
		}
	}
}

// commandPaths lists every runnable command below root by its path
// without "gantry ", plus cobra's completion and help.
func commandPaths(root *cobra.Command) []string {
	root.InitDefaultCompletionCmd()
	root.InitDefaultHelpCmd()
	var out []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			out = append(out, strings.TrimPrefix(sub.CommandPath(), root.Name()+" "))
			if sub.Name() != "completion" {
				walk(sub)
			}
		}
	}
	walk(root)
	sort.Strings(out)
	return out
}

func TestServeWithoutNATS(t *testing.T) {
	url := clitest.ClosedPort(t)
	code, _, errOut := runGantry("serve", "--nats", url)
	want := "error: no NATS server answers at " + url + ": start one with JetStream enabled, or point --nats / GANTRY_NATS at it\n"
	if code != 1 || errOut != want {
		t.Errorf("serve: exit %d, stderr %q; want %q", code, errOut, want)
	}
}

func TestNodeWithoutNATS(t *testing.T) {
	url := clitest.ClosedPort(t)
	code, _, errOut := runGantry("node", "--runtime", "simulated", "--node-name", "n1", "--data-dir", t.TempDir(), "--nats", url)
	want := "error: no NATS server answers at " + url + ": start one with JetStream enabled, or point --nats / GANTRY_NATS at it\n"
	if code != 1 || !strings.HasSuffix(errOut, want) {
		t.Errorf("node: exit %d, stderr %q; want it to end with %q", code, errOut, want)
	}
}
