package dns

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"

	"github.com/gantry-sh/gantry/node/network"
)

// HostResolvConf is the host's resolver configuration, and SystemdResolvConf
// the one systemd-resolved keeps with the real servers behind its loopback
// stub (127.0.0.53), which kubelet also reads for the same reason.
const (
	HostResolvConf    = "/etc/resolv.conf"
	SystemdResolvConf = "/run/systemd/resolve/resolv.conf"
)

// hostUpstreams is where names outside the cluster are forwarded: the
// host's non-loopback name servers (a loopback one is the host's own stub,
// unreachable from another network namespace and possibly this server);
// when the host has only loopback ones, systemd-resolved's real servers;
// failing that, the loopback ones other than listen. Each is host:53.
func hostUpstreams(hostConf, systemdConf, listen string) ([]string, error) {
	read := func(path string) ([]string, error) {
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		servers, _ := network.ParseResolvConf(b)
		return servers, nil
	}
	host, err := read(hostConf)
	if err != nil {
		return nil, err
	}
	remote, loop := splitLoopback(host)
	if len(remote) == 0 && len(loop) > 0 {
		sd, err := read(systemdConf)
		if err != nil {
			return nil, err
		}
		remote, _ = splitLoopback(sd)
	}
	if len(remote) > 0 {
		return withPort(remote), nil
	}
	var out []string
	for _, s := range withPort(loop) {
		if s != listen {
			out = append(out, s)
		}
	}
	return out, nil
}

func splitLoopback(servers []string) (remote, loop []string) {
	for _, s := range servers {
		if net.ParseIP(s).IsLoopback() {
			loop = append(loop, s)
		} else {
			remote = append(remote, s)
		}
	}
	return remote, loop
}

// withPort adds port 53 to addresses that have none.
func withPort(servers []string) []string {
	out := make([]string, 0, len(servers))
	for _, s := range servers {
		if _, _, err := net.SplitHostPort(s); err != nil {
			s = net.JoinHostPort(s, "53")
		}
		out = append(out, s)
	}
	return out
}
