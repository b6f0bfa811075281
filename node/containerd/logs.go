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

	"github.com/gantry-sh/gantry/node"
)

// logPollInterval is how often a followed log is checked for new output.
const logPollInterval = 200 * time.Millisecond

// Logs writes the log of container of pod namespace/name to w: the current
// instance's, or with opts.Previous the one before its last restart. With
// Follow it keeps writing what the container prints, moving on to the new
// instance's log at a restart, until ctx ends or the pod's logs are removed.
// When pods of that name with different uids left logs, the most recently
// written is used.
func (r *Runtime) Logs(ctx context.Context, namespace, name, container string, opts node.LogOptions, w io.Writer) error {
	wrap := func(err error) error { return fmt.Errorf("logs of %s in %s/%s: %w", container, namespace, name, err) }
	dir, err := r.findLogDir(namespace, name, container)
	if err != nil {
		return wrap(err)
	}
	path := filepath.Join(dir, logFile(container))
	if opts.Previous {
		f, err := os.Open(path + previousSuffix)
		if errors.Is(err, fs.ErrNotExist) {
			return wrap(node.ErrNoPreviousLog)
		}
		if err != nil {
			return wrap(err)
		}
		defer f.Close()
		if _, err := io.Copy(w, f); err != nil {
			return wrap(err)
		}
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return wrap(err)
	}
	defer func() { f.Close() }()
	if _, err := io.Copy(w, f); err != nil {
		return wrap(err)
	}
	if !opts.Follow {
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
			return wrap(err)
		}
		next, err := newInstanceLog(f, dir, path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil // the pod was removed: nothing more will come
		case err != nil:
			return wrap(err)
		case next == nil:
			continue
		}
		// The file held is now the previous log and whole: its instance ended
		// before the restart kept it. Write its last lines, then the new one's.
		if _, err := io.Copy(w, f); err != nil {
			next.Close()
			return wrap(err)
		}
		f.Close()
		f = next
		if _, err := io.Copy(w, f); err != nil {
			return wrap(err)
		}
	}
}

// newInstanceLog opens the log at path when it is no longer the file f (a
// restart kept f as the previous log and the new instance writes at path);
// nil while f is still current, or while the new log is not made yet.
// fs.ErrNotExist means the pod's log directory is gone.
func newInstanceLog(f *os.File, dir, path string) (*os.File, error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		if _, derr := os.Stat(dir); derr != nil {
			return nil, derr
		}
		return nil, nil // between keeping the old log and starting the new instance
	}
	if err != nil {
		return nil, err
	}
	held, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if os.SameFile(st, held) {
		return nil, nil
	}
	next, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // kept again meanwhile: the next poll sees the newest
	}
	return next, err
}

// findLogDir is the log directory, among those of the pod's uids, holding
// the most recently written log (current or previous) of the container.
func (r *Runtime) findLogDir(namespace, name, container string) (string, error) {
	pattern := filepath.Join(r.cfg.StateDir, "logs", globEscape(pathComponent(namespace)+"_"+pathComponent(name)+"_")+"*")
	dirs, err := filepath.Glob(pattern)
	if err != nil {
		return "", err
	}
	var (
		best    string
		bestMod time.Time
	)
	for _, d := range dirs {
		cur := filepath.Join(d, logFile(container))
		for _, p := range []string{cur, cur + previousSuffix} {
			st, err := os.Stat(p)
			if err != nil {
				continue
			}
			if best == "" || st.ModTime().After(bestMod) {
				best, bestMod = d, st.ModTime()
			}
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
