package manifest

import (
	"encoding/json"
	"strings"
	"testing"
)

// A Flat kind reads its content from the top level and writes it back there.
func TestFlatKindRoundTrip(t *testing.T) {
	raw := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg"},"data":{"a":"1"},"immutable":true}`
	o, err := DecodeObject(json.RawMessage(raw))
	if err != nil {
		t.Fatal(err)
	}
	if cm := o.ConfigMap(); cm == nil || cm.Data["a"] != "1" || !Optional(cm.Immutable) {
		t.Fatalf("decoded %+v", o.Spec)
	}
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"data":{"a":"1"}`) || strings.Contains(string(b), `"spec"`) {
		t.Fatalf("marshalled %s", b)
	}
	var back Object
	if err := json.Unmarshal(b, &back); err != nil || back.ConfigMap().Data["a"] != "1" {
		t.Fatalf("unmarshal %s: %v %+v", b, err, back.Spec)
	}
	_, err = DecodeObject(json.RawMessage(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg"},"spec":{}}`))
	if err == nil || !strings.Contains(err.Error(), "spec: unknown field") {
		t.Fatalf("a ConfigMap with spec: %v", err)
	}
}
