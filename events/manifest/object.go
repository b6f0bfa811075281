package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
)

// objectJSON is the canonical Kubernetes shape of an Object.
type objectJSON struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Metadata   ObjectMeta      `json:"metadata"`
	Spec       json.RawMessage `json:"spec,omitempty"`
}

// MarshalJSON writes {"apiVersion","kind","metadata","spec"}.
func (o Object) MarshalJSON() ([]byte, error) {
	out := objectJSON{APIVersion: o.APIVersion, Kind: o.Kind, Metadata: o.Metadata}
	if o.Spec != nil && !reflect.ValueOf(o.Spec).IsNil() {
		b, err := json.Marshal(o.Spec)
		if err != nil {
			return nil, err
		}
		out.Spec = b
	}
	if k := o.Info(); k != nil && k.Flat {
		return marshalFlat(out)
	}
	return json.Marshal(out)
}

// marshalFlat writes a Flat kind: the spec's fields beside metadata.
func marshalFlat(out objectJSON) ([]byte, error) {
	head, err := json.Marshal(struct {
		APIVersion string     `json:"apiVersion"`
		Kind       string     `json:"kind"`
		Metadata   ObjectMeta `json:"metadata"`
	}{out.APIVersion, out.Kind, out.Metadata})
	if err != nil {
		return nil, err
	}
	body := bytes.TrimSpace(out.Spec)
	if len(body) < 2 || string(body) == "{}" || string(body) == "null" {
		return head, nil
	}
	// head is {...} and body is {...}: join them as one object.
	joined := make([]byte, 0, len(head)+len(body))
	joined = append(joined, head[:len(head)-1]...)
	joined = append(joined, ',')
	return append(joined, body[1:]...), nil
}

// UnmarshalJSON reads the shape MarshalJSON writes. Unlike DecodeObject it
// ignores unknown fields, so objects stored in events by another version of
// Gantry still read; it does insist on a supported kind.
func (o *Object) UnmarshalJSON(b []byte) error {
	return o.unmarshal(b)
}

func (o *Object) unmarshal(b []byte) error {
	var in objectJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	k, ok := lookupKind(in.APIVersion, in.Kind)
	if !ok {
		return unsupportedKind(in.APIVersion, in.Kind)
	}
	out := Object{APIVersion: in.APIVersion, Kind: in.Kind, Metadata: in.Metadata}
	spec := reflect.New(k.spec)
	if k.Flat {
		in.Spec = b // the spec's fields are the top level's
	}
	if len(in.Spec) > 0 && string(in.Spec) != "null" {
		if err := json.Unmarshal(in.Spec, spec.Interface()); err != nil {
			return fmt.Errorf("spec: %w", err)
		}
	}
	out.Spec = spec.Interface()
	normalize(reflect.ValueOf(&out).Elem())
	*o = out
	return nil
}

// normalize turns empty maps and slices into nil, so an Object that went
// through JSON (where omitempty drops them) compares equal to itself.
func normalize(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			normalize(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				normalize(v.Field(i))
			}
		}
	case reflect.Slice:
		if v.IsNil() {
			return
		}
		if v.Len() == 0 {
			v.SetZero()
			return
		}
		for i := range v.Len() {
			normalize(v.Index(i))
		}
	case reflect.Map:
		if v.IsNil() {
			return
		}
		if v.Len() == 0 {
			v.SetZero()
			return
		}
		if !needsNormalize(v.Type().Elem()) {
			return
		}
		it := v.MapRange()
		for it.Next() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(it.Value())
			normalize(e)
			v.SetMapIndex(it.Key(), e)
		}
	}
}

// needsNormalize reports whether values of t can hold a map or slice.
func needsNormalize(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Map, reflect.Slice, reflect.Pointer, reflect.Interface:
		return true
	case reflect.Struct:
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() && needsNormalize(f.Type) {
				return true
			}
		}
	}
	return false
}
