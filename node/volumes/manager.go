// Package volumes makes the volumes of a node's pods and resolves what their
// containers mount and read from their environment: emptyDir (on disk, or
// tmpfs with medium Memory), hostPath, configMap, secret (on tmpfs),
// projected, downwardAPI (files written by the atomic writer, updated in
// place when their objects change) and persistentVolumeClaim (node.Claims).
// It implements node.Volumes; the containerd runtime binds what it returns.
package volumes

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/node"
)

// Config describes where and with what a Manager works.
type Config struct {
	// Dir holds a directory per pod: Dir/<uid>/volumes/<volume>. The node
	// agent's state dir's "pods".
	Dir string
	// NodeName and HostIP are the downward API's spec.nodeName and
	// status.hostIP.
	NodeName string
	HostIP   string
	// Allocatable is what a container without a limit may use, for the
	// downward API's limits (cpu in millicores, memory in bytes).
	Allocatable map[string]int64
	Clock       func() time.Time
}

// Manager makes and removes pods' volumes; safe for concurrent use by the
// executor's pod workers (each pod's calls come from one worker at a time).
type Manager struct {
	cfg Config
	mnt mounter
	log zerolog.Logger

	mu      sync.Mutex
	written map[string]string // uid/volume → revision of the files written
}

var _ node.Volumes = (*Manager)(nil)

// New makes a Manager that mounts with the kernel.
func New(cfg Config, log zerolog.Logger) *Manager {
	return newManager(cfg, kernel{}, log)
}

func newManager(cfg Config, mnt mounter, log zerolog.Logger) *Manager {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Manager{cfg: cfg, mnt: mnt, log: log.With().Str("component", "volumes").Logger(), written: map[string]string{}}
}

func (m *Manager) volumeDir(uid, name string) string {
	return filepath.Join(m.cfg.Dir, uid, "volumes", name)
}

func (m *Manager) facts(pod node.Pod, ip string) facts {
	return facts{pod: pod, ip: ip, nodeName: m.cfg.NodeName, hostIP: m.cfg.HostIP, allocatable: m.cfg.Allocatable}
}

// Prepare makes pod's volumes and resolves each container's mounts and env.
func (m *Manager) Prepare(ctx context.Context, pod node.Pod, ip string, src node.Sources) (node.Pod, error) {
	f := m.facts(pod, ip)
	l := &lookup{configs: src.Configs}
	sources := map[string]string{} // volume → its directory (or file) on the node
	var firstErr error
	fail := func(err error) {
		if firstErr == nil {
			firstErr = err
		}
	}
	for _, v := range pod.Spec.Volumes {
		dir, err := m.makeVolume(f, l, src.Claims, v)
		if err != nil {
			fail(err)
			continue
		}
		sources[v.Name] = dir
	}
	pod.Env = map[string][]string{}
	pod.Mounts = map[string][]node.Mount{}
	for _, c := range allContainers(pod.Spec) {
		env, err := containerEnv(f, l, c)
		if err != nil {
			fail(err)
			continue
		}
		pod.Env[c.Name] = env
	}
	// What the node has not been told of yet makes the pod wait, whatever
	// else failed: the missing object may yet exist.
	if err := l.err(); err != nil {
		return pod, err
	}
	if firstErr != nil {
		return pod, firstErr
	}
	byName := map[string]manifest.Volume{}
	for _, v := range pod.Spec.Volumes {
		byName[v.Name] = v
	}
	for _, c := range allContainers(pod.Spec) {
		for _, vm := range c.VolumeMounts {
			v := byName[vm.Name]
			dir, ok := sources[vm.Name]
			if !ok {
				return pod, fmt.Errorf("volumeMounts %s: no volume %q", vm.MountPath, vm.Name)
			}
			if vm.SubPath != "" {
				var err error
				if dir, err = subPathSource(dir, vm.SubPath, writable(v)); err != nil {
					return pod, err
				}
			}
			pod.Mounts[c.Name] = append(pod.Mounts[c.Name], node.Mount{Source: dir, Destination: vm.MountPath,
				ReadOnly: vm.ReadOnly || !writable(v) || (v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ReadOnly)})
		}
	}
	return pod, nil
}

