package probe

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/gantry-sh/gantry/events/manifest"
)

// grpcCheck calls Check of the gRPC health checking protocol
// (grpc.health.v1.Health) on the handler's port, in plaintext as the
// kubelet does: SERVING is success.
func grpcCheck(ctx context.Context, t Target, a manifest.GRPCAction, d time.Duration) Result {
	addr, err := address(t, "", manifest.FromInt(a.Port))
	if err != nil {
		return Failure("grpc: %v", err)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithUserAgent(UserAgent))
	if err != nil {
		return Failure("grpc: connect to %s: %v", addr, err)
	}
	defer conn.Close()
	req := &healthpb.HealthCheckRequest{}
	if a.Service != nil {
		req.Service = *a.Service
	}
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, req)
	if err != nil {
		switch status.Code(err) {
		case codes.Unimplemented:
			return Failure("the server at %s does not implement the gRPC health protocol (grpc.health.v1.Health)", addr)
		case codes.DeadlineExceeded:
			return Failure("timeout: the health rpc to %s did not complete within %s", addr, d)
		}
		return Failure("the health rpc to %s failed: %v", addr, err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return Failure("service unhealthy (responded with %q)", resp.GetStatus())
	}
	return Result{Success: true}
}
