package main

import (
	"context"

	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/node"
	"github.com/gantry-sh/gantry/node/volumes"
)

// nodeVolumes is the volume manager of a containerd node: a directory per
// pod under dir, the downward API's node fields, and what a container
// without limits may use (the runtime's capacity).
func nodeVolumes(ctx context.Context, rt node.Runtime, dir, name, address string, log zerolog.Logger) (node.Volumes, error) {
	capacity, err := rt.Capacity(ctx)
	if err != nil {
		return nil, err
	}
	// Configs and Claims come from the node's deliveries (ConfigMaps and
	// Secrets, bound claims): the agent hands them to Prepare and Sync.
	return volumes.New(volumes.Config{Dir: dir, NodeName: name, HostIP: address, Allocatable: capacity}, log), nil
}
