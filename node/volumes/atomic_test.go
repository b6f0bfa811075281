package volumes

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 3, 19, 30, 0, 0, time.UTC)

// version is a payload whose every file says which version it belongs to.
func version(n int, files ...string) map[string]File {
	out := map[string]File{}
	for _, f := range files {
		out[f] = File{Data: []byte(fmt.Sprintf("v%d %s %s", n, f, strings.Repeat("x", 4096))), Mode: 0o644}
	}
	return out
}

func readAll(t *testing.T, dir string, files ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatalf("read %s: %v", f, err)
		}
		out[f] = string(b)
	}
	return out
}

func TestWriteAtomicLayoutUpdateAndRemoval(t *testing.T) {
	dir := t.TempDir()
	changed, err := WriteAtomic(dir, map[string]File{
		"app.conf":       {Data: []byte("level=info"), Mode: 0o644},
		"certs/tls.key":  {Data: []byte("secret"), Mode: 0o400},
		"certs/tls.cert": {Data: []byte("cert"), Mode: 0o444},
	}, t0)
	if err != nil || !changed {
		t.Fatalf("first write: changed %v, %v", changed, err)
	}
	// The user-visible names are symlinks into ..data.
	for name, want := range map[string]string{"app.conf": "..data/app.conf", "certs": "..data/certs"} {
		if got, err := os.Readlink(filepath.Join(dir, name)); err != nil || got != want {
			t.Errorf("%s -> %q (%v), want %q", name, got, err, want)
		}
	}
	if got := readAll(t, dir, "app.conf", "certs/tls.key"); got["app.conf"] != "level=info" || got["certs/tls.key"] != "secret" {
		t.Errorf("content %v", got)
	}
	if st, err := os.Stat(filepath.Join(dir, "certs/tls.key")); err != nil || st.Mode().Perm() != 0o400 {
		t.Errorf("tls.key mode %v (%v), want 0400", st.Mode().Perm(), err)
	}
	first, _ := os.Readlink(filepath.Join(dir, dataDirName))

	// The same payload again: nothing written.
	if changed, err := WriteAtomic(dir, map[string]File{
		"app.conf":       {Data: []byte("level=info"), Mode: 0o644},
		"certs/tls.key":  {Data: []byte("secret"), Mode: 0o400},
		"certs/tls.cert": {Data: []byte("cert"), Mode: 0o444},
	}, t0.Add(time.Second)); err != nil || changed {
		t.Errorf("same payload: changed %v, %v", changed, err)
	}

	// An update swaps ..data, drops the names that are gone and the old version.
	if changed, err := WriteAtomic(dir, map[string]File{"app.conf": {Data: []byte("level=debug"), Mode: 0o600}}, t0.Add(2*time.Second)); err != nil || !changed {
		t.Fatalf("update: changed %v, %v", changed, err)
	}
	if got := readAll(t, dir, "app.conf"); got["app.conf"] != "level=debug" {
		t.Errorf("after update %v", got)
	}
	if _, err := os.Lstat(filepath.Join(dir, "certs")); !os.IsNotExist(err) {
		t.Errorf("certs still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, first)); !os.IsNotExist(err) {
		t.Errorf("old version %s still there: %v", first, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 { // ..data, one version, app.conf
		t.Errorf("entries %v, want ..data, a version and app.conf", entries)
	}

	for _, bad := range []string{"../x", "/etc/passwd", "a/../../b", "..data"} {
		if _, err := WriteAtomic(dir, map[string]File{bad: {Data: []byte("x"), Mode: 0o644}}, t0); err == nil {
			t.Errorf("path %q accepted", bad)
		}
	}
}

// A reader that reads every file of the volume while it is updated sees one
// version's files, never some of one and some of another (it reads through
// ..data once per pass, as a program that resolves the directory does; a
// single file read through its own symlink is always whole).
func TestWriteAtomicReaderNeverSeesAMix(t *testing.T) {
	dir := t.TempDir()
	files := []string{"a", "b", "c/d"}
	if _, err := WriteAtomic(dir, version(0, files...), t0); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var mixes, passes atomic.Int64
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				target, err := os.Readlink(filepath.Join(dir, dataDirName))
				if err != nil {
					continue
				}
				seen := map[string]bool{}
				ok := true
				for _, f := range files {
					b, err := os.ReadFile(filepath.Join(dir, target, f))
					if err != nil { // the version was removed under the reader: read again
						ok = false
						break
					}
					seen[strings.Fields(string(b))[0]] = true
				}
				// A whole file through its own user-visible name.
				if b, err := os.ReadFile(filepath.Join(dir, "a")); err == nil && len(b) < 4096 {
					mixes.Add(1)
				}
				if ok {
					passes.Add(1)
					if len(seen) != 1 {
						mixes.Add(1)
					}
				}
			}
		}()
	}
	for n := 1; n <= 200; n++ {
		if _, err := WriteAtomic(dir, version(n, files...), t0.Add(time.Duration(n)*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if mixes.Load() != 0 {
		t.Errorf("%d reads saw a mix of versions or a partial file", mixes.Load())
	}
	if passes.Load() == 0 {
		t.Errorf("the readers read nothing")
	}
	if got := readAll(t, dir, files...); !strings.HasPrefix(got["c/d"], "v200 ") {
		t.Errorf("final %q", got["c/d"][:10])
	}
}

// Killed with SIGKILL at any moment of a write, the writer leaves the old
// version or the new one, never a mix; the next write cleans up after it.
// The writer is this test binary run again (TestHelperAtomicWriter).
func TestWriteAtomicKilledMidWrite(t *testing.T) {
	dir := t.TempDir()
	files := []string{"a", "b", "c/d", "e"}
	if _, err := WriteAtomic(dir, version(0, files...), t0); err != nil {
		t.Fatal(err)
	}
	moved := 0 // rounds in which the writer got a version out
	last := "v0"
	for round := range 20 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAtomicWriter$")
		cmd.Env = append(os.Environ(), "GANTRY_ATOMIC_WRITER_DIR="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill it at a different moment of its writing each round (not
		// a synchronization: any moment must do).
		time.Sleep(time.Duration(20+round*7) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		got := readAll(t, dir, files...)
		versions := map[string]bool{}
		for _, f := range files {
			versions[strings.Fields(got[f])[0]] = true
			if len(got[f]) < 4096 {
				t.Fatalf("round %d: %s partial (%d bytes)", round, f, len(got[f]))
			}
		}
		if len(versions) != 1 {
			t.Fatalf("round %d: a mix of versions %v", round, versions)
		}
		if v := strings.Fields(got["a"])[0]; v != last {
			moved, last = moved+1, v
		}
	}
	if moved == 0 {
		t.Errorf("the writer never got a version out before it was killed")
	}
	// The next write removes what the killed ones left.
	if _, err := WriteAtomic(dir, version(99999, files...), t0); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..") {
			names = append(names, e.Name())
		}
	}
	if len(names) != 2 {
		t.Errorf("left after cleanup: %v, want ..data and one version", names)
	}
}

// TestHelperAtomicWriter is the writer TestWriteAtomicKilledMidWrite kills:
// it writes new versions until it is killed.
func TestHelperAtomicWriter(t *testing.T) {
	dir := os.Getenv("GANTRY_ATOMIC_WRITER_DIR")
	if dir == "" {
		t.Skip("run by TestWriteAtomicKilledMidWrite")
	}
	for n := 1; ; n++ {
		if _, err := WriteAtomic(dir, version(n+os.Getpid()*1000, "a", "b", "c/d", "e"), time.Now()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
