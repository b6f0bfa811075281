package containerd

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/node"
)

func TestProcessArgs(t *testing.T) {
	ep, cmd := []string{"/ep"}, []string{"serve"}
	tests := []struct {
		name          string
		command, args []string
		want          []string
	}{
		{"image defaults", nil, nil, []string{"/ep", "serve"}},
		{"args replace cmd", nil, []string{"run", "-v"}, []string{"/ep", "run", "-v"}},
		{"command replaces entrypoint and cmd", []string{"/bin/x"}, nil, []string{"/bin/x"}},
		{"command and args", []string{"/bin/x"}, []string{"-a"}, []string{"/bin/x", "-a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := processArgs(ep, cmd, tt.command, tt.args); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCPUMapping(t *testing.T) {
	for _, tt := range []struct {
		milli  int64
		shares uint64
		quota  int64
	}{
		{0, 2, 1000}, {1, 2, 1000}, {100, 102, 10000}, {250, 256, 25000}, {1000, 1024, 100000}, {2500, 2560, 250000},
	} {
		if got := cpuShares(tt.milli); got != tt.shares {
			t.Errorf("cpuShares(%d) = %d, want %d", tt.milli, got, tt.shares)
		}
		if got := cpuQuota(tt.milli); got != tt.quota {
			t.Errorf("cpuQuota(%d) = %d, want %d", tt.milli, got, tt.quota)
		}
	}
	if n := len(resourceOpts(manifest.ResourceRequirements{})); n != 1 {
		t.Errorf("no resources: %d options, want cpu shares only", n)
	}
}

func TestIDs(t *testing.T) {
	uuid := "0b9f2d43-7f5e-4c0b-9b3a-2a1f6c1f1e2d"
	if got := containerID(uuid, "web"); got != uuid+"_web" {
		t.Errorf("containerID = %q", got)
	}
	long := containerID(uuid, strings.Repeat("a", 63))
	odd := containerID("a/b c", "web")
	for _, id := range []string{long, odd, sandboxID("a/b"), sandboxID(strings.Repeat("x", 60))} {
		if len(id) > maxIDLength || !idPattern.MatchString(id) {
			t.Errorf("invalid id %q", id)
		}
	}
	if long != containerID(uuid, strings.Repeat("a", 63)) {
		t.Error("containerID is not deterministic")
	}
	if containerID(uuid, "a") == containerID(uuid, "b") {
		t.Error("containerID collides")
	}
	if got := pathComponent("../x/y"); strings.Contains(got, "/") || got == ".." {
		t.Errorf("pathComponent = %q", got)
	}
}

func TestMemTotal(t *testing.T) {
	p := filepath.Join(t.TempDir(), "meminfo")
	os.WriteFile(p, []byte("MemTotal:       16384 kB\nMemFree: 1 kB\n"), 0o644)
	if got, err := memTotal(p); err != nil || got != 16384*1024 {
		t.Fatalf("memTotal = %d, %v", got, err)
	}
	os.WriteFile(p, []byte("MemFree: 1 kB\n"), 0o644)
	if _, err := memTotal(p); err == nil {
		t.Fatal("no MemTotal accepted")
	}
}

// Every instance sees the pod's identity and its restart count, after the
// container's own variables (so the runtime's count wins a clash).
func TestPodEnv(t *testing.T) {
	c := manifest.Container{Env: []manifest.EnvVar{{Name: "A", Value: "1"}, {Name: "GANTRY_RESTART_COUNT", Value: "9"}}}
	got := podEnv(node.Pod{Namespace: "ns", Name: "p"}, "10.42.0.5", c, 2)
	want := []string{"A=1", "GANTRY_RESTART_COUNT=9", "POD_NAME=p", "POD_NAMESPACE=ns", "POD_IP=10.42.0.5", "GANTRY_RESTART_COUNT=2"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("podEnv = %q, want %q", got, want)
	}
}

// The env Volumes resolved (valueFrom, envFrom) replaces the literal one; a
// valueFrom without it is left out rather than set empty.
func TestPodEnvResolved(t *testing.T) {
	c := manifest.Container{Name: "app", Env: []manifest.EnvVar{{Name: "A", Value: "1"},
		{Name: "B", ValueFrom: &manifest.EnvVarSource{FieldRef: &manifest.ObjectFieldSelector{FieldPath: "metadata.name"}}}}}
	pod := node.Pod{Namespace: "ns", Name: "p"}
	if got := podEnv(pod, "ip", c, 0); !reflect.DeepEqual(got[:1], []string{"A=1"}) || len(got) != 5 {
		t.Errorf("unresolved: %q", got)
	}
	pod.Env = map[string][]string{"app": {"X=from-cm", "A=1", "B=p"}}
	want := []string{"X=from-cm", "A=1", "B=p", "POD_NAME=p", "POD_NAMESPACE=ns", "POD_IP=ip", "GANTRY_RESTART_COUNT=0"}
	if got := podEnv(pod, "ip", c, 0); !reflect.DeepEqual(got, want) {
		t.Errorf("resolved: %q, want %q", got, want)
	}
}

// A volume mount is an rbind, read-only when asked.
func TestVolumeMounts(t *testing.T) {
	got := volumeMounts([]node.Mount{{Source: "/v/cache", Destination: "/cache"}, {Source: "/v/cfg", Destination: "/etc/app", ReadOnly: true}})
	want := []specs.Mount{
		{Destination: "/cache", Type: "bind", Source: "/v/cache", Options: []string{"rbind", "rprivate"}},
		{Destination: "/etc/app", Type: "bind", Source: "/v/cfg", Options: []string{"rbind", "rprivate", "ro"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("volumeMounts = %+v, want %+v", got, want)
	}
}

// oomKills reads memory.oom_control's oom_kill counter, or memory.failcnt on
// a kernel without it.
func TestOOMKills(t *testing.T) {
	write := func(files map[string]string) string {
		dir := t.TempDir()
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  int64
	}{
		{"killed once", map[string]string{"memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n", "memory.failcnt": "40\n"}, 1},
		{"never killed, the limit hit", map[string]string{"memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n", "memory.failcnt": "3\n"}, 0},
		{"an old kernel: failcnt", map[string]string{"memory.oom_control": "oom_kill_disable 0\nunder_oom 0\n", "memory.failcnt": "3\n"}, 3},
	} {
		got, err := oomKills(write(tc.files))
		if err != nil || got != tc.want {
			t.Errorf("%s: %d, %v; want %d", tc.name, got, err, tc.want)
		}
	}
	if _, err := oomKills(t.TempDir()); err == nil {
		t.Error("no cgroup: no error")
	}
}
