package placement

import (
	"fmt"
	"reflect"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// A node reaches CEL as an object whose fields are CEL values built once,
// in View: reading node.labels['zone'] then costs a map lookup, with no
// reflection and no conversion per evaluation.

// structType is a CEL object type whose values are *object, with fields in
// a fixed order. It is registered with the environment (cel.Types) as a
// ref.Type and a types.StructTypeDescriptor.
type structType struct {
	name   string
	celT   *types.Type
	names  []string
	fields map[string]*types.FieldType
}

func newStructType(name string, fields []string, fieldTypes []*types.Type) *structType {
	t := &structType{name: name, celT: types.NewObjectType(name, traits.FieldTesterType|traits.IndexerType),
		names: fields, fields: map[string]*types.FieldType{}}
	for i, f := range fields {
		i := i
		t.fields[f] = &types.FieldType{
			Type:    fieldTypes[i],
			IsSet:   func(any) bool { return true },
			GetFrom: func(obj any) (any, error) { return fieldOf(obj, i) },
		}
	}
	return t
}

func fieldOf(obj any, i int) (any, error) {
	o, ok := obj.(*object)
	if !ok || i >= len(o.vals) {
		return nil, fmt.Errorf("no field %d on %T", i, obj)
	}
	return o.vals[i], nil
}

// HasTrait implements ref.Type.
func (t *structType) HasTrait(trait int) bool { return t.celT.HasTrait(trait) }

// TypeName implements ref.Type.
func (t *structType) TypeName() string { return t.name }

// ReflectType implements types.StructTypeDescriptor: no Go type backs it.
func (t *structType) ReflectType() reflect.Type { return nil }

// FieldNames implements types.StructTypeDescriptor.
func (t *structType) FieldNames() []string { return t.names }

// FindFieldType implements types.StructTypeDescriptor.
func (t *structType) FindFieldType(name string) (*types.FieldType, bool) {
	ft, ok := t.fields[name]
	return ft, ok
}

// NewValue implements types.StructTypeDescriptor: rules read nodes, they do
// not make them.
func (t *structType) NewValue(types.Adapter, map[string]ref.Val) ref.Val {
	return types.NewErr("%s values cannot be created in a placement rule", t.name)
}

// Adapt implements types.StructTypeDescriptor.
func (t *structType) Adapt(_ types.Adapter, value any) ref.Val {
	if o, ok := value.(*object); ok && o.t == t {
		return o
	}
	return types.NewErr("cannot convert %T to %s", value, t.name)
}

func (t *structType) value(vals ...ref.Val) *object { return &object{t: t, vals: vals} }

// object is a value of a structType.
type object struct {
	t    *structType
	vals []ref.Val
}

// ConvertToNative implements ref.Val.
func (o *object) ConvertToNative(typeDesc reflect.Type) (any, error) {
	return nil, fmt.Errorf("%s cannot be converted to %v", o.t.name, typeDesc)
}

// ConvertToType implements ref.Val.
func (o *object) ConvertToType(typeVal ref.Type) ref.Val {
	switch typeVal {
	case types.TypeType:
		return o.t.celT
	case o.t.celT:
		return o
	}
	if typeVal.TypeName() == o.t.name {
		return o
	}
	return types.NewErr("type conversion error from '%s' to '%s'", o.t.name, typeVal.TypeName())
}

// Equal implements ref.Val: field by field.
func (o *object) Equal(other ref.Val) ref.Val {
	p, ok := other.(*object)
	if !ok || p.t != o.t {
		return types.False
	}
	if p == o {
		return types.True
	}
	for i := range o.vals {
		if o.vals[i].Equal(p.vals[i]) != types.True {
			return types.False
		}
	}
	return types.True
}

// Type implements ref.Val.
func (o *object) Type() ref.Type { return o.t.celT }

// Value implements ref.Val; field getters receive it.
func (o *object) Value() any { return o }

// The two object types a rule sees. Field order is the order of the values
// given to structType.value.
var (
	taintType = newStructType(taintTypeName,
		[]string{"key", "value", "effect"},
		[]*types.Type{types.StringType, types.StringType, types.StringType})
	nodeType = newStructType(nodeTypeName,
		[]string{"name", "labels", "taints", "capacity", "allocatable"},
		[]*types.Type{
			types.StringType,
			types.NewMapType(types.StringType, types.StringType),
			types.NewListType(types.NewObjectType(taintTypeName)),
			types.NewMapType(types.StringType, types.IntType),
			types.NewMapType(types.StringType, types.IntType),
		})
)

// nodeValue builds a node's CEL value.
func nodeValue(adapter types.Adapter, v NodeView) ref.Val {
	labels := make(map[ref.Val]ref.Val, len(v.Labels))
	for k, val := range v.Labels {
		labels[types.String(k)] = types.String(val)
	}
	taints := make([]ref.Val, len(v.Taints))
	for i, t := range v.Taints {
		taints[i] = taintType.value(types.String(t.Key), types.String(t.Value), types.String(t.Effect))
	}
	return nodeType.value(
		types.String(v.Name),
		types.NewRefValMap(adapter, labels),
		types.NewRefValList(adapter, taints),
		resourceMap(adapter, v.Capacity),
		resourceMap(adapter, v.Allocatable),
	)
}

func resourceMap(adapter types.Adapter, m map[string]int64) ref.Val {
	out := make(map[ref.Val]ref.Val, len(m))
	for k, v := range m {
		out[types.String(k)] = types.Int(v)
	}
	return types.NewRefValMap(adapter, out)
}
