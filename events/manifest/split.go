package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Document is one non-empty document of a YAML stream, converted to JSON.
type Document struct {
	// Index is the document's position among the non-empty documents of
	// the stream, from 0. Documents holding only comments or "---" are
	// skipped and not counted.
	Index int
	// Source names where the stream came from (a file name, "-" for stdin);
	// SplitDocuments leaves it empty for the caller to set.
	Source string
	// Line is the 1-based line of the stream where the document's content
	// starts.
	Line int
	// APIVersion, Kind, Name and Namespace are read leniently, so the caller
	// can name the object even when the rest of it is invalid. Each is empty
	// when missing or not a string.
	APIVersion string
	Kind       string
	Name       string
	Namespace  string
	// JSON is the whole document as JSON: mappings become objects, integers
	// stay integers, numbers keep the digits written where JSON allows.
	JSON json.RawMessage
}

// DocumentError is a document that could not be read: malformed YAML, or a
// document that is not a mapping.
type DocumentError struct {
	Index int    // position of the document, counted like Document.Index (from 0)
	Line  int    // 1-based; 0 when the parser did not say
	Msg   string // what is wrong, lower-case
}

// Error numbers documents from 1, as a person counts them.
func (e *DocumentError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("document %d, line %d: %s", e.Index+1, e.Line, e.Msg)
	}
	return fmt.Sprintf("document %d: %s", e.Index+1, e.Msg)
}

// MaxDocumentJSON bounds one document's JSON, which also stops alias
// expansion ("billion laughs") early.
const MaxDocumentJSON = 4 << 20

// SplitDocuments reads a multi-document YAML stream and returns each
// non-empty document converted to JSON. On a malformed document it returns
// the documents before it and a *DocumentError naming the document's index
// and line.
func SplitDocuments(r io.Reader) (docs []Document, err error) {
	defer func() {
		// yaml.v3 has panicked on hostile input before; never take the
		// caller down with it.
		if p := recover(); p != nil {
			err = &DocumentError{Index: len(docs), Msg: fmt.Sprintf("yaml parser failed: %v", p)}
		}
	}()
	dec := yaml.NewDecoder(r)
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return docs, yamlError(len(docs), err)
		}
		if emptyDocument(&n) {
			continue
		}
		doc, err := convertDocument(len(docs), &n)
		if err != nil {
			return docs, err
		}
		docs = append(docs, doc)
	}
}

var yamlErrorLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlError turns a yaml.v3 error ("yaml: line 3: did not find expected
// node content") into a DocumentError.
func yamlError(index int, err error) *DocumentError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlErrorLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &DocumentError{Index: index, Line: line, Msg: m[2]}
	}
	return &DocumentError{Index: index, Msg: msg}
}

// emptyDocument reports a document with no content: only comments, or
// nothing between two "---". An explicit null ("~") is not empty.
func emptyDocument(n *yaml.Node) bool {
	if len(n.Content) == 0 {
		return true
	}
	c := n.Content[0]
	return c.Kind == yaml.ScalarNode && c.ShortTag() == "!!null" && c.Value == "" && c.Anchor == ""
}

func convertDocument(index int, n *yaml.Node) (Document, error) {
	root := n
	if n.Kind == yaml.DocumentNode {
		root = n.Content[0]
	}
	doc := Document{Index: index, Line: root.Line}
	c := converter{index: index, done: map[*yaml.Node]any{}, busy: map[*yaml.Node]bool{}}
	v, err := c.convert(root)
	if err != nil {
		return doc, err
	}
	obj, ok := v.(*yamlObject)
	if !ok {
		return doc, &DocumentError{Index: index, Line: root.Line,
			Msg: fmt.Sprintf("top level must be a mapping (apiVersion, kind, metadata, spec), got %s", yamlTypeName(v))}
	}
	doc.APIVersion = scalarString(obj.get("apiVersion"))
	doc.Kind = scalarString(obj.get("kind"))
	if meta, ok := obj.get("metadata").(*yamlObject); ok {
		doc.Name = scalarString(meta.get("name"))
		doc.Namespace = scalarString(meta.get("namespace"))
	}
	w := jsonWriter{index: index, line: root.Line}
	if err := w.write(v); err != nil {
		return doc, err
	}
	doc.JSON = json.RawMessage(w.buf.Bytes())
	return doc, nil
}

// The converted tree: *yamlObject, []any, string, jsonNumber, bool, nil.
type (
	yamlObject struct {
		keys []string
		vals map[string]any
	}
	jsonNumber string
)

func (o *yamlObject) get(k string) any { return o.vals[k] }

func (o *yamlObject) set(k string, v any) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func scalarString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case jsonNumber:
		return string(v)
	}
	return ""
}

func yamlTypeName(v any) string {
	switch v.(type) {
	case *yamlObject:
		return "a mapping"
	case []any:
		return "a sequence"
	case nil:
		return "null"
	case string:
		return "a string"
	case jsonNumber:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

// converter turns yaml.v3 nodes into the tree above. Anchored nodes are
// converted once and shared, so aliases cost nothing until written.
type converter struct {
	index int
	done  map[*yaml.Node]any
	busy  map[*yaml.Node]bool
}

func (c *converter) errorf(n *yaml.Node, format string, args ...any) error {
	return &DocumentError{Index: c.index, Line: n.Line, Msg: fmt.Sprintf(format, args...)}
}

func (c *converter) convert(n *yaml.Node) (any, error) {
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return nil, c.errorf(n, "unknown anchor %q", n.Value)
		}
		if c.busy[n.Alias] {
			return nil, c.errorf(n, "alias *%s refers to itself", n.Value)
		}
		if v, ok := c.done[n.Alias]; ok {
			return v, nil
		}
		return c.convert(n.Alias)
	}
	if v, ok := c.done[n]; ok {
		return v, nil
	}
	c.busy[n] = true
	defer delete(c.busy, n)
	var v any
	var err error
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		v, err = c.convert(n.Content[0])
	case yaml.ScalarNode:
		v, err = c.scalar(n)
	case yaml.SequenceNode:
		v, err = c.sequence(n)
	case yaml.MappingNode:
		v, err = c.mapping(n)
	default:
		err = c.errorf(n, "unexpected yaml node kind %d", n.Kind)
	}
	if err != nil {
		return nil, err
	}
	c.done[n] = v
	return v, nil
}

