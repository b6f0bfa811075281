package client

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"k8s.io/client-go/util/jsonpath"
)

// -o jsonpath and --sort-by use kubectl's own JSONPath (client-go's
// util/jsonpath), over the same JSON that -o json prints, so a template
// copied from a Kubernetes tutorial gives the same text here.

// parseJSONPath compiles a JSONPath template as kubectl does for -o
// jsonpath and --sort-by: a key an object lacks prints nothing rather than
// failing (kubectl's --allow-missing-template-keys, true by default).
func parseJSONPath(name, template string) (*jsonpath.JSONPath, error) {
	j := jsonpath.New(name).AllowMissingKeys(true)
	if err := j.Parse(template); err != nil {
		return nil, fmt.Errorf("error parsing jsonpath %s: %w", template, err)
	}
	return j, nil
}

// jsonTree is v as -o json shows it, as the maps, slices, strings, int64s,
// float64s and bools that JSONPath walks.
func jsonTree(v any) (any, error) {
	tree, err := canonicalTree(v)
	if err != nil {
		return nil, err
	}
	return plainNumbers(tree), nil
}

// printJSONPath writes the template executed over v's JSON form.
func printJSONPath(out io.Writer, j *jsonpath.JSONPath, v any) error {
	tree, err := jsonTree(v)
	if err != nil {
		return err
	}
	if err := j.Execute(out, tree); err != nil {
		return fmt.Errorf("jsonpath: %w", err)
	}
	return nil
}

// relaxedPath is what --sort-by accepts, as kubectl's
// RelaxedJSONPathExpression: .a.b, a.b, {.a.b} or {a.b}.
var relaxedPath = regexp.MustCompile(`^\{\.?([^{}]+)\}$|^\.?([^{}]+)$`)

// relaxedJSONPath turns a --sort-by expression into a template, {.a.b}.
func relaxedJSONPath(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("empty path")
	}
	m := relaxedPath.FindStringSubmatch(s)
	if m == nil {
		return "", fmt.Errorf("unexpected path string %q, expected a 'name1.name2' or '.name1.name2' or '{name1.name2}' or '{.name1.name2}'", s)
	}
	path := m[1]
	if path == "" {
		path = m[2]
	}
	return "{." + path + "}", nil
}

// sortByJSONPath orders rs (and objs, their -o json objects, alongside) by
// the first value the template finds in each object, as kubectl's --sort-by:
// stable, numbers by value, strings in natural order (pod-2 before pod-10),
// objects without the field first. A field that no object has is an error.
func sortByJSONPath(j *jsonpath.JSONPath, expr string, rs []resource, objs []any) error {
	type keyed struct {
		r     resource
		obj   any
		value any
		has   bool
	}
	ks := make([]keyed, len(rs))
	found := false
	for i := range rs {
		tree, err := jsonTree(objs[i])
		if err != nil {
			return err
		}
		results, err := j.FindResults(tree)
		if err != nil {
			return fmt.Errorf("--sort-by %s: %w", expr, err)
		}
		ks[i] = keyed{r: rs[i], obj: objs[i]}
		if len(results) > 0 && len(results[0]) > 0 {
			ks[i].value, ks[i].has = results[0][0].Interface(), true
			found = true
		}
	}
	if !found && len(rs) > 0 {
		return fmt.Errorf("couldn't find any field with path %q in the list of objects", expr)
	}
	sort.SliceStable(ks, func(a, b int) bool {
		if ks[a].has != ks[b].has {
			return !ks[a].has
		}
		return lessValue(ks[a].value, ks[b].value)
	})
	for i, k := range ks {
		rs[i], objs[i] = k.r, k.obj
	}
	return nil
}

// lessValue orders two JSON values: numbers by value, strings naturally,
// false before true; anything else (or two of different types) by its text.
func lessValue(a, b any) bool {
	if x, ok := number(a); ok {
		if y, ok := number(b); ok {
			return x < y
		}
	}
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return naturalLess(x, y)
		}
	case bool:
		if y, ok := b.(bool); ok {
			return !x && y
		}
	}
	return fmt.Sprint(a) < fmt.Sprint(b)
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

// naturalLess compares strings with their runs of digits compared as
// numbers (hello-2 < hello-10), as kubectl's sort order does.
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := isDigit(a[0]), isDigit(b[0])
		switch {
		case da && db:
			na, ra := digitRun(a)
			nb, rb := digitRun(b)
			ta, tb := strings.TrimLeft(na, "0"), strings.TrimLeft(nb, "0")
			if len(ta) != len(tb) {
				return len(ta) < len(tb)
			}
			if ta != tb {
				return ta < tb
			}
			if len(na) != len(nb) { // the same number: fewer leading zeros first
				return len(na) < len(nb)
			}
			a, b = ra, rb
		case a[0] != b[0]:
			return a[0] < b[0]
		default:
			a, b = a[1:], b[1:]
		}
	}
	return len(a) < len(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// digitRun splits s into its leading digits and the rest.
func digitRun(s string) (digits, rest string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i], s[i:]
}
