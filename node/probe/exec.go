package probe

import (
	"context"
	"errors"
	"strings"
	"time"
)

// execCheck runs cmd in the container: exit code 0 is success. A command
// still running at timeout (0: until ctx ends) is killed and fails.
func execCheck(ctx context.Context, ex Execer, t Target, cmd []string, timeout time.Duration) Result {
	if ex == nil {
		return Failure("exec: this runtime cannot run commands in containers")
	}
	if len(cmd) == 0 {
		return Failure("exec: no command")
	}
	code, out, err := ex.Exec(ctx, t.UID, t.Container, cmd, timeout)
	output := strings.TrimSpace(string(capBytes(out, MaxExecOutput)))
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		if timeout > 0 {
			return Failure("command %q timed out after %s", cmd, timeout)
		}
		return Failure("command %q timed out", cmd)
	case err != nil:
		return Failure("command %q: %v", cmd, err)
	case code != 0:
		if output == "" {
			return Failure("command %q exited with %d", cmd, code)
		}
		return Failure("command %q exited with %d: %s", cmd, code, output)
	}
	return Result{Success: true, Output: output}
}

func capBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// errSleepInterrupted is the failure of a sleep hook cut short.
var errSleepInterrupted = errors.New("sleep interrupted")

// sleep is the sleep hook: it waits seconds, or fails when ctx ends first.
func sleep(ctx context.Context, seconds int64) Result {
	if seconds <= 0 {
		return Result{Success: true}
	}
	t := time.NewTimer(time.Duration(seconds) * time.Second)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return Failure("%v after less than %ds: %v", errSleepInterrupted, seconds, context.Cause(ctx))
	case <-t.C:
		return Result{Success: true}
	}
}
