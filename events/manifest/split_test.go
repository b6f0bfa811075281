package manifest

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestSplitDocuments(t *testing.T) {
	stream := "# leading comment only\n---\n" + goodDeploymentYAML + "---\n# nothing here\n---\n---\n" + goodPodYAML +
		"---\napiVersion: v1\nkind: Service\nmetadata: {name: svc, namespace: 7}\nspec: [whatever]\n"
	docs, err := SplitDocuments(strings.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	want := []Document{
		{Index: 0, Line: 3, APIVersion: "apps/v1", Kind: "Deployment", Name: "web", Namespace: "shop"},
		{Index: 1, Line: 53, APIVersion: "v1", Kind: "Pod", Name: "job-1"},
		{Index: 2, Line: 68, APIVersion: "v1", Kind: "Service", Name: "svc", Namespace: "7"},
	}
	if len(docs) != len(want) {
		t.Fatalf("got %d documents, want %d", len(docs), len(want))
	}
	for i, w := range want {
		d := docs[i]
		d.JSON = nil
		if !reflect.DeepEqual(d, w) {
			t.Errorf("document %d: got %+v, want %+v", i, d, w)
		}
	}
	if !strings.Contains(string(docs[0].JSON), `"replicas":3,`) {
		t.Errorf("integers must stay integers: %s", docs[0].JSON)
	}
	if !strings.Contains(string(docs[0].JSON), `"cpu":0.5,`) || !strings.Contains(string(docs[0].JSON), `"memory":1e6}`) {
		t.Errorf("numbers must keep their digits: %s", docs[0].JSON)
	}
	if !strings.HasPrefix(string(docs[0].JSON), `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"`) {
		t.Errorf("keys must keep their order: %s", docs[0].JSON)
	}
	if got := string(docs[2].JSON); got != `{"apiVersion":"v1","kind":"Service","metadata":{"name":"svc","namespace":7},"spec":["whatever"]}` {
		t.Errorf("service JSON: %s", got)
	}
}

func TestSplitDocumentsConversion(t *testing.T) {
	tests := []struct {
		name, yaml, json string
	}{
		{"scalars", "a: 1\nb: -2.50\nc: true\nd: ~\ne: \"3\"\nf: 0x10\ng: 1_000\nh: .5\ni: 2001-12-14\nj: <b>&\n",
			`{"a":1,"b":-2.50,"c":true,"d":null,"e":"3","f":16,"g":1000,"h":0.5,"i":"2001-12-14","j":"<b>&"}`},
		{"non-string keys", "1: a\ntrue: b\n", `{"1":"a","true":"b"}`},
		{"anchors and aliases", "a: &x {k: [1, 2]}\nb: *x\n", `{"a":{"k":[1,2]},"b":{"k":[1,2]}}`},
		{"merge keys", "base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n", `{"base":{"x":1,"y":2},"m":{"y":3,"x":1}}`},
		{"merge list, first wins", "a: &a {x: 1}\nb: &b {x: 2, z: 2}\nm: {<<: [*a, *b]}\n", `{"a":{"x":1},"b":{"x":2,"z":2},"m":{"x":1,"z":2}}`},
		{"flow and block", "a: [ {b: c} ]\n", `{"a":[{"b":"c"}]}`},
		{"unicode", "a: \"caf\\u00e9 \\\"q\\\"\"\n", `{"a":"café \"q\""}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(docJSON(t, tt.yaml)); got != tt.json {
				t.Errorf("got  %s\nwant %s", got, tt.json)
			}
		})
	}
}

func TestSplitDocumentsEmpty(t *testing.T) {
	for _, in := range []string{"", "\n", "# only a comment\n", "---\n", "---\n---\n# c\n---\n"} {
		docs, err := SplitDocuments(strings.NewReader(in))
		if err != nil || len(docs) != 0 {
			t.Errorf("%q: got %d documents, %v; want none", in, len(docs), err)
		}
	}
}

func TestSplitDocumentsErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       string
		ok         int // documents returned before the error
	}{
		{"malformed in second document", "a: 1\n---\n# c\n---\nb: [\n", "document 2, line 5: did not find expected node content", 1},
		{"bad indentation", "a:\n  b: 1\n c: 2\n", "document 1, line 2: did not find expected key", 0},
		{"tab indentation", "a:\n\tb: 1\n", "document 1, line 2: found character that cannot start any token", 0},
		{"top level list", "- a\n- b\n", "document 1, line 1: top level must be a mapping (apiVersion, kind, metadata, spec), got a sequence", 0},
		{"top level scalar", "a: 1\n---\nhello\n", "document 2, line 3: top level must be a mapping (apiVersion, kind, metadata, spec), got a string", 1},
		{"top level null", "~\n", "document 1, line 1: top level must be a mapping (apiVersion, kind, metadata, spec), got null", 0},
		{"duplicate key", "a: 1\nb: 2\na: 3\n", `document 1, line 3: key "a" is already defined at line 1`, 0},
		{"recursive alias", "a: &x [1, *x]\n", "document 1, line 1: alias *x refers to itself", 0},
		{"unknown anchor", "a: *nope\n", "document 1: unknown anchor 'nope' referenced", 0},
		{"not a number JSON has", "a: .nan\n", "document 1, line 1: .nan cannot be represented in JSON; quote it to make it a string", 0},
		{"complex key", "? [a]\n: b\n", "document 1, line 1: a mapping key must be a string, not a sequence", 0},
		{"merge of a scalar", "a: {<<: 1}\n", "document 1, line 1: << must merge a mapping or a list of mappings, got a number", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, err := SplitDocuments(strings.NewReader(tt.yaml))
			if err == nil {
				t.Fatalf("no error; documents %+v", docs)
			}
			if err.Error() != tt.want {
				t.Errorf("got  %q\nwant %q", err, tt.want)
			}
			var de *DocumentError
			if !errors.As(err, &de) {
				t.Errorf("error is %T, want *DocumentError", err)
			}
			if len(docs) != tt.ok {
				t.Errorf("got %d documents before the error, want %d", len(docs), tt.ok)
			}
		})
	}
}

func TestSplitDocumentsAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [" + strings.Repeat("x,", 9) + "x]\n")
	for i := 1; i < 12; i++ {
		b.WriteString("a" + itoa(i) + ": &a" + itoa(i) + " [" + strings.Repeat("*a"+itoa(i-1)+",", 9) + "*a" + itoa(i-1) + "]\n")
	}
	_, err := SplitDocuments(strings.NewReader(b.String()))
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("got %v, want a size error", err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestSplitDocumentsLenientHeader(t *testing.T) {
	// The rest is nonsense, but the caller can still say which object it is.
	docs, err := SplitDocuments(strings.NewReader("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: prod\n  labels: 7\nspec: nonsense\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := docs[0]
	if d.APIVersion != "apps/v1" || d.Kind != "Deployment" || d.Name != "web" || d.Namespace != "prod" {
		t.Errorf("got %+v", d)
	}
	docs, err = SplitDocuments(strings.NewReader("apiVersion: [x]\nmetadata: web\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d := docs[0]; d.APIVersion != "" || d.Kind != "" || d.Name != "" {
		t.Errorf("got %+v", d)
	}
}
