package network

import (
	"bufio"
	"bytes"
	"net"
	"strings"
)

// ParseResolvConf lists the name servers and search domains of a
// resolv.conf, in order: what a pod's resolv.conf takes from the host's
// (node/containerd) and where the cluster DNS forwards (node/dns). The last
// search or domain line wins, as glibc reads it.
func ParseResolvConf(data []byte) (servers, search []string) {
	s := bufio.NewScanner(bytes.NewReader(data))
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			if net.ParseIP(f[1]) != nil {
				servers = append(servers, f[1])
			}
		case "search", "domain":
			search = append([]string(nil), f[1:]...)
		}
	}
	return servers, search
}
