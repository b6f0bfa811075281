package volumes

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/node"
)

// fakeConfigs is a node.Configs the test fills.
type fakeConfigs struct {
	mu   sync.Mutex
	objs map[node.ConfigRef]node.ConfigObject
}

func (f *fakeConfigs) Config(ref node.ConfigRef) (node.ConfigObject, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.objs[ref]
	return o, ok
}

func (f *fakeConfigs) set(kind, name string, rev uint64, data map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	obj := node.ConfigObject{Exists: data != nil, Revision: rev, Data: map[string][]byte{}}
	for k, v := range data {
		obj.Data[k] = []byte(v)
	}
	f.objs[node.ConfigRef{Namespace: "default", Kind: kind, Name: name}] = obj
}

// fakeMounter records tmpfs mounts instead of making them.
type fakeMounter struct {
	mu      sync.Mutex
	mounted map[string]int64
}

func (f *fakeMounter) MountTmpfs(dir string, size int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mounted[dir] = size
	return nil
}

func (f *fakeMounter) Unmount(dir string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.mounted, dir)
	return nil
}

type fakeClaims map[string]string

func (c fakeClaims) ClaimPath(ns, claim string) (string, bool) {
	p, ok := c[ns+"/"+claim]
	return p, ok
}

func testPod(t *testing.T) node.Pod {
	t.Helper()
	o, err := manifest.DecodeObject([]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{
	  "containers":[{"name":"web","image":"i","resources":{"limits":{"memory":"64Mi"},"requests":{"cpu":"250m"}},
	    "env":[{"name":"LEVEL","valueFrom":{"configMapKeyRef":{"name":"app","key":"level"}}},
	           {"name":"POD_NAME","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}},
	           {"name":"APP","valueFrom":{"fieldRef":{"fieldPath":"metadata.labels['app']"}}},
	           {"name":"IP","valueFrom":{"fieldRef":{"fieldPath":"status.podIP"}}},
	           {"name":"NODE","valueFrom":{"fieldRef":{"fieldPath":"spec.nodeName"}}},
	           {"name":"MEM_MI","valueFrom":{"resourceFieldRef":{"resource":"limits.memory","divisor":"1Mi"}}},
	           {"name":"CPU_M","valueFrom":{"resourceFieldRef":{"resource":"requests.cpu","divisor":"1m"}}},
	           {"name":"CPU_LIMIT","valueFrom":{"resourceFieldRef":{"resource":"limits.cpu"}}},
	           {"name":"DB_USER","value":"override"}],
	    "envFrom":[{"configMapRef":{"name":"app"}},{"prefix":"DB_","secretRef":{"name":"db"}}],
	    "volumeMounts":[{"name":"cache","mountPath":"/cache"},{"name":"shm","mountPath":"/dev/shm"},
	      {"name":"config","mountPath":"/etc/app"},{"name":"config","mountPath":"/etc/level","subPath":"level"},
	      {"name":"creds","mountPath":"/etc/creds"},{"name":"info","mountPath":"/etc/podinfo"},
	      {"name":"cache","mountPath":"/work","subPath":"work/dir"},{"name":"data","mountPath":"/data","readOnly":true}]}],
	  "volumes":[{"name":"cache","emptyDir":{}},{"name":"shm","emptyDir":{"medium":"Memory","sizeLimit":"64Mi"}},
	    {"name":"config","configMap":{"name":"app"}},
	    {"name":"creds","secret":{"secretName":"db","defaultMode":256,"items":[{"key":"password","path":"pw"}]}},
	    {"name":"info","downwardAPI":{"items":[{"path":"labels","fieldRef":{"fieldPath":"metadata.labels"}},
	      {"path":"mem","resourceFieldRef":{"containerName":"web","resource":"limits.memory","divisor":"1Mi"}}]}},
	    {"name":"data","persistentVolumeClaim":{"claimName":"data"}}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if errs := manifest.Validate(o); errs != nil {
		t.Fatal(errs)
	}
	return node.Pod{Namespace: "default", Name: "web", UID: "u1", Labels: map[string]string{"app": "web", "tier": `fr"ont`},
		Spec: *o.Pod()}
}

func newTest(t *testing.T) (*Manager, *fakeConfigs, *fakeMounter, string) {
	dir := t.TempDir()
	cfgs := &fakeConfigs{objs: map[node.ConfigRef]node.ConfigObject{}}
	mnt := &fakeMounter{mounted: map[string]int64{}}
	m := newManager(Config{Dir: filepath.Join(dir, "pods"), NodeName: "n1", HostIP: "10.0.0.1",
		Allocatable: map[string]int64{"cpu": 4000, "memory": 8 << 30}}, mnt, zerolog.Nop())
	return m, cfgs, mnt, dir
}

func sources(cfgs *fakeConfigs, dir string) node.Sources {
	return node.Sources{Configs: cfgs, Claims: fakeClaims{"default/data": filepath.Join(dir, "pv")}}
}

func TestPrepareWaitsForObjectsThenFailsOnMissingOnes(t *testing.T) {
	m, cfgs, _, dir := newTest(t)
	pod := testPod(t)
	ctx := context.Background()
	if _, err := m.Prepare(ctx, pod, "10.1.0.5", sources(cfgs, dir)); !errors.Is(err, node.ErrVolumesPending) {
		t.Fatalf("nothing known: %v, want pending", err)
	}
	cfgs.set(kindConfigMap, "app", 1, map[string]string{"level": "info"})
	cfgs.set(kindSecret, "db", 1, nil) // does not exist
	_, err := m.Prepare(ctx, pod, "10.1.0.5", sources(cfgs, dir))
	var ce *node.ConfigError
	if !errors.As(err, &ce) || ce.Message != `secret "db" not found` {
		t.Fatalf("secret missing: %v, want secret \"db\" not found", err)
	}
	cfgs.set(kindSecret, "db", 2, map[string]string{"user": "admin"})
	_, err = m.Prepare(ctx, pod, "10.1.0.5", sources(cfgs, dir))
	if !errors.As(err, &ce) || ce.Message != "couldn't find key password in Secret default/db" {
		t.Fatalf("key missing: %v", err)
	}
	cfgs.set(kindConfigMap, "app", 1, map[string]string{"other": "x"})
	cfgs.set(kindSecret, "db", 3, map[string]string{"user": "admin", "password": "s3cret"})
	_, err = m.Prepare(ctx, pod, "10.1.0.5", sources(cfgs, dir))
	if !errors.As(err, &ce) || ce.Message != "couldn't find key level in ConfigMap default/app" {
		t.Fatalf("env key missing: %v", err)
	}
}

func TestPrepareMakesVolumesMountsAndEnv(t *testing.T) {
	m, cfgs, mnt, dir := newTest(t)
	cfgs.set(kindConfigMap, "app", 1, map[string]string{"level": "info", "bad key": "skipped", "DB_USER": "from-cm"})
	cfgs.set(kindSecret, "db", 1, map[string]string{"user": "admin", "password": "s3cret"})
	pod, err := m.Prepare(context.Background(), testPod(t), "10.1.0.5", sources(cfgs, dir))
	if err != nil {
		t.Fatal(err)
	}
	wantEnv := []string{"DB_USER=override", "level=info", "DB_password=s3cret", "DB_user=admin", "LEVEL=info", "POD_NAME=web",
		"APP=web", "IP=10.1.0.5", "NODE=n1", "MEM_MI=64", "CPU_M=250", "CPU_LIMIT=4"}
	if got := pod.Env["web"]; !reflect.DeepEqual(got, wantEnv) {
		t.Errorf("env\n got %q\nwant %q", got, wantEnv)
	}
	vol := func(name string) string { return filepath.Join(dir, "pods", "u1", "volumes", name) }
	level, _ := filepath.EvalSymlinks(filepath.Join(vol("config"), "level"))
	wantMounts := []node.Mount{
		{Source: vol("cache"), Destination: "/cache"},
		{Source: vol("shm"), Destination: "/dev/shm"},
		{Source: vol("config"), Destination: "/etc/app", ReadOnly: true},
		{Source: level, Destination: "/etc/level", ReadOnly: true},
		{Source: vol("creds"), Destination: "/etc/creds", ReadOnly: true},
		{Source: vol("info"), Destination: "/etc/podinfo", ReadOnly: true},
		{Source: filepath.Join(vol("cache"), "work/dir"), Destination: "/work"},
		{Source: filepath.Join(dir, "pv"), Destination: "/data", ReadOnly: true},
	}
	if got := pod.Mounts["web"]; !reflect.DeepEqual(got, wantMounts) {
		t.Errorf("mounts\n got %+v\nwant %+v", got, wantMounts)
	}
	if mnt.mounted[vol("shm")] != 64<<20 || len(mnt.mounted) != 2 {
		t.Errorf("tmpfs mounts %v, want shm (64Mi) and creds", mnt.mounted)
	}
	files := map[string]string{"config/level": "info", "creds/pw": "s3cret", "info/labels": "app=\"web\"\ntier=\"fr\\\"ont\"", "info/mem": "64"}
	for f, want := range files {
		if b, err := os.ReadFile(filepath.Join(dir, "pods", "u1", "volumes", f)); err != nil || string(b) != want {
			t.Errorf("%s = %q (%v), want %q", f, b, err, want)
		}
	}
	if st, err := os.Stat(filepath.Join(vol("creds"), "pw")); err != nil || st.Mode().Perm() != 0o400 {
		t.Errorf("secret file mode %v (%v), want 0400", st.Mode().Perm(), err)
	}

	// The ConfigMap changes: Sync updates its files in place; the env
	// Prepare resolved stays what it was.
	cfgs.set(kindConfigMap, "app", 2, map[string]string{"level": "debug"})
	m.Sync(context.Background(), []node.Pod{testPod(t)}, sources(cfgs, dir))
	if b, _ := os.ReadFile(filepath.Join(vol("config"), "level")); string(b) != "debug" {
		t.Errorf("after update level = %q", b)
	}
	if _, err := os.Lstat(filepath.Join(vol("config"), "bad key")); !os.IsNotExist(err) {
		t.Errorf("a key gone from the ConfigMap is still a file: %v", err)
	}

	if err := m.Remove(context.Background(), "u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pods", "u1")); !os.IsNotExist(err) || len(mnt.mounted) != 0 {
		t.Errorf("after Remove: %v, mounts %v", err, mnt.mounted)
	}
	if err := m.Remove(context.Background(), "u1"); err != nil {
		t.Errorf("Remove again: %v", err)
	}
}

func TestPrepareWaitsForTheClaim(t *testing.T) {
	m, cfgs, _, _ := newTest(t)
	cfgs.set(kindConfigMap, "app", 1, map[string]string{"level": "info"})
	cfgs.set(kindSecret, "db", 1, map[string]string{"password": "p"})
	if _, err := m.Prepare(context.Background(), testPod(t), "", node.Sources{Configs: cfgs, Claims: fakeClaims{}}); !errors.Is(err, node.ErrVolumesPending) {
		t.Errorf("claim not bound here: %v, want pending", err)
	}
}

// A subPath that a symlink leads out of the volume is refused.
func TestSubPathOutsideTheVolumeIsRefused(t *testing.T) {
	dir := t.TempDir()
	vol := filepath.Join(dir, "vol")
	if err := os.MkdirAll(vol, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", filepath.Join(vol, "escape")); err != nil {
		t.Fatal(err)
	}
	if _, err := subPathSource(vol, "escape/passwd", true); err == nil {
		t.Errorf("a subPath through a symlink to /etc was accepted")
	}
	if p, err := subPathSource(vol, "a/b", true); err != nil || p != filepath.Join(vol, "a/b") {
		t.Errorf("a new subPath: %q, %v", p, err)
	}
}

func TestHostPathTypes(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	typ := func(s string) *string { return &s }
	for _, tt := range []struct {
		path, typ string
		ok        bool
	}{
		{dir, manifest.HostPathDirectory, true},
		{file, manifest.HostPathDirectory, false},
		{file, manifest.HostPathFile, true},
		{filepath.Join(dir, "new/dir"), manifest.HostPathDirectoryOrCreate, true},
		{filepath.Join(dir, "new/file"), manifest.HostPathFileOrCreate, true},
		{filepath.Join(dir, "missing"), manifest.HostPathFile, false},
		{file, manifest.HostPathSocket, false},
		{filepath.Join(dir, "missing"), "", true},
	} {
		err := checkHostPath(manifest.HostPathVolumeSource{Path: tt.path, Type: typ(tt.typ)})
		if (err == nil) != tt.ok {
			t.Errorf("%s %s: %v, want ok=%v", tt.path, tt.typ, err, tt.ok)
		}
	}
	if st, err := os.Stat(filepath.Join(dir, "new/file")); err != nil || !st.Mode().IsRegular() {
		t.Errorf("FileOrCreate made %v, %v", st, err)
	}
}

// Given two pods' volumes on the node, expect Collect to unmount and
// remove those of the pod keep refuses and to leave the other's.
func TestCollectRemovesTheVolumesOfPodsNoLongerHere(t *testing.T) {
	m, cfgs, mnt, dir := newTest(t)
	cfgs.set(kindConfigMap, "app", 1, map[string]string{"level": "info"})
	cfgs.set(kindSecret, "db", 1, map[string]string{"user": "admin", "password": "s3cret"})
	kept, gone := testPod(t), testPod(t)
	gone.UID = "u2"
	for _, p := range []node.Pod{kept, gone} {
		if _, err := m.Prepare(context.Background(), p, "10.1.0.5", sources(cfgs, dir)); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Collect(context.Background(), func(uid string) bool { return uid == kept.UID }); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pods", "u2")); !os.IsNotExist(err) {
		t.Errorf("the volumes of the pod no longer here stay: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pods", kept.UID, "volumes")); err != nil {
		t.Errorf("the volumes of the pod kept: %v", err)
	}
	for path := range mnt.mounted {
		if strings.Contains(path, "/u2/") {
			t.Errorf("%s is still mounted", path)
		}
	}
}
