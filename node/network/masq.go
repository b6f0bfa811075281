package network

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha512"
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
)

// masqChain is the nat chain the bridge plugin makes for the masquerading of
// one sandbox: "CNI-" and 24 hex digits of sha512(network name + id).
func masqChain(network, id string) string {
	sum := sha512.Sum512([]byte(network + id))
	return fmt.Sprintf("CNI-%x", sum[:12])
}

// releaseMasquerade removes the sandbox's masquerade chain and the
// POSTROUTING rules that jump to it. The bridge plugin removes them itself
// only while the pod's interface still exists; when the namespace vanished
// first (deleted by hand, or a reboot with restored rules) they stay and
// would make every later CNI DEL of the id fail with "chain busy".
func releaseMasquerade(ctx context.Context, network, id string) error {
	chain := masqChain(network, id)
	ipt := func(args ...string) ([]byte, error) {
		var stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, "iptables", append([]string{"-w", "-t", "nat"}, args...)...)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return out, fmt.Errorf("iptables %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
		}
		return out, nil
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		return nil // no iptables, no masquerade rules
	}
	out, err := ipt("-L", "POSTROUTING", "-n", "--line-numbers")
	if err != nil {
		return err
	}
	var nums []int
	s := bufio.NewScanner(bytes.NewReader(out))
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) >= 2 && f[1] == chain {
			if n, err := strconv.Atoi(f[0]); err == nil {
				nums = append(nums, n)
			}
		}
	}
	// Highest first, so the numbers of the others do not move.
	sort.Sort(sort.Reverse(sort.IntSlice(nums)))
	for _, n := range nums {
		if _, err := ipt("-D", "POSTROUTING", strconv.Itoa(n)); err != nil {
			return err
		}
	}
	if _, err := ipt("-n", "-L", chain); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil // no such chain
		}
		return err
	}
	if _, err := ipt("-F", chain); err != nil {
		return err
	}
	if _, err := ipt("-X", chain); err != nil {
		return err
	}
	return nil
}
