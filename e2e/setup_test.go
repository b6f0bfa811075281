package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSetupContainerdOutlivesItsProcessGroup runs deploy/setup/install.sh
// as `go tool task up` does, in a process group that stays alive after it
// (the task runner's), against a private containerd (its own socket, root
// and state directories), then signals that group as Ctrl-C and a closing
// terminal would. containerd must still answer: it runs in a session of its
// own. The machine's containerd is never touched.
func TestSetupContainerdOutlivesItsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "containerd.sock")
	state := filepath.Join(dir, "state")
	args := []string{filepath.Join(repoRoot, "deploy/setup/install.sh"),
		"--containerd-address", sock, "--containerd-root", filepath.Join(dir, "root"),
		"--containerd-state", state, "--containerd-log", filepath.Join(dir, "containerd.log")}

	// The group's leader runs the script, then waits as the task runner
	// does while `gantry up` runs; it reports the script's outcome on stdout.
	out := &syncBuffer{}
	group := exec.Command("bash", "-c", `bash "$@"; echo "setup-exit=$?"; exec sleep 600`, "bash")
	group.Args = append(group.Args, args...)
	group.Stdout, group.Stderr = out, out
	group.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := group.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := group.Process.Pid
	t.Cleanup(func() { _ = syscall.Kill(-pgid, syscall.SIGKILL); _ = group.Wait() })

	pidFile := filepath.Join(state, "gantry-containerd.pid")
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out.String(), "setup-exit=") {
		if time.Now().After(deadline) {
			t.Fatalf("install.sh did not finish within 60 s:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "setup-exit=0") {
		t.Fatalf("install.sh failed:\n%s", out.String())
	}
	pid := readPid(t, pidFile)
	t.Cleanup(func() { stopProcess(t, pid) })
	if sid, err := unix.Getsid(pid); err != nil || sid == pgid {
		t.Errorf("containerd (pid %d) is in session %d, err %v: want a session of its own, not the group's %d", pid, sid, err, pgid)
	}
	if err := ctrVersion(sock); err != nil {
		t.Fatalf("private containerd does not answer after setup: %v\n%s", err, out.String())
	}

	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		if err := syscall.Kill(-pgid, sig); err != nil && err != syscall.ESRCH {
			t.Fatalf("signal the group: %v", err)
		}
	}
	_ = group.Wait() // the group's leader is gone once the signals have landed
	// Had containerd been in the group it would be shutting down now: give a
	// dying one 3 s to go before judging.
	deadline = time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && processAlive(pid) && ctrVersion(sock) == nil {
		time.Sleep(200 * time.Millisecond)
	}
	if !processAlive(pid) {
		t.Fatalf("containerd (pid %d) died with the process group that started it", pid)
	}
	if err := ctrVersion(sock); err != nil {
		t.Fatalf("containerd does not answer after its starter's group was signalled: %v", err)
	}

	// Run again: the script finds it running and changes nothing.
	again, err := exec.Command("bash", args...).CombinedOutput()
	if err != nil || !strings.Contains(string(again), "containerd: already running") {
		t.Errorf("second run: %v\n%s", err, again)
	}
	if got := readPid(t, pidFile); got != pid {
		t.Errorf("second run started another containerd (pid %d, was %d)", got, pid)
	}
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("containerd's pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("containerd's pid file %s: %v", path, err)
	}
	return pid
}

func ctrVersion(sock string) error {
	out, err := exec.Command("ctr", "--address", sock, "--timeout", "5s", "version").CombinedOutput()
	if err != nil {
		return fmt.Errorf("ctr version: %v: %s", err, out)
	}
	return nil
}

func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	// A zombie is gone for our purpose.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

// stopProcess ends the private containerd and waits until it has gone, so
// the test's directories can be removed.
func stopProcess(t *testing.T, pid int) {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(20 * time.Second)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("containerd (pid %d) did not stop within 20 s of SIGTERM", pid)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
