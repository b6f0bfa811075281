package bus

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Read-model buckets written by the projector.
const (
	BucketPods      = "gantry_pods"
	BucketNodes     = "gantry_nodes"
	BucketWorkloads = "gantry_workloads"
	BucketProjector = "gantry_projector" // key "progress": the sequence of each stream applied
	KeyProgress     = "progress"
)

// ProvisionKV creates the read-model buckets if they are missing.
func ProvisionKV(ctx context.Context, js jetstream.JetStream, replicas int) error {
	for _, b := range []string{BucketPods, BucketNodes, BucketWorkloads, BucketProjector} {
		if _, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: b, History: 1, Storage: jetstream.FileStorage, Replicas: replicas,
		}); err != nil {
			return fmt.Errorf("provision bucket %s: %w", b, err)
		}
	}
	return nil
}
