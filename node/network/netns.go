package network

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/containerd/containerd/v2/pkg/netns"
	"golang.org/x/sys/unix"
)

// DefaultNetNSDir is where named network namespaces live, as `ip netns` expects.
const DefaultNetNSDir = "/var/run/netns"

// nsfsMagic is the filesystem magic of a bind-mounted network namespace.
const nsfsMagic = 0x6e736673

// CreateNetNS makes a named, persistent network namespace at dir/name: a new
// namespace bind-mounted on a file, so it outlives the process that made it.
// If dir/name already holds a namespace it is returned as it is.
func CreateNetNS(dir, name string) (string, error) {
	if name == "" || filepath.Base(name) != name {
		return "", fmt.Errorf("create netns: bad name %q", name)
	}
	path := filepath.Join(dir, name)
	ok, err := IsNetNS(path)
	if err != nil {
		return "", fmt.Errorf("create netns %s: %w", path, err)
	}
	if ok {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create netns %s: %w", path, err)
	}
	// An empty file left by an interrupted attempt is reused as mount point.
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o444)
	if err != nil {
		return "", fmt.Errorf("create netns %s: %w", path, err)
	}
	f.Close()

	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		orig, err := os.Open(self)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		err = unix.Mount(self, path, "none", unix.MS_BIND, "")
		// Back to the original namespace before the thread serves other
		// goroutines; if that fails the thread stays locked and Go ends it
		// with this goroutine.
		if serr := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); serr == nil {
			runtime.UnlockOSThread()
		}
		if err != nil {
			errc <- fmt.Errorf("bind mount %s: %w", self, err)
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		os.Remove(path)
		return "", fmt.Errorf("create netns %s: %w", path, err)
	}
	return path, nil
}

// IsNetNS reports whether path is a mounted network namespace. A missing path
// is false without error.
func IsNetNS(path string) (bool, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return false, nil
		}
		return false, fmt.Errorf("statfs %s: %w", path, err)
	}
	return int64(st.Type) == nsfsMagic, nil
}

// RemoveNetNS unmounts and deletes a namespace made by CreateNetNS. A missing
// namespace is success.
func RemoveNetNS(path string) error {
	if err := netns.LoadNetNS(path).Remove(); err != nil {
		return fmt.Errorf("remove netns %s: %w", path, err)
	}
	return nil
}
