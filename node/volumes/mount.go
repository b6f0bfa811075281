package volumes

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// mounter mounts and unmounts the tmpfs of memory-backed volumes (emptyDir
// medium Memory, secret, projected). Unit tests use a fake; the node runs
// as root and uses the kernel's.
type mounter interface {
	// MountTmpfs mounts a tmpfs of at most size bytes (0: the kernel's
	// default, half the memory) at dir, unless one is mounted there.
	MountTmpfs(dir string, size int64) error
	// Unmount unmounts dir if something is mounted there.
	Unmount(dir string) error
}

// kernel is the mounter of a real node (golang.org/x/sys/unix).
type kernel struct{}

func (kernel) MountTmpfs(dir string, size int64) error {
	if mounted, err := isMountPoint(dir); err != nil || mounted {
		return err
	}
	opts := "mode=0755"
	if size > 0 {
		opts += fmt.Sprintf(",size=%d", size)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mount tmpfs at %s: %w", dir, err)
	}
	return nil
}

func (kernel) Unmount(dir string) error {
	mounted, err := isMountPoint(dir)
	if err != nil || !mounted {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount %s: %w", dir, err)
	}
	return nil
}

// isMountPoint reports whether something is mounted at dir: its device
// differs from its parent's.
func isMountPoint(dir string) (bool, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return false, err
	}
	parent, err := os.Stat(filepath.Dir(dir))
	if err != nil {
		return false, err
	}
	return st.Sys().(*syscall.Stat_t).Dev != parent.Sys().(*syscall.Stat_t).Dev, nil
}
