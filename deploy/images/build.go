// Package images builds Gantry's demo container images without a container
// engine: it cross-compiles a Go program and wraps the binary in a one-layer
// OCI image, written as a tarred OCI image layout that `ctr images import`
// (and the containerd client's Import) accepts under its full reference.
package images

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// RefNameAnnotation is the OCI index annotation containerd reads as the
// image's name on import.
const RefNameAnnotation = "org.opencontainers.image.ref.name"

// Port is the port the demo images expose.
const Port = "8080/tcp"

// DefaultPath is the PATH set in the image config.
const DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// epoch is the fixed timestamp given to every file in the layer and archive.
var epoch = time.Unix(0, 0).UTC()

// BuildOptions describes one image build.
type BuildOptions struct {
	Dir   string // Go main package directory, e.g. "./deploy/images/hello"
	Ref   string // full image reference, e.g. "gantry.local/hello:v1"
	Out   string // path of the OCI layout tarball to write
	GoBin string // go command; "go" when empty
}

// Build compiles the program in opts.Dir for linux/amd64 and writes a
// one-layer image holding it at /app/<name> to opts.Out. The result is
// deterministic: building the same source twice gives the same digest.
func Build(ctx context.Context, opts BuildOptions) error {
	_, err := BuildDigest(ctx, opts)
	return err
}

// BuildDigest is Build, and also returns the manifest digest of the image.
func BuildDigest(ctx context.Context, opts BuildOptions) (v1.Hash, error) {
	if err := opts.Validate(); err != nil {
		return v1.Hash{}, err
	}
	if opts.GoBin == "" {
		opts.GoBin = "go"
	}
	prog, err := programName(opts.Dir)
	if err != nil {
		return v1.Hash{}, err
	}

	tmp, err := os.MkdirTemp("", "gantry-image-")
	if err != nil {
		return v1.Hash{}, fmt.Errorf("create temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)

	bin := filepath.Join(tmp, "bin", prog)
	if err := compile(ctx, opts.GoBin, opts.Dir, bin); err != nil {
		return v1.Hash{}, err
	}
	img, err := imageFor(bin, prog)
	if err != nil {
		return v1.Hash{}, err
	}
	digest, err := img.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("image digest: %w", err)
	}

	layoutDir := filepath.Join(tmp, "layout")
	if err := writeLayout(layoutDir, img, opts.Ref); err != nil {
		return v1.Hash{}, err
	}
	if err := tarDir(layoutDir, opts.Out); err != nil {
		return v1.Hash{}, err
	}
	return digest, nil
}

// Validate reports a missing field or a ref that is not a full reference.
func (o BuildOptions) Validate() error {
	switch {
	case o.Dir == "":
		return errors.New("build image: dir is required")
	case o.Ref == "":
		return errors.New("build image: ref is required")
	case o.Out == "":
		return errors.New("build image: out is required")
	}
	// containerd keeps the name only for a full reference: registry, repository
	// and tag or digest, nothing defaulted.
	if _, err := name.ParseReference(o.Ref, name.StrictValidation); err != nil {
		return fmt.Errorf("build image: ref %q must be a full reference like gantry.local/hello:v1: %w", o.Ref, err)
	}
	return nil
}

// programName is the base name of the package directory: the binary's name.
func programName(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", dir, err)
	}
	info, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("package dir: %w", err)
	}
	if !info.IsDir() {
		return "", fmt.Errorf("package dir %s is not a directory", dir)
	}
	name := filepath.Base(abs)
	if name == "" || name == "." || name == string(filepath.Separator) {
		return "", fmt.Errorf("no program name in %s", dir)
	}
	return name, nil
}

// compile builds a static linux/amd64 binary. It runs in the package
// directory so the enclosing module is found whatever the caller's working
// directory. -buildvcs=false keeps version control state (a dirty tree, commit
// times) out of the binary so the digest depends on the source alone.
func compile(ctx context.Context, goBin, dir, out string) error {
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-buildvcs=false",
		"-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	var output bytes.Buffer
	cmd.Stdout = &output
	cmd.Stderr = &output
	if err := cmd.Run(); err != nil {
		if msg := bytes.TrimSpace(output.Bytes()); len(msg) > 0 {
			return fmt.Errorf("go build %s: %w: %s", dir, err, msg)
		}
		return fmt.Errorf("go build %s: %w", dir, err)
	}
	return nil
}

