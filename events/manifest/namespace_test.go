package manifest

import "testing"

func TestValidateNamespace(t *testing.T) {
	tests := []struct {
		name string
		meta ObjectMeta
		want []string
	}{
		{"good", ObjectMeta{Name: "shop", Labels: map[string]string{"team": "a"}}, nil},
		{"default", ObjectMeta{Name: "default"}, nil},
		{"kube-system", ObjectMeta{Name: "kube-system"}, nil},
		{"kube-public", ObjectMeta{Name: "kube-public"}, nil},
		{"namespaced", ObjectMeta{Name: "shop", Namespace: "default"},
			[]string{`metadata.namespace: must be empty, got "default": a Namespace is cluster-scoped`}},
		{"bad namespace reported once", ObjectMeta{Name: "shop", Namespace: "a.b"},
			[]string{`metadata.namespace: must be empty, got "a.b": a Namespace is cluster-scoped`}},
		{"name required", ObjectMeta{}, []string{"metadata.name: required"}},
		{"underscore", ObjectMeta{Name: "_cluster"},
			[]string{`metadata.name: invalid value "_cluster": must consist of lower-case letters, digits and '-', and start and end with a letter or digit (e.g. "web-1")`}},
		{"dots", ObjectMeta{Name: "a.b"},
			[]string{`metadata.name: invalid value "a.b": must not contain dots (a name is a NATS subject token)`}},
		{"labels", ObjectMeta{Name: "shop", Labels: map[string]string{"team": "a b"}},
			[]string{`metadata.labels.team: invalid value "a b": must be empty or consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var errs FieldErrors
			validateNamespace(&errs, tt.meta)
			checkErrs(t, errs, tt.want)
		})
	}
}
