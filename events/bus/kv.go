package bus

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Read-model buckets written by the projector.
const (
	BucketPods      = "gantry_pods"
	BucketNodes     = "gantry_nodes"
	BucketWorkloads = "gantry_workloads"
	BucketProjector = "gantry_projector" // key "progress": the sequence of each stream applied
	KeyProgress     = "progress"
	// BucketLeases holds one key per service: the instance that may act.
	BucketLeases = "gantry_leases"
)

// LeaseTTL is how long a lease lives without renewal; holders renew every
// third of it.
const LeaseTTL = 6 * time.Second

// ProvisionKV creates the read-model buckets if they are missing.
func ProvisionKV(ctx context.Context, js jetstream.JetStream, replicas int) error {
	for _, b := range []string{BucketPods, BucketNodes, BucketWorkloads, BucketProjector} {
		if _, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: b, History: 1, Storage: jetstream.FileStorage, Replicas: replicas,
		}); err != nil {
			return fmt.Errorf("provision bucket %s: %w", b, err)
		}
		// The projector writes read models in atomic batches (one fsync per
		// batch); the KV API does not expose the flag, its stream does.
		st, err := js.Stream(ctx, "KV_"+b)
		if err != nil {
			return fmt.Errorf("provision bucket %s: %w", b, err)
		}
		if cfg := st.CachedInfo().Config; !cfg.AllowAtomicPublish {
			cfg.AllowAtomicPublish = true
			if _, err := js.UpdateStream(ctx, cfg); err != nil {
				return fmt.Errorf("provision bucket %s: atomic publish: %w", b, err)
			}
		}
	}
	if _, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: BucketLeases, History: 1, Storage: jetstream.FileStorage, Replicas: replicas, TTL: LeaseTTL,
	}); err != nil {
		return fmt.Errorf("provision bucket %s: %w", BucketLeases, err)
	}
	return nil
}