// imageFor wraps the binary in a one-layer OCI image as /app/<prog>.
func imageFor(bin, prog string) (v1.Image, error) {
	layerTar, err := binaryLayer(bin, prog)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("make layer: %w", err)
	}

	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:   layer,
		History: v1.History{CreatedBy: "gantry images build", Created: v1.Time{}},
	})
	if err != nil {
		return nil, fmt.Errorf("append layer: %w", err)
	}

	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = "amd64"
	cf.Created = v1.Time{}
	entry := "/app/" + prog
	cf.Config.Entrypoint = []string{entry}
	cf.Config.Cmd = nil
	cf.Config.Env = []string{DefaultPath}
	cf.Config.WorkingDir = "/app"
	cf.Config.ExposedPorts = map[string]struct{}{Port: {}}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("set config: %w", err)
	}
	return img, nil
}

// binaryLayer is an uncompressed tar holding app/ and app/<prog>.
func binaryLayer(bin, prog string) ([]byte, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("read binary: %w", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	headers := []*tar.Header{
		{Typeflag: tar.TypeDir, Name: "app/", Mode: 0o755, ModTime: epoch},
		{Typeflag: tar.TypeReg, Name: "app/" + prog, Mode: 0o755, Size: int64(len(data)), ModTime: epoch},
	}
	for _, h := range headers {
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("write layer header %s: %w", h.Name, err)
		}
	}
	if _, err := tw.Write(data); err != nil {
		return nil, fmt.Errorf("write layer binary: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("close layer: %w", err)
	}
	return buf.Bytes(), nil
}

// writeLayout writes img as an OCI image layout in dir, naming it ref.
func writeLayout(dir string, img v1.Image, ref string) error {
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("write oci layout: %w", err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{RefNameAnnotation: ref})); err != nil {
		return fmt.Errorf("write image to oci layout: %w", err)
	}
	return nil
}

// tarDir archives the files under dir into out, in a fixed order with fixed
// timestamps and owners. It writes to a temporary file first so a failed
// build never leaves half an archive at out.
func tarDir(dir, out string) (err error) {
	var paths []string
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != dir {
			paths = append(paths, path)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("walk %s: %w", dir, err)
	}
	sort.Strings(paths)

	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("create output dir: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(out), filepath.Base(out)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create %s: %w", out, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()

	tw := tar.NewWriter(f)
	for _, path := range paths {
		if err := addFile(tw, dir, path); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("finish %s: %w", out, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", out, err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("chmod %s: %w", out, err)
	}
	if err := os.Rename(f.Name(), out); err != nil {
		return fmt.Errorf("rename to %s: %w", out, err)
	}
	return nil
}

func addFile(tw *tar.Writer, root, path string) error {
	rel, err := filepath.Rel(root, path)
	if err != nil {
		return fmt.Errorf("relative path of %s: %w", path, err)
	}
	info, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	h := &tar.Header{Name: filepath.ToSlash(rel), ModTime: epoch}
	switch {
	case info.IsDir():
		h.Typeflag, h.Name, h.Mode = tar.TypeDir, h.Name+"/", 0o755
	case info.Mode().IsRegular():
		h.Typeflag, h.Mode, h.Size = tar.TypeReg, 0o644, info.Size()
	default:
		return fmt.Errorf("unexpected file type in layout: %s", rel)
	}
	if err := tw.WriteHeader(h); err != nil {
		return fmt.Errorf("write header %s: %w", rel, err)
	}
	if h.Typeflag != tar.TypeReg {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	if _, err := io.Copy(tw, f); err != nil {
		return fmt.Errorf("archive %s: %w", rel, err)
	}
	return nil
}
