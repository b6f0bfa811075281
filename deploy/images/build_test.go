package images

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

const helloRef = "gantry.local/hello:v1"

func TestBuildHello(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out", "hello.oci.tar")
	digest, err := BuildDigest(t.Context(), BuildOptions{Dir: "./hello", Ref: helloRef, Out: out})
	if err != nil {
		t.Fatalf("build: %v", err)
	}

	idx, err := layout.ImageIndexFromPath(extract(t, out))
	if err != nil {
		t.Fatalf("read layout: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatalf("read index manifest: %v", err)
	}
	if len(im.Manifests) != 1 {
		t.Fatalf("index has %d manifests, want 1", len(im.Manifests))
	}
	desc := im.Manifests[0]
	if got := desc.Annotations[RefNameAnnotation]; got != helloRef {
		t.Errorf("ref annotation = %q, want %q", got, helloRef)
	}
	if desc.Digest != digest {
		t.Errorf("index digest %s, build returned %s", desc.Digest, digest)
	}

	img, err := idx.Image(desc.Digest)
	if err != nil {
		t.Fatalf("open image: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatalf("read config: %v", err)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("platform = %s/%s, want linux/amd64", cf.OS, cf.Architecture)
	}
	if got := strings.Join(cf.Config.Entrypoint, " "); got != "/app/hello" {
		t.Errorf("entrypoint = %q, want /app/hello", got)
	}
	if _, ok := cf.Config.ExposedPorts[Port]; !ok {
		t.Errorf("exposed ports = %v, want %s", cf.Config.ExposedPorts, Port)
	}
	if !hasPrefix(cf.Config.Env, "PATH=") {
		t.Errorf("env = %v, want a PATH", cf.Config.Env)
	}
	if !cf.Created.IsZero() {
		t.Errorf("created = %v, want the zero time", cf.Created)
	}

	layers, err := img.Layers()
	if err != nil {
		t.Fatalf("read layers: %v", err)
	}
	if len(layers) != 1 {
		t.Fatalf("image has %d layers, want 1", len(layers))
	}
	checkBinaryLayer(t, layers[0], "app/hello")

	again := filepath.Join(dir, "again.oci.tar")
	digest2, err := BuildDigest(t.Context(), BuildOptions{Dir: "./hello", Ref: helloRef, Out: again, GoBin: "go"})
	if err != nil {
		t.Fatalf("second build: %v", err)
	}
	if digest2 != digest {
		t.Errorf("rebuild gave digest %s, first build %s", digest2, digest)
	}
	if !bytes.Equal(readFile(t, out), readFile(t, again)) {
		t.Errorf("two builds wrote different tarballs")
	}
}

func TestBuildValidatesOptions(t *testing.T) {
	tests := map[string]BuildOptions{
		"no dir":    {Ref: helloRef, Out: "x.tar"},
		"no ref":    {Dir: "./hello", Out: "x.tar"},
		"no out":    {Dir: "./hello", Ref: helloRef},
		"short ref": {Dir: "./hello", Ref: "hello:v1", Out: "x.tar"},
		"no tag":    {Dir: "./hello", Ref: "gantry.local/hello", Out: "x.tar"},
		"bad ref":   {Dir: "./hello", Ref: "gantry.local/Hello:v1", Out: "x.tar"},
	}
	for name, opts := range tests {
		t.Run(name, func(t *testing.T) {
			if err := Build(t.Context(), opts); err == nil {
				t.Fatal("build succeeded, want an error")
			}
		})
	}
}

func TestBuildReportsCompileErrors(t *testing.T) {
	out := filepath.Join(t.TempDir(), "x.tar")
	err := Build(t.Context(), BuildOptions{Dir: t.TempDir(), Ref: helloRef, Out: out})
	if err == nil || !strings.Contains(err.Error(), "go build") {
		t.Fatalf("err = %v, want a go build error", err)
	}
	if _, statErr := os.Stat(out); !errors.Is(statErr, os.ErrNotExist) {
		t.Errorf("failed build left %s behind (stat: %v)", out, statErr)
	}
}

// checkBinaryLayer expects the layer to hold an executable ELF file at path
// with the fixed timestamp.
func checkBinaryLayer(t *testing.T, layer v1.Layer, path string) {
	t.Helper()
	rc, err := layer.Uncompressed()
	if err != nil {
		t.Fatalf("open layer: %v", err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			t.Fatalf("layer has no %s", path)
		}
		if err != nil {
			t.Fatalf("read layer: %v", err)
		}
		if !h.ModTime.Equal(epoch) {
			t.Errorf("%s mtime = %v, want %v", h.Name, h.ModTime, epoch)
		}
		if h.Name != path {
			continue
		}
		if h.Mode&0o111 == 0 {
			t.Errorf("%s mode = %o, want executable", path, h.Mode)
		}
		magic := make([]byte, 4)
		if _, err := io.ReadFull(tr, magic); err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		if string(magic) != "\x7fELF" {
			t.Errorf("%s is not an ELF binary (magic %q)", path, magic)
		}
		return
	}
}

// extract unpacks the tarball into a temporary directory and returns it.
func extract(t *testing.T, tarball string) string {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Open(tarball)
	if err != nil {
		t.Fatalf("open tarball: %v", err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return dir
		}
		if err != nil {
			t.Fatalf("read tarball: %v", err)
		}
		if !filepath.IsLocal(h.Name) {
			t.Fatalf("tarball entry escapes its root: %q", h.Name)
		}
		target := filepath.Join(dir, h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatalf("read %s: %v", h.Name, err)
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(target, data, 0o644); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("unexpected entry %q of type %c", h.Name, h.Typeflag)
		}
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func hasPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}
