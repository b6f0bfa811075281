package containerd

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/client"

	"github.com/gantry-sh/gantry/node"
)

// memoryCgroupRoot is where cgroup v1's memory controller is mounted.
const memoryCgroupRoot = "/sys/fs/cgroup/memory"

// exitOOMKilled is the exit status of a task the kernel killed (SIGKILL).
const exitOOMKilled = 137

// oomKilled reports whether the exited task of container c was ended by the
// kernel's OOM killer: it died of SIGKILL and its memory cgroup counted an
// OOM kill. Each task gets a cgroup of its own, made with it and removed
// with it, so the count is this task's; read it before the task is deleted.
func (r *Runtime) oomKilled(ctx context.Context, c client.Container, exitStatus uint32) bool {
	if exitStatus != exitOOMKilled {
		return false
	}
	spec, err := c.Spec(ctx)
	if err != nil || spec.Linux == nil || spec.Linux.CgroupsPath == "" {
		r.log.Warn().Err(err).Str("container", c.ID()).Msg("no cgroup to read an OOM kill from")
		return false
	}
	n, err := oomKills(filepath.Join(memoryCgroupRoot, spec.Linux.CgroupsPath))
	if err != nil {
		r.log.Warn().Err(err).Str("container", c.ID()).Msg("read OOM kills")
		return false
	}
	return n > 0
}

// oomKills is how many processes of the memory cgroup dir the OOM killer
// ended: memory.oom_control's oom_kill counter, or, on a kernel without it
// (before 4.13), memory.failcnt's count of times the limit was hit.
func oomKills(dir string) (int64, error) {
	f, err := os.Open(filepath.Join(dir, "memory.oom_control"))
	if err != nil {
		return 0, fmt.Errorf("memory cgroup %s: %w", dir, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "oom_kill "); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("memory cgroup %s: %w", dir, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "memory.failcnt"))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("memory cgroup %s: %w", dir, err)
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// lastState is how a container's instance ended, as its label keeps it
// across restarts of the agent.
type lastState struct {
	ExitCode   int32     `json:"exitCode"`
	OOMKilled  bool      `json:"oomKilled,omitempty"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
}

func encodeLastState(t node.Termination) string {
	b, _ := json.Marshal(lastState(t))
	return string(b)
}

// decodeLastState reads the label; nil when there is none (or it is not
// one we wrote).
func decodeLastState(v string) *node.Termination {
	if v == "" {
		return nil
	}
	var l lastState
	if err := json.Unmarshal([]byte(v), &l); err != nil {
		return nil
	}
	t := node.Termination(l)
	return &t
}
