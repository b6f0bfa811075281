package probe

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"

	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/events/probecheck"
)

// UserAgent is the User-Agent of httpGet and grpc checks unless a probe's
// headers set one, as the kubelet sends kube-probe/<version>.
const UserAgent = "gantry-probe/1"

// Host makes checks from the node itself, as the kubelet does: httpGet,
// tcpSocket and grpc connect from the host to the pod's IP (reachable
// through the pods' bridge), exec runs the command in the container
// through the runtime.
type Host struct {
	exec Execer
	http *http.Client
	cel  *probecheck.Cache
}

var _ Checker = (*Host)(nil)

// NewHost is a Checker that runs exec handlers with exec (the runtime).
func NewHost(exec Execer) *Host {
	return &Host{exec: exec, http: newHTTPClient(), cel: probecheck.NewCache(0)}
}

// Check runs probe p once, within its timeoutSeconds.
func (h *Host) Check(ctx context.Context, t Target, kind Kind, p manifest.Probe) Result {
	d := timeout(p)
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	switch {
	case p.Exec != nil:
		return execCheck(ctx, h.exec, t, p.Exec.Command, d)
	case p.HTTPGet != nil:
		res, resp := h.HTTPGet(ctx, t, *p.HTTPGet)
		if res.Success && p.HTTPGet.CEL != "" {
			return CELCheck(h.cel, p.HTTPGet.CEL, resp)
		}
		return res
	case p.TCPSocket != nil:
		return tcpCheck(ctx, t, *p.TCPSocket)
	case p.GRPC != nil:
		return grpcCheck(ctx, t, *p.GRPC, d)
	}
	return Failure("the %s probe has no handler (exec, httpGet, tcpSocket or grpc)", kind)
}

// Hook runs a lifecycle hook's handler until it ends or ctx does (the
// caller bounds a preStop hook by the grace period).
func (h *Host) Hook(ctx context.Context, t Target, hook Hook, hd manifest.LifecycleHandler) Result {
	switch {
	case hd.Exec != nil:
		return execCheck(ctx, h.exec, t, hd.Exec.Command, 0)
	case hd.HTTPGet != nil:
		res, _ := h.HTTPGet(ctx, t, *hd.HTTPGet)
		return res
	case hd.Sleep != nil:
		return sleep(ctx, hd.Sleep.Seconds)
	}
	return Failure("the %s hook has no handler (exec, httpGet or sleep)", hook)
}

// address is host:port of a network check: the handler's host, else the
// pod's IP, and its port by number or by the name of a declared port.
func address(t Target, host string, port manifest.IntOrString) (string, error) {
	n, err := ResolvePort(port, t.Ports)
	if err != nil {
		return "", err
	}
	if host == "" {
		host = t.IP
	}
	if host == "" {
		return "", fmt.Errorf("the pod has no IP yet")
	}
	return net.JoinHostPort(host, strconv.Itoa(n)), nil
}

// ResolvePort is a handler's port as a number: a number as it is, a name
// as the containerPort of the container's port of that name.
func ResolvePort(port manifest.IntOrString, ports []manifest.ContainerPort) (int, error) {
	if port.IsString {
		for _, p := range ports {
			if p.Name == port.Str {
				return int(p.ContainerPort), nil
			}
		}
		return 0, fmt.Errorf("port %q names none of the container's ports", port.Str)
	}
	if port.Int < 1 || port.Int > 65535 {
		return 0, fmt.Errorf("port %d is not between 1 and 65535", port.Int)
	}
	return int(port.Int), nil
}