func (c *converter) sequence(n *yaml.Node) (any, error) {
	out := make([]any, 0, len(n.Content))
	for _, e := range n.Content {
		v, err := c.convert(e)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (c *converter) mapping(n *yaml.Node) (any, error) {
	obj := &yamlObject{vals: map[string]any{}}
	lines := map[string]int{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		key, err := c.key(k)
		if err != nil {
			return nil, err
		}
		if prev, dup := lines[key]; dup {
			return nil, c.errorf(k, "key %q is already defined at line %d", key, prev)
		}
		lines[key] = k.Line
		val, err := c.convert(v)
		if err != nil {
			return nil, err
		}
		obj.set(key, val)
	}
	// "<<: *base" fills in keys not written explicitly; of several merged
	// mappings, the first wins.
	for _, m := range merges {
		sources := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			sources = m.Content
		}
		for _, src := range sources {
			v, err := c.convert(src)
			if err != nil {
				return nil, err
			}
			mo, ok := v.(*yamlObject)
			if !ok {
				return nil, c.errorf(src, "<< must merge a mapping or a list of mappings, got %s", yamlTypeName(v))
			}
			for _, k := range mo.keys {
				if _, exists := obj.vals[k]; !exists {
					obj.set(k, mo.vals[k])
				}
			}
		}
	}
	return obj, nil
}

func (c *converter) key(k *yaml.Node) (string, error) {
	if k.Kind == yaml.AliasNode && k.Alias != nil {
		k = k.Alias
	}
	if k.Kind != yaml.ScalarNode {
		return "", c.errorf(k, "a mapping key must be a string, not a %s", nodeKindName(k.Kind))
	}
	return k.Value, nil
}

func nodeKindName(k yaml.Kind) string {
	switch k {
	case yaml.SequenceNode:
		return "sequence"
	case yaml.MappingNode:
		return "mapping"
	case yaml.AliasNode:
		return "alias"
	}
	return "scalar"
}

// jsonNumberText is JSON's number grammar; YAML numbers written this way are
// kept digit for digit ("0.5", "1e3").
var jsonNumberText = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)

func (c *converter) scalar(n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, c.errorf(n, "%q is not a boolean", n.Value)
		}
		return b, nil
	case "!!int":
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, c.errorf(n, "%q is not an integer", n.Value)
		}
		switch v := v.(type) {
		case int:
			return jsonNumber(strconv.FormatInt(int64(v), 10)), nil
		case int64:
			return jsonNumber(strconv.FormatInt(v, 10)), nil
		case uint64:
			return jsonNumber(strconv.FormatUint(v, 10)), nil
		}
		return nil, c.errorf(n, "%q is not an integer", n.Value)
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, c.errorf(n, "%q is not a number", n.Value)
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, c.errorf(n, "%s cannot be represented in JSON; quote it to make it a string", n.Value)
		}
		if jsonNumberText.MatchString(n.Value) {
			return jsonNumber(n.Value), nil
		}
		return jsonNumber(strconv.FormatFloat(f, 'g', -1, 64)), nil
	}
	// !!str, !!timestamp, !!binary and custom tags: the text as written.
	return n.Value, nil
}

// jsonWriter writes the converted tree as compact JSON, in the order the
// keys were written, up to MaxDocumentJSON bytes.
type jsonWriter struct {
	index, line int
	buf         bytes.Buffer
	enc         *json.Encoder
}

func (w *jsonWriter) write(v any) error {
	if w.buf.Len() > MaxDocumentJSON {
		return &DocumentError{Index: w.index, Line: w.line,
			Msg: fmt.Sprintf("document is larger than %d bytes as JSON (are aliases expanding too much?)", MaxDocumentJSON)}
	}
	switch v := v.(type) {
	case nil:
		w.buf.WriteString("null")
	case bool:
		w.buf.WriteString(strconv.FormatBool(v))
	case jsonNumber:
		w.buf.WriteString(string(v))
	case string:
		w.string(v)
	case []any:
		w.buf.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				w.buf.WriteByte(',')
			}
			if err := w.write(e); err != nil {
				return err
			}
		}
		w.buf.WriteByte(']')
	case *yamlObject:
		w.buf.WriteByte('{')
		for i, k := range v.keys {
			if i > 0 {
				w.buf.WriteByte(',')
			}
			w.string(k)
			w.buf.WriteByte(':')
			if err := w.write(v.vals[k]); err != nil {
				return err
			}
		}
		w.buf.WriteByte('}')
	default:
		return fmt.Errorf("manifest: unexpected %T in converted yaml", v)
	}
	return nil
}

func (w *jsonWriter) string(s string) {
	if w.enc == nil {
		w.enc = json.NewEncoder(&w.buf)
		w.enc.SetEscapeHTML(false)
	}
	_ = w.enc.Encode(s) // a string always encodes
	w.buf.Truncate(w.buf.Len() - 1)
}