func allContainers(s manifest.PodSpec) []manifest.Container {
	return append(append([]manifest.Container(nil), s.InitContainers...), s.Containers...)
}

// writable: the container may write the volume (not one whose files the
// node writes: those are mounted read-only, as in Kubernetes).
func writable(v manifest.Volume) bool {
	return v.ConfigMap == nil && v.Secret == nil && v.DownwardAPI == nil && v.Projected == nil
}

// makeVolume makes volume v of f.pod (idempotent) and returns its path on
// the node.
func (m *Manager) makeVolume(f facts, l *lookup, claims node.Claims, v manifest.Volume) (string, error) {
	dir := m.volumeDir(f.pod.UID, v.Name)
	switch {
	case v.EmptyDir != nil:
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return "", err
		}
		if v.EmptyDir.Medium == manifest.StorageMediumMemory {
			var size int64
			if q := v.EmptyDir.SizeLimit; q != nil {
				size = q.Value()
			}
			if err := m.mnt.MountTmpfs(dir, size); err != nil {
				return "", err
			}
		}
		return dir, os.Chmod(dir, 0o777) // as Kubernetes: any user of the pod may write
	case v.HostPath != nil:
		return v.HostPath.Path, checkHostPath(*v.HostPath)
	case v.PersistentVolumeClaim != nil:
		if claims == nil {
			return "", fmt.Errorf("%w: claim %s/%s", node.ErrVolumesPending, f.pod.Namespace, v.PersistentVolumeClaim.ClaimName)
		}
		p, ok := claims.ClaimPath(f.pod.Namespace, v.PersistentVolumeClaim.ClaimName)
		if !ok {
			return "", fmt.Errorf("%w: claim %s/%s is not bound to a volume on this node", node.ErrVolumesPending,
				f.pod.Namespace, v.PersistentVolumeClaim.ClaimName)
		}
		return p, nil
	default: // files the node writes: configMap, secret, downwardAPI, projected
		if _, err := m.writeFiles(f, l, v, true); err != nil {
			return "", err
		}
		return dir, nil
	}
}

// onTmpfs: the volume may hold a Secret's values, which never touch the
// node's disk.
func onTmpfs(v manifest.Volume) bool { return v.Secret != nil || v.Projected != nil }

