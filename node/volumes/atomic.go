package volumes

import (
	"bytes"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The atomic writer puts a set of files in a directory so that a reader sees
// the old set or the new one, never a mix, as Kubernetes' AtomicWriter
// (pkg/volume/util/atomic_writer.go) does:
//
//	dir/..2026_12_03_19_30_00.123456789/app.conf   the files of one version
//	dir/..data -> ..2026_12_03_19_30_00.123456789  swapped by rename(2)
//	dir/app.conf -> ..data/app.conf                what the container reads
//
// A write makes a new timestamped directory, points a new symlink at it and
// renames that over ..data (atomic), then adds the user-visible symlinks
// that are new, drops those that are gone and removes the old version. A
// writer killed at any point leaves ..data at a complete version; the next
// write removes what it left.

const (
	dataDirName    = "..data"
	newDataDirName = "..data_tmp"
)

// File is one file of a volume's payload.
type File struct {
	Data []byte
	Mode fs.FileMode
}

// WriteAtomic makes dir hold exactly payload (relative paths → files),
// atomically. It reports whether anything changed: a payload equal to what
// dir holds is not written again.
func WriteAtomic(dir string, payload map[string]File, now time.Time) (changed bool, err error) {
	for p := range payload {
		if err := checkPayloadPath(p); err != nil {
			return false, err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	old, _ := os.Readlink(filepath.Join(dir, dataDirName))
	if old != "" && same(filepath.Join(dir, old), payload) {
		return false, removeStale(dir, old)
	}
	// A new version: its own directory, complete before ..data names it.
	ts, err := os.MkdirTemp(dir, now.UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return false, err
	}
	if err := os.Chmod(ts, 0o755); err != nil {
		return false, err
	}
	for _, p := range slices.Sorted(maps.Keys(payload)) {
		f := payload[p]
		full := filepath.Join(ts, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return false, err
		}
		if err := os.WriteFile(full, f.Data, f.Mode); err != nil {
			return false, err
		}
		if err := os.Chmod(full, f.Mode); err != nil { // not the umask's
			return false, err
		}
	}
	tmp := filepath.Join(dir, newDataDirName)
	if err := os.Remove(tmp); err != nil && !os.IsNotExist(err) {
		return false, err
	}
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		return false, err
	}
	if err := os.Rename(tmp, filepath.Join(dir, dataDirName)); err != nil {
		return false, fmt.Errorf("swap %s: %w", dataDirName, err)
	}
	// The user-visible names: one symlink per top-level name of the payload.
	want := map[string]bool{}
	for p := range payload {
		want[strings.SplitN(p, "/", 2)[0]] = true
	}
	for name := range want {
		link := filepath.Join(dir, name)
		if target, err := os.Readlink(link); err == nil && target == filepath.Join(dataDirName, name) {
			continue
		}
		if err := os.Symlink(filepath.Join(dataDirName, name), link); err != nil && !os.IsExist(err) {
			return true, err
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return true, err
	}
	for _, e := range entries {
		if n := e.Name(); !strings.HasPrefix(n, "..") && !want[n] && e.Type()&fs.ModeSymlink != 0 {
			if err := os.Remove(filepath.Join(dir, n)); err != nil {
				return true, err
			}
		}
	}
	return true, removeStale(dir, filepath.Base(ts))
}

// removeStale removes every version but current (and an interrupted swap's
// symlink): what an earlier write replaced or a killed one left.
func removeStale(dir, current string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		n := e.Name()
		if !strings.HasPrefix(n, "..") || n == dataDirName || n == current {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, n)); err != nil {
			return err
		}
	}
	return nil
}

// same reports whether version dir holds exactly payload, modes included.
func same(dir string, payload map[string]File) bool {
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		f, ok := payload[filepath.ToSlash(rel)]
		if !ok {
			return fs.ErrNotExist
		}
		info, err := d.Info()
		if err != nil || info.Mode().Perm() != f.Mode.Perm() {
			return fs.ErrInvalid
		}
		data, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(data, f.Data) {
			return fs.ErrInvalid
		}
		n++
		return nil
	})
	return err == nil && n == len(payload)
}

// checkPayloadPath refuses a path that would leave the volume or touch the
// writer's own names (validation refuses them before; this is the last
// line).
func checkPayloadPath(p string) error {
	switch {
	case p == "", filepath.IsAbs(p), strings.HasPrefix(p, ".."):
		return fmt.Errorf("invalid volume file path %q", p)
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." || el == "" || el == "." {
			return fmt.Errorf("invalid volume file path %q", p)
		}
	}
	return nil
}
