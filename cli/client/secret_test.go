package client

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/events/sealed"
)

// The CLI seals data and stringData merged as Kubernetes merges them
// (stringData wins), leaves nothing of them in the clear, and names the
// field it cannot read.
func TestSealManifest(t *testing.T) {
	kp, err := sealed.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	raw := `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"type":"Opaque",` +
		`"data":{"a":"b2xk","b":"Yg=="},"stringData":{"a":"new-value"}}`
	out, err := sealManifest(json.RawMessage(raw), kp.Public)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "new-value") || strings.Contains(string(out), "b2xk") || strings.Contains(string(out), `"stringData"`) {
		t.Fatalf("sealed manifest holds data in the clear: %s", out)
	}
	o, err := manifest.DecodeObject(out)
	if err != nil {
		t.Fatal(err)
	}
	sd := o.Secret().Sealed
	if sd == nil || !reflect.DeepEqual(sd.Keys, map[string]int{"a": 9, "b": 1}) || o.Secret().Type != "Opaque" {
		t.Fatalf("sealed %+v", o.Spec)
	}
	plain, err := kp.Open(sd.Box)
	if err != nil {
		t.Fatal(err)
	}
	var data map[string][]byte
	if err := json.Unmarshal(plain, &data); err != nil || string(data["a"]) != "new-value" || string(data["b"]) != "b" {
		t.Errorf("box holds %q (%v)", data, err)
	}

	for in, want := range map[string]string{
		`{"kind":"Secret","data":{"a":"not base64!"}}`: "data[a]: must be base64",
		`{"kind":"Secret","sealed":{}}`:                "sealed: set by gantry",
		`{"kind":"Secret","stringData":{"a":1}}`:       "stringData: must be an object of strings",
	} {
		if _, err := sealManifest(json.RawMessage(in), kp.Public); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", in, err, want)
		}
	}
}
