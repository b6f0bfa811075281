package manifest

import (
	"fmt"
	"strings"
)

// FieldError is one problem with one field of a manifest. Path names the
// field the way a user writes it: "spec.template.spec.containers[0].image".
// An empty Path means the document as a whole.
type FieldError struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

func (e FieldError) Error() string {
	if e.Path == "" {
		return e.Message
	}
	return e.Path + ": " + e.Message
}

// FieldErrors is every problem found in a manifest, in document order.
type FieldErrors []FieldError

// Error joins the errors with "; ".
func (errs FieldErrors) Error() string {
	s := make([]string, len(errs))
	for i, e := range errs {
		s[i] = e.Error()
	}
	return strings.Join(s, "; ")
}

// Strings is each error on its own, e.g. for AdmissionRejected.Reasons.
func (errs FieldErrors) Strings() []string {
	s := make([]string, len(errs))
	for i, e := range errs {
		s[i] = e.Error()
	}
	return s
}

// OrNil is errs as an error, or nil when there are none (a nil FieldErrors in
// an error interface is not nil).
func (errs FieldErrors) OrNil() error {
	if len(errs) == 0 {
		return nil
	}
	return errs
}

func (errs *FieldErrors) add(path, msg string) {
	*errs = append(*errs, FieldError{Path: path, Message: msg})
}

func (errs *FieldErrors) addf(path, format string, args ...any) {
	errs.add(path, fmt.Sprintf(format, args...))
}

// fieldPath joins a parent path and a field name or map key.
func fieldPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

// indexPath names an element of a list: "containers[0]".
func indexPath(parent string, i int) string {
	return fmt.Sprintf("%s[%d]", parent, i)
}