// writeFiles writes the files of volume v unless their revision is the one
// written already (force: compare the files themselves). It reports whether
// the files changed.
func (m *Manager) writeFiles(f facts, l *lookup, v manifest.Volume, force bool) (bool, error) {
	key := f.pod.UID + "/" + v.Name
	rev := revision(f, l.configs, v)
	m.mu.Lock()
	last, seen := m.written[key]
	m.mu.Unlock()
	if !force && seen && last == rev {
		return false, nil
	}
	files, err := payload(f, l, v)
	if err != nil {
		return false, err
	}
	dir := m.volumeDir(f.pod.UID, v.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	if onTmpfs(v) {
		if err := m.mnt.MountTmpfs(dir, 0); err != nil {
			return false, err
		}
	}
	changed, err := WriteAtomic(dir, files, m.cfg.Clock())
	if err != nil {
		return changed, fmt.Errorf("volume %s: %w", v.Name, err)
	}
	m.mu.Lock()
	m.written[key] = rev
	m.mu.Unlock()
	return changed, nil
}

// Sync rewrites the files of the running pods' volumes whose objects (or
// labels and annotations) changed: the in-place update. A volume the node
// cannot write now (an object deleted, a key gone) keeps its files.
func (m *Manager) Sync(ctx context.Context, pods []node.Pod, src node.Sources) {
	for _, pod := range pods {
		if ctx.Err() != nil {
			return
		}
		if _, err := os.Stat(filepath.Join(m.cfg.Dir, pod.UID)); err != nil {
			continue // not prepared here (yet)
		}
		f := m.facts(pod, "")
		for _, v := range pod.Spec.Volumes {
			if writable(v) {
				continue // volume files hold no status field: ip "" is not read
			}
			changed, err := m.writeFiles(f, &lookup{configs: src.Configs}, v, false)
			switch {
			case err != nil && !errors.Is(err, node.ErrVolumesPending):
				m.log.Warn().Err(err).Str("pod", pod.Namespace+"/"+pod.Name).Str("volume", v.Name).Msg("update volume")
			case changed:
				m.log.Info().Str("pod", pod.Namespace+"/"+pod.Name).Str("volume", v.Name).Msg("volume updated")
			}
		}
	}
}

// Remove unmounts and removes the volumes of pod uid; removing what is gone
// is success.
func (m *Manager) Remove(ctx context.Context, uid string) error {
	root := filepath.Join(m.cfg.Dir, uid)
	vols := filepath.Join(root, "volumes")
	entries, err := os.ReadDir(vols)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	for _, e := range entries {
		if err := m.mnt.Unmount(filepath.Join(vols, e.Name())); err != nil {
			return err
		}
	}
	m.mu.Lock()
	for k := range m.written {
		if strings.HasPrefix(k, uid+"/") {
			delete(m.written, k)
		}
	}
	m.mu.Unlock()
	return os.RemoveAll(root)
}

// Collect removes the volumes of every pod under Dir that keep says no to.
func (m *Manager) Collect(ctx context.Context, keep func(uid string) bool) error {
	entries, err := os.ReadDir(m.cfg.Dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	for _, e := range entries {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !e.IsDir() || keep(e.Name()) {
			continue
		}
		if err := m.Remove(ctx, e.Name()); err != nil {
			return fmt.Errorf("volumes of pod %s: %w", e.Name(), err)
		}
		m.log.Info().Str("uid", e.Name()).Msg("removed the volumes of a pod no longer here")
	}
	return nil
}

// subPathSource is the path of sub inside the volume at dir, resolved:
// symlinks that lead out of the volume are refused (a container could
// otherwise make one and have the node bind what it points at). A missing
// sub of a volume the pod writes is created, as Kubernetes does.
func subPathSource(dir, sub string, create bool) (string, error) {
	base, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, sub)
	if _, err := os.Lstat(p); os.IsNotExist(err) && create {
		if err := os.MkdirAll(p, 0o755); err != nil {
			return "", err
		}
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", fmt.Errorf("subPath %q: %w", sub, err)
	}
	if real != base && !strings.HasPrefix(real, base+string(filepath.Separator)) {
		return "", fmt.Errorf("subPath %q resolves to %s, outside the volume", sub, real)
	}
	return real, nil
}

// checkHostPath checks (or makes) a hostPath per its type, with
// Kubernetes' messages.
func checkHostPath(h manifest.HostPathVolumeSource) error {
	t := ""
	if h.Type != nil {
		t = *h.Type
	}
	p := h.Path
	info, err := os.Stat(p)
	exists := err == nil
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	mode := fs.FileMode(0)
	if exists {
		mode = info.Mode()
	}
	bad := func(what string) error { return fmt.Errorf("hostPath type check failed: %s is not %s", p, what) }
	switch t {
	case manifest.HostPathUnset:
		return nil
	case manifest.HostPathDirectoryOrCreate:
		if !exists {
			return os.MkdirAll(p, 0o755)
		}
		if !mode.IsDir() {
			return bad("a directory")
		}
	case manifest.HostPathDirectory:
		if !exists || !mode.IsDir() {
			return bad("a directory")
		}
	case manifest.HostPathFileOrCreate:
		if !exists {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			fh, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			return fh.Close()
		}
		if !mode.IsRegular() {
			return bad("a file")
		}
	case manifest.HostPathFile:
		if !exists || !mode.IsRegular() {
			return bad("a file")
		}
	case manifest.HostPathSocket:
		if !exists || mode&fs.ModeSocket == 0 {
			return bad("a socket file")
		}
	case manifest.HostPathCharDevice:
		if !exists || mode&fs.ModeCharDevice == 0 {
			return bad("a character device")
		}
	case manifest.HostPathBlockDevice:
		if !exists || mode&fs.ModeDevice == 0 || mode&fs.ModeCharDevice != 0 {
			return bad("a block device")
		}
	default:
		return fmt.Errorf("hostPath type %q unsupported", t)
	}
	return nil
}
