package containerd

import (
	"context"
	"fmt"
	"io"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/defaults"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"

	"github.com/gantry-sh/gantry/node"
)

// ImportImage imports an image archive (a docker save tarball, or a tarred
// OCI layout whose manifests carry org.opencontainers.image.ref.name) into
// the runtime's namespace and unpacks it for the snapshotter. It returns the
// names of the imported images.
func (r *Runtime) ImportImage(ctx context.Context, rd io.Reader) ([]string, error) {
	return ImportImage(r.nsCtx(ctx), r.client, r.cfg.Snapshotter, rd)
}

// ImportImage is Runtime.ImportImage for a client of one's own; ctx carries
// the containerd namespace.
func ImportImage(ctx context.Context, c *client.Client, snapshotter string, rd io.Reader) ([]string, error) {
	imgs, err := c.Import(ctx, rd)
	if err != nil {
		return nil, fmt.Errorf("import image: %w", err)
	}
	if len(imgs) == 0 {
		return nil, fmt.Errorf("import image: the archive names no image (an OCI layout needs the org.opencontainers.image.ref.name annotation)")
	}
	var names []string
	for _, im := range imgs {
		img := client.NewImage(c, im)
		if err := img.Unpack(ctx, snapshotter); err != nil {
			return names, fmt.Errorf("import image: unpack %s: %w", im.Name, err)
		}
		names = append(names, im.Name)
	}
	return names, nil
}

// ImportImageTo connects to containerd at address and imports an image
// archive into namespace, unpacked for the default snapshotter; empty
// address and namespace mean the defaults. For `gantry image import`,
// which needs no pod network.
func ImportImageTo(ctx context.Context, address, namespace string, rd io.Reader) ([]string, error) {
	if address == "" {
		address = DefaultAddress
	}
	if namespace == "" {
		namespace = DefaultNamespace
	}
	c, err := client.New(address, client.WithDefaultNamespace(namespace))
	if err != nil {
		return nil, fmt.Errorf("import image: connect to %s: %w", address, err)
	}
	defer c.Close()
	return ImportImage(namespaces.WithNamespace(ctx, namespace), c, defaults.DefaultSnapshotter, rd)
}

// imageCandidates are the names an image reference may be stored under: as
// written, and normalized as docker does (nginx → docker.io/library/nginx:latest).
func imageCandidates(ref string) []string {
	out := []string{ref}
	if named, err := reference.ParseDockerRef(ref); err == nil && named.String() != ref {
		out = append(out, named.String())
	}
	return out
}

// ensureImage finds ref in the store, or pulls it within PullTimeout, and
// makes sure it is unpacked for the snapshotter. An image that is neither
// stored nor pullable is node.ErrImageNotFound.
func (r *Runtime) ensureImage(ctx context.Context, ref string) (client.Image, error) {
	var img client.Image
	for _, name := range imageCandidates(ref) {
		i, err := r.client.GetImage(ctx, name)
		if err == nil {
			img = i
			break
		}
		if !errdefs.IsNotFound(err) {
			return nil, fmt.Errorf("image %s: %w", ref, err)
		}
	}
	if img == nil {
		cands := imageCandidates(ref)
		pullRef := cands[len(cands)-1]
		pctx, cancel := context.WithTimeout(ctx, r.cfg.PullTimeout)
		i, err := r.client.Pull(pctx, pullRef)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("image %s: %w: not in the store and pull failed: %v", ref, node.ErrImageNotFound, err)
		}
		r.log.Info().Str("image", pullRef).Msg("image pulled")
		img = i
	}
	ok, err := img.IsUnpacked(ctx, r.cfg.Snapshotter)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	if !ok {
		if err := img.Unpack(ctx, r.cfg.Snapshotter); err != nil {
			return nil, fmt.Errorf("image %s: unpack: %w", ref, err)
		}
	}
	return img, nil
}
