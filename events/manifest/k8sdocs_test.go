package manifest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The Kubernetes documentation's own examples of what issue 17 covers
// (testdata/k8sdocs, each naming its page), as a user would apply them:
// every document decodes and validates, but for the fields named here,
// which Gantry refuses as not supported yet (out of this scope).
func TestKubernetesDocsExamples(t *testing.T) {
	refused := map[string][]string{
		"init-containers.yaml": {"spec.dnsPolicy: not supported yet"},
	}
	files, err := filepath.Glob("testdata/k8sdocs/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	accepted := 0
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		docs, err := SplitDocuments(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var problems []string
		for _, d := range docs {
			o, err := DecodeObject(d.JSON)
			if err != nil {
				problems = append(problems, strings.Split(err.Error(), "; ")...)
				continue
			}
			o.Defaults()
			for _, e := range Validate(o) {
				problems = append(problems, e.Error())
			}
		}
		name := filepath.Base(path)
		if want := refused[name]; !slices.Equal(problems, want) {
			t.Errorf("%s: problems\n  %q\nwant\n  %q", name, problems, want)
		}
		if len(problems) == 0 {
			accepted++
		}
	}
	t.Logf("%d of %d examples accepted as written", accepted, len(files))
}
