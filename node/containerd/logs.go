package containerd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// logPollInterval is how often a followed log is checked for new output.
const logPollInterval = 200 * time.Millisecond

// Logs writes the log of container of pod namespace/name to w. With follow
// it keeps writing what the container prints until ctx ends or the pod's logs
// are removed. When pods of that name with different uids left logs, the
// most recently written is used.
func (r *Runtime) Logs(ctx context.Context, namespace, name, container string, follow bool, w io.Writer) error {
	path, err := r.findLog(namespace, name, container)
	if err != nil {
		return fmt.Errorf("logs of %s in %s/%s: %w", container, namespace, name, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("logs of %s in %s/%s: %w", container, namespace, name, err)
	}
	defer f.Close()
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("logs of %s in %s/%s: %w", container, namespace, name, err)
	}
	if !follow {
		return nil
	}
	tick := time.NewTicker(logPollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if _, err := io.Copy(w, f); err != nil {
			return fmt.Errorf("logs of %s in %s/%s: %w", container, namespace, name, err)
		}
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil // the pod was removed: nothing more will come
		}
	}
}

// findLog is the newest log file of the container among the pod's uids.
func (r *Runtime) findLog(namespace, name, container string) (string, error) {
	pattern := filepath.Join(r.cfg.StateDir, "logs", globEscape(pathComponent(namespace)+"_"+pathComponent(name)+"_")+"*", globEscape(pathComponent(container)+".log"))
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return "", err
	}
	var (
		best    string
		bestMod time.Time
	)
	for _, m := range matches {
		st, err := os.Stat(m)
		if err != nil {
			continue
		}
		if best == "" || st.ModTime().After(bestMod) {
			best, bestMod = m, st.ModTime()
		}
	}
	if best == "" {
		return "", fmt.Errorf("no log: %w", fs.ErrNotExist)
	}
	return best, nil
}

// globEscape quotes the characters filepath.Match treats specially.
func globEscape(s string) string {
	var out []byte
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', '\\':
			out = append(out, '\\')
		}
		out = append(out, s[i])
	}
	return string(out)
}
