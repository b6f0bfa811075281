package manifest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events/sealed"
)

// ConfigMaps and Secrets are refused as Kubernetes refuses them, each error
// naming its field.
func TestConfigValidation(t *testing.T) {
	big := strings.Repeat("x", MaxConfigSize)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name string
		raw  string
		want []string // each a prefix of one error, in order; nil: valid
	}{
		{"configmap", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a.conf":"x","B_2-c":"y"},"binaryData":{"bin":"` + b64("z") + `"}}`, nil},
		{"bad key", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a/b":"x","..x":"y"}}`,
			[]string{`data[..x]: Invalid value: "..x": must not start with '..'`, `data[a/b]: Invalid value: "a/b": a valid config key`}},
		{"key in data and binaryData", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"x"},"binaryData":{"a":"` + b64("y") + `"}}`,
			[]string{`binaryData[a]: Invalid value: "a": duplicate of key present in data`}},
		{"configmap over 1 MiB", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"` + big + `"}}`,
			[]string{"data: Too long: must have at most 1048576 bytes"}},
		{"opaque secret", `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"data":{"p":"` + b64("pw") + `"},"stringData":{"u":"me"}}`, nil},
		{"tls without tls.key", `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"type":"kubernetes.io/tls","stringData":{"tls.crt":"c"}}`,
			[]string{"data[tls.key]: Required value"}},
		{"sealed tls without tls.key", `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"type":"kubernetes.io/tls","sealed":{"keys":{"tls.crt":3},"box":{"keyID":"k","data":""}}}`,
			[]string{"data[tls.key]: Required value"}},
		{"secret over 1 MiB", `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"stringData":{"a":"` + big + `"}}`,
			[]string{"data: Too long: must have at most 1048576 bytes"}},
		{"sealed secret over 1 MiB", fmt.Sprintf(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"sealed":{"keys":{"a":%d},"box":{"keyID":"k","data":""}}}`, MaxConfigSize),
			[]string{"data: Too long: must have at most 1048576 bytes"}},
		{"secret bad key", `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"stringData":{"a b":"x"}}`,
			[]string{`stringData[a b]: Invalid value: "a b": a valid config key`}},
		{"dockerconfigjson not JSON", `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"type":"kubernetes.io/dockerconfigjson","stringData":{".dockerconfigjson":"{"}}`,
			[]string{`data[.dockerconfigjson]: Invalid value: "<secret contents redacted>"`}},
		{"dockerconfigjson without auths", `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"type":"kubernetes.io/dockerconfigjson","stringData":{".dockerconfigjson":"{}"}}`,
			[]string{`data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": must be a JSON object with an "auths" object`}},
		{"dockerconfigjson", `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"type":"kubernetes.io/dockerconfigjson","stringData":{".dockerconfigjson":"{\"auths\":{}}"}}`, nil},
		{"basic-auth with neither", `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"type":"kubernetes.io/basic-auth","stringData":{"x":"y"}}`,
			[]string{"data[username]: Required value"}},
		{"ssh-auth", `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"type":"kubernetes.io/ssh-auth","stringData":{"x":"y"}}`,
			[]string{"data[ssh-privatekey]: Required value"}},
		{"service-account-token without its account", `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"type":"kubernetes.io/service-account-token"}`,
			[]string{"metadata.annotations[kubernetes.io/service-account.name]: Required value"}},
	}
	for _, tt := range tests {
		o, err := DecodeObject(json.RawMessage(tt.raw))
		if err != nil {
			t.Errorf("%s: decode: %v", tt.name, err)
			continue
		}
		o.Defaults()
		errs := Validate(o)
		if len(errs) != len(tt.want) {
			t.Errorf("%s: errors %q, want %d like %q", tt.name, errs.Strings(), len(tt.want), tt.want)
			continue
		}
		for i, w := range tt.want {
			if !strings.HasPrefix(errs[i].Error(), w) {
				t.Errorf("%s: error %d = %q, want it to start %q", tt.name, i, errs[i].Error(), w)
			}
		}
	}
}

// A Secret defaults to Opaque; get and describe show key sizes, never values.
func TestSecretColumnsAndDescribe(t *testing.T) {
	kp, _ := sealed.NewKeyPair()
	box, _ := sealed.Seal(kp.Public, []byte(`{"password":"aHVudGVyMg=="}`))
	o := Object{APIVersion: "v1", Kind: KindSecret, Metadata: ObjectMeta{Name: "s", Namespace: "default"},
		Spec: &SecretSpec{Sealed: &SealedData{Keys: map[string]int{"password": 7}, Box: box}}}
	o.Defaults()
	if o.Secret().Type != SecretTypeOpaque {
		t.Fatalf("type %q", o.Secret().Type)
	}
	var cells []string
	for _, c := range o.Info().Columns {
		cells = append(cells, c.Header+"="+c.Cell(o, WorkloadStatus{}, time.Time{}))
	}
	if want := []string{"TYPE=Opaque", "DATA=1"}; !reflect.DeepEqual(cells, want) {
		t.Errorf("columns %q, want %q", cells, want)
	}
	fs := o.Info().Describe(o, WorkloadStatus{})
	if want := []Field{{"Type", "Opaque"}, {"Data", "1"}, {"  password", "7 bytes"}}; !reflect.DeepEqual(fs, want) {
		t.Errorf("describe %q, want %q", fs, want)
	}
}
