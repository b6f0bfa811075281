package manifest_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/gantry-sh/gantry/events/manifest"
)

// The README's table of supported and refused fields is what the decoder
// does: regenerate it when a field is added or refused.
func TestREADMESupportTableMatchesTheCode(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	want, err := manifest.WithSupportTable(readme)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != string(readme) {
		t.Errorf("README.md's supported-fields table differs from the code; run `go run ./events/manifest/supportgen` (from the module root) and commit README.md")
	}
}

// Every field the decoder refuses as not supported yet is in the table, and
// every field the table calls supported decodes.
func TestSupportRowsAreTheDecoders(t *testing.T) {
	rows := manifest.Support()
	byPath := map[string]manifest.SupportRow{}
	for _, r := range rows {
		byPath[r.Path] = r
	}
	containers := byPath["Deployment.spec.template.spec.containers[]"]
	if containers.SameAs != "" {
		containers = byPath[containers.SameAs] // initContainers[] comes first
	}
	if !slices.Contains(containers.Supported, "image") || !slices.Contains(containers.Refused, "workingDir") {
		t.Errorf("containers row = %+v", containers)
	}
	if r := byPath["Pod.spec"]; r.SameAs != "Deployment.spec.template.spec" {
		t.Errorf("Pod.spec row = %+v, want the same as the template's spec", r)
	}
	// A refused field of a row is refused by the decoder at that path.
	doc := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},"spec":{"selector":{"matchLabels":{"a":"b"}},
		"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"i","workingDir":"/srv"}]}}}}`
	_, err := manifest.DecodeObject([]byte(doc))
	if err == nil || !strings.Contains(err.Error(), "spec.template.spec.containers[0].workingDir: not supported yet") {
		t.Errorf("decode: %v", err)
	}
}

// The generator replaces what is between the markers and nothing else.
func TestWithSupportTable(t *testing.T) {
	stale := "intro\n" + manifest.SupportBegin + "\n| stale |\n" + manifest.SupportEnd + "\noutro\n"
	got, err := manifest.WithSupportTable([]byte(stale))
	want := "intro\n" + manifest.SupportBegin + "\n" + manifest.SupportTable() + manifest.SupportEnd + "\noutro\n"
	if err != nil || string(got) != want {
		t.Errorf("WithSupportTable = %q, %v; want %q", got, err, want)
	}
	if _, err := manifest.WithSupportTable([]byte("no markers\n")); err == nil {
		t.Error("a README without the markers is not an error")
	}
}
