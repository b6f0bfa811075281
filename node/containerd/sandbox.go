package containerd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/gantry-sh/gantry/node"
	"github.com/gantry-sh/gantry/node/network"
)

// sandboxRecord is what the runtime keeps on disk about a pod's sandbox, in
// StateDir/sandboxes/<id>/sandbox.json. A record with no IP is a sandbox
// being made (or whose making was interrupted).
type sandboxRecord struct {
	ID        string    `json:"id"`
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
	UID       string    `json:"uid"`
	Epoch     int64     `json:"epoch"`
	NetNS     string    `json:"netns"`
	IP        string    `json:"ip,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

const sandboxFile = "sandbox.json"

func (r *Runtime) sandboxDir(id string) string {
	return filepath.Join(r.cfg.StateDir, "sandboxes", id)
}

// loadSandbox reads the record of sandbox id; nil without error if none.
func (r *Runtime) loadSandbox(id string) (*sandboxRecord, error) {
	b, err := os.ReadFile(filepath.Join(r.sandboxDir(id), sandboxFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read sandbox %s: %w", id, err)
	}
	var rec sandboxRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("read sandbox %s: %w", id, err)
	}
	return &rec, nil
}

// saveSandbox writes the record atomically and durably.
func (r *Runtime) saveSandbox(rec *sandboxRecord) error {
	dir := r.sandboxDir(rec.ID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save sandbox %s: %w", rec.ID, err)
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fmt.Errorf("save sandbox %s: %w", rec.ID, err)
	}
	if err := writeFileSync(filepath.Join(dir, sandboxFile), b); err != nil {
		return fmt.Errorf("save sandbox %s: %w", rec.ID, err)
	}
	return nil
}

// writeFileSync replaces path with b through a synced temporary file.
func writeFileSync(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// listSandboxes reads every sandbox record, ordered by id.
func (r *Runtime) listSandboxes() ([]*sandboxRecord, error) {
	entries, err := os.ReadDir(filepath.Join(r.cfg.StateDir, "sandboxes"))
	if err != nil {
		return nil, fmt.Errorf("list sandboxes: %w", err)
	}
	var out []*sandboxRecord
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		rec, err := r.loadSandbox(e.Name())
		if err != nil {
			r.log.Warn().Err(err).Str("sandbox", e.Name()).Msg("skip unreadable sandbox record")
			continue
		}
		if rec != nil {
			out = append(out, rec)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// CreateSandbox makes the pod's network namespace, attaches it to the pod
// network and writes the pod's /etc/hosts and /etc/resolv.conf. A sandbox
// that exists returns its IP.
func (r *Runtime) CreateSandbox(ctx context.Context, pod node.Pod) (string, error) {
	if pod.UID == "" || pod.Name == "" {
		return "", fmt.Errorf("create sandbox of %s/%s: pod name and uid are required", pod.Namespace, pod.Name)
	}
	unlock := r.lockPod(pod.UID)
	defer unlock()
	ip, err := r.createSandbox(ctx, pod)
	if err != nil {
		return "", fmt.Errorf("create sandbox of %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return ip, nil
}

func (r *Runtime) createSandbox(ctx context.Context, pod node.Pod) (string, error) {
	id := sandboxID(pod.UID)
	rec, err := r.loadSandbox(id)
	if err != nil {
		return "", err
	}
	if rec != nil && rec.IP != "" {
		alive, err := network.IsNetNS(rec.NetNS)
		if err != nil {
			return "", err
		}
		if alive {
			if pod.Epoch > rec.Epoch {
				rec.Epoch = pod.Epoch
				if err := r.saveSandbox(rec); err != nil {
					return "", err
				}
			}
			return rec.IP, nil
		}
		r.log.Warn().Str("pod", pod.Namespace+"/"+pod.Name).Str("netns", rec.NetNS).
			Msg("sandbox network namespace is gone (host restarted?); making it again")
	}

	nsPath := r.net.NetNSPath(id)
	// Release what an interrupted or lost sandbox left: CNI state, netns.
	stale := []string{nsPath}
	if rec != nil && rec.NetNS != "" && rec.NetNS != nsPath {
		stale = append(stale, rec.NetNS)
	}
	for _, p := range stale {
		exists, err := network.IsNetNS(p)
		if err != nil {
			return "", err
		}
		if rec == nil && !exists {
			continue
		}
		if err := r.net.Teardown(ctx, id, p); err != nil {
			r.log.Warn().Err(err).Str("sandbox", id).Msg("release leftovers of an earlier sandbox")
		}
		if err := network.RemoveNetNS(p); err != nil {
			return "", err
		}
	}

	rec = &sandboxRecord{
		ID:        id,
		Namespace: pod.Namespace,
		Name:      pod.Name,
		UID:       pod.UID,
		Epoch:     pod.Epoch,
		NetNS:     nsPath,
		CreatedAt: time.Now().UTC(),
	}
	// Recorded before anything is made, so a crash leaves a record that
	// RemovePod or the next CreateSandbox cleans up.
	if err := r.saveSandbox(rec); err != nil {
		return "", err
	}
	if _, err := network.CreateNetNS(filepath.Dir(nsPath), filepath.Base(nsPath)); err != nil {
		return "", err
	}
	ip, err := r.net.Setup(ctx, id, nsPath)
	if err != nil {
		if rerr := network.RemoveNetNS(nsPath); rerr != nil {
			r.log.Warn().Err(rerr).Str("sandbox", id).Msg("remove netns after failed CNI ADD")
		}
		return "", err
	}
	if err := r.writePodFiles(rec.ID, pod.Namespace, hostname(pod), ip); err != nil {
		return "", err
	}
	rec.IP = ip
	if err := r.saveSandbox(rec); err != nil {
		return "", err
	}
	r.log.Info().Str("pod", pod.Namespace+"/"+pod.Name).Str("uid", pod.UID).Str("ip", ip).Str("netns", nsPath).Msg("sandbox created")
	return ip, nil
}

func (r *Runtime) hostsPath(id string) string  { return filepath.Join(r.sandboxDir(id), "hosts") }
func (r *Runtime) resolvPath(id string) string { return filepath.Join(r.sandboxDir(id), "resolv.conf") }

// writePodFiles writes the pod's hosts and resolv.conf (its search path
// names the pod's namespace). They are rewritten in place, so containers
// that bind-mount them see the new content.
func (r *Runtime) writePodFiles(id, namespace, podName, ip string) error {
	hosts := fmt.Sprintf("# managed by gantry\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n%s\t%s\n", ip, podName)
	if err := os.WriteFile(r.hostsPath(id), []byte(hosts), 0o644); err != nil {
		return fmt.Errorf("write hosts: %w", err)
	}
	resolv, err := r.resolvConf(namespace)
	if err != nil {
		return err
	}
	if err := os.WriteFile(r.resolvPath(id), resolv, 0o644); err != nil {
		return fmt.Errorf("write resolv.conf: %w", err)
	}
	return nil
}
