package containerd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"

	"github.com/gantry-sh/gantry/node/network"
)

// Kubernetes' limits on a pod's search path (kubelet's MaxDNSSearchPaths and
// MaxDNSSearchListChars): the domains past them are dropped.
const (
	maxSearchDomains   = 32
	maxSearchListChars = 2048
)

// resolvConf reads the host's resolv.conf and makes the pod's (podResolvConf).
func (r *Runtime) resolvConf(namespace string) ([]byte, error) {
	host, err := os.ReadFile(r.cfg.ResolvConf)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read host resolv.conf: %w", err)
	}
	return podResolvConf(r.cfg, namespace, host), nil
}

// podResolvConf is the resolv.conf of a pod in namespace, host being the
// host's resolv.conf (nil when it has none):
//
//   - with DNSServers and ClusterDomain (the node's cluster DNS), Kubernetes'
//     ClusterFirst: those servers; search <ns>.svc.<domain> svc.<domain>
//     <domain>, then DNSSearch or else the host's search domains; options
//     ndots:5 (so "hello" and "hello.default" try the cluster first), with
//     DNSOptions added or overriding by name;
//   - with DNSServers only: those servers, DNSSearch and DNSOptions;
//   - otherwise the host's, without its loopback name servers (unreachable
//     from a pod's network namespace).
func podResolvConf(cfg Config, namespace string, host []byte) []byte {
	var b bytes.Buffer
	b.WriteString("# managed by gantry\n")
	if len(cfg.DNSServers) == 0 {
		s := bufio.NewScanner(bytes.NewReader(host))
		for s.Scan() {
			line := strings.TrimSpace(s.Text())
			f := strings.Fields(line)
			if len(f) >= 2 && f[0] == "nameserver" {
				if ip := net.ParseIP(f[1]); ip != nil && ip.IsLoopback() {
					continue
				}
			}
			if line != "" && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, ";") {
				b.WriteString(line + "\n")
			}
		}
		return b.Bytes()
	}
	for _, s := range cfg.DNSServers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	search, options := cfg.DNSSearch, cfg.DNSOptions
	if d := strings.Trim(cfg.ClusterDomain, "."); d != "" {
		extra := search
		if len(extra) == 0 {
			_, extra = network.ParseResolvConf(host)
		}
		search = append([]string{namespace + ".svc." + d, "svc." + d, d}, extra...)
		options = mergeOptions([]string{"ndots:5"}, options)
	}
	if search = trimSearch(search); len(search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	}
	if len(options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(options, " "))
	}
	return b.Bytes()
}

// trimSearch drops repeated domains and those past Kubernetes' limits.
func trimSearch(search []string) []string {
	var out []string
	seen, chars := map[string]bool{}, 0
	for _, d := range search {
		d = strings.TrimSuffix(d, ".")
		if d == "" || seen[d] {
			continue
		}
		if len(out) == maxSearchDomains || chars+len(d)+len(out) > maxSearchListChars {
			break
		}
		seen[d] = true
		chars += len(d)
		out = append(out, d)
	}
	return out
}

// mergeOptions is base with extra added; an extra option of the same name
// (ndots in ndots:2) replaces the base's, as Kubernetes merges a pod's
// dnsConfig options.
func mergeOptions(base, extra []string) []string {
	name := func(o string) string { n, _, _ := strings.Cut(o, ":"); return n }
	out := append([]string(nil), base...)
	for _, e := range extra {
		replaced := false
		for i, o := range out {
			if name(o) == name(e) {
				out[i], replaced = e, true
			}
		}
		if !replaced {
			out = append(out, e)
		}
	}
	return out
}
