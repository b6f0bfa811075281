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

// masqueradeRule is the node's one NAT rule: traffic from the pod CIDR to
// anywhere outside the cluster's pods (cluster, which holds every node's
// pod CIDR) leaves with the node's address; pod to pod across nodes keeps
// its source, as Kubernetes' network model asks.
func masqueradeRule(cidr, cluster, bridge string) []string {
	return []string{"POSTROUTING", "-s", cidr, "!", "-d", cluster,
		"-m", "comment", "--comment", masqComment(bridge), "-j", "MASQUERADE"}
}

func masqComment(bridge string) string { return "gantry pods on " + bridge }

// ensureMasquerade installs the masquerade rule unless it is there, and
// removes the pods' other ones (an older rule excluding only the node's own
// CIDR, or another cluster CIDR): the first to match would win.
func ensureMasquerade(ctx context.Context, cidr, cluster, bridge string) error {
	if _, err := exec.LookPath("iptables"); err != nil {
		return nil // no iptables: pods reach only the node and each other
	}
	rule := masqueradeRule(cidr, cluster, bridge)
	if exec.CommandContext(ctx, "iptables", append([]string{"-w", "-t", "nat", "-C"}, rule...)...).Run() != nil {
		if out, err := exec.CommandContext(ctx, "iptables", append([]string{"-w", "-t", "nat", "-A"}, rule...)...).CombinedOutput(); err != nil {
			return fmt.Errorf("masquerade %s: %w: %s", cidr, err, strings.TrimSpace(string(out)))
		}
	}
	return removeMasquerade(ctx, cidr, bridge, cluster)
}

// RemoveMasquerade deletes the node's masquerade rule; for tests and for
// taking a node out of service. Missing is success.
func (n *Network) RemoveMasquerade(ctx context.Context) error {
	return RemoveMasqueradeRule(ctx, n.subnet, n.cfg.BridgeName)
}

// RemoveMasqueradeRule deletes the masquerade rules of the pods of cidr on
// bridge, however many times they were added, whatever CIDR they exclude.
func RemoveMasqueradeRule(ctx context.Context, cidr, bridge string) error {
	if _, err := exec.LookPath("iptables"); err != nil {
		return nil
	}
	return removeMasquerade(ctx, cidr, bridge, "")
}

// removeMasquerade deletes the masquerade rules of the pods of cidr on
// bridge but the one excluding keep ("": all of them).
func removeMasquerade(ctx context.Context, cidr, bridge, keep string) error {
	out, err := exec.CommandContext(ctx, "iptables", "-w", "-t", "nat", "-S", "POSTROUTING").Output()
	if err != nil {
		return fmt.Errorf("list masquerade rules: %w", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		dst := masqueradeDst(line, cidr, bridge)
		if dst == "" || dst == keep {
			continue
		}
		rule := masqueradeRule(cidr, dst, bridge)
		if out, err := exec.CommandContext(ctx, "iptables", append([]string{"-w", "-t", "nat", "-D"}, rule...)...).CombinedOutput(); err != nil {
			return fmt.Errorf("remove masquerade %s: %w: %s", cidr, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// masqueradeDst is the excluded destination of a line of `iptables -S`
// when it is a masquerade rule of the pods of cidr on bridge, else "".
func masqueradeDst(line, cidr, bridge string) string {
	if !strings.HasPrefix(line, "-A POSTROUTING -s "+cidr+" ! -d ") ||
		!strings.HasSuffix(line, ` -m comment --comment "`+masqComment(bridge)+`" -j MASQUERADE`) {
		return ""
	}
	f := strings.Fields(strings.TrimPrefix(line, "-A POSTROUTING -s "+cidr+" ! -d "))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
