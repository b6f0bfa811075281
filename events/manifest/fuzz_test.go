package manifest

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// yamlSeeds are the YAML inputs of the table tests.
func yamlSeeds() []string {
	seeds := []string{goodDeploymentYAML, goodPodYAML, schedulingDeploymentYAML, probePodYAML, goodDeploymentYAML + "---\n" + goodPodYAML,
		"# c\n---\n---\n", "a: &x [1, *x]\n", "a: {<<: [{x: 1}, {y: 2}]}\n", "a: .inf\n", "? [a]\n: b\n", "- a\n"}
	for _, c := range decodeCases {
		seeds = append(seeds, c.yaml)
	}
	return seeds
}

// checkObject decodes raw; when that succeeds the object must survive the
// helpers and re-encode to itself.
func checkObject(t *testing.T, raw []byte) {
	o, err := DecodeObject(raw)
	if err != nil {
		var errs FieldErrors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("error %v (%T) is not a non-empty FieldErrors", err, err)
		}
		return
	}
	if (o.Deployment() == nil) == (o.Pod() == nil) {
		t.Fatalf("decoded object has not exactly one spec: %+v", o)
	}
	_ = Validate(o)
	d := o
	d.Defaults()
	_ = Validate(d)
	spec := d.Pod()
	if d.Deployment() != nil {
		_ = TemplateHash(d.Deployment().Template)
		spec = &d.Deployment().Template.Spec
	}
	spec.Requests()
	valid := Validate(d) == nil
	for name, v := range spec.ResourceRequests() {
		if valid && v < 0 {
			t.Fatalf("valid object requests %d of %s", v, name)
		}
	}
	_ = PriorityOf(*spec)
	checkSelectors(t, *spec)
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	back, err := DecodeObject(b)
	if err != nil {
		t.Fatalf("re-decoding %s: %v", b, err)
	}
	if !reflect.DeepEqual(back, o) {
		t.Fatalf("round trip changed the object:\n got  %+v\n want %+v\n json %s", back, o, b)
	}
	var viaJSON Object
	if err := json.Unmarshal(b, &viaJSON); err != nil || !reflect.DeepEqual(viaJSON, o) {
		t.Fatalf("json.Unmarshal round trip: %v", err)
	}
}

// checkSelectors runs the scheduler's helpers over a pod's own selectors,
// with the pod's own labels and node selector as labels: they must not
// panic, and a selector built from matchLabels alone must match them.
func checkSelectors(t *testing.T, s PodSpec) {
	labels := s.NodeSelector
	if (LabelSelector{MatchLabels: labels}).Matches(labels) != true {
		t.Fatalf("matchLabels %v does not match itself", labels)
	}
	if a := s.Affinity; a != nil {
		if na := a.NodeAffinity; na != nil {
			if r := na.RequiredDuringSchedulingIgnoredDuringExecution; r != nil {
				_ = r.Matches(labels)
			}
			for _, p := range na.PreferredDuringSchedulingIgnoredDuringExecution {
				_ = p.Preference.Matches(labels)
			}
		}
		if pa := a.PodAntiAffinity; pa != nil {
			for _, term := range pa.RequiredDuringSchedulingIgnoredDuringExecution {
				if term.LabelSelector != nil {
					_ = term.LabelSelector.Matches(labels)
				}
			}
		}
	}
	for _, tol := range s.Tolerations {
		_ = tol.Tolerates(Taint{Key: tol.Key, Value: tol.Value, Effect: tol.Effect})
	}
	for _, c := range s.TopologySpreadConstraints {
		if c.LabelSelector != nil {
			_ = c.LabelSelector.Matches(labels)
		}
	}
}

func FuzzSplitDocuments(f *testing.F) {
	for _, s := range yamlSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		docs, err := SplitDocuments(strings.NewReader(s))
		var de *DocumentError
		if err != nil && !errors.As(err, &de) {
			t.Fatalf("error %v (%T) is not a *DocumentError", err, err)
		}
		for i, d := range docs {
			if d.Index != i {
				t.Fatalf("document %d has index %d", i, d.Index)
			}
			if !json.Valid(d.JSON) || d.JSON[0] != '{' {
				t.Fatalf("document %d: not a JSON object: %s", i, d.JSON)
			}
			checkObject(t, d.JSON)
		}
	})
}

func FuzzDecodeObject(f *testing.F) {
	for _, s := range yamlSeeds() {
		docs, _ := SplitDocuments(strings.NewReader(s))
		for _, d := range docs {
			f.Add([]byte(d.JSON))
		}
	}
	f.Add([]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"labels":{"a":"1","a":"2"}},"spec":{}}`))
	f.Add([]byte(`{"apiVersion":"v1","kind":"Pod","metadata":null,"spec":{"containers":[{"resources":{"limits":{"cpu":1e3}}}]}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkObject(t, raw)
	})
}

func FuzzParseQuantity(f *testing.F) {
	for _, c := range quantityCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseQuantity(s)
		if err != nil {
			return
		}
		if q.String() != s {
			t.Fatalf("String() = %q, want %q", q, s)
		}
		if v, m := q.Value(), q.MilliValue(); m > 0 && (v*1000 < m || (v-1)*1000 >= m) {
			t.Fatalf("%q: value %d does not round milli %d up", s, v, m)
		}
		b, err := json.Marshal(q)
		if err != nil {
			t.Fatal(err)
		}
		var back Quantity
		if err := json.Unmarshal(b, &back); err != nil || back != q {
			t.Fatalf("%q: JSON round trip gave %+v, %v", s, back, err)
		}
	})
}
