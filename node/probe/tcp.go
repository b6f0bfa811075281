package probe

import (
	"context"
	"net"

	"github.com/gantry-sh/gantry/events/manifest"
)

// tcpCheck succeeds when a TCP connection to the handler's port opens; it
// is closed at once.
func tcpCheck(ctx context.Context, t Target, a manifest.TCPSocketAction) Result {
	addr, err := address(t, a.Host, a.Port)
	if err != nil {
		return Failure("tcpSocket: %v", err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return Failure("%v", err)
	}
	conn.Close()
	return Result{Success: true}
}
