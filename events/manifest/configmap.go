package manifest

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// ConfigMap is the object's content if it is a ConfigMap, or nil.
func (o Object) ConfigMap() *ConfigMapSpec { s, _ := o.Spec.(*ConfigMapSpec); return s }

// MaxConfigSize is the most a ConfigMap's or a Secret's data may hold, all
// keys' values together: 1 MiB, Kubernetes' limit (an object of etcd).
const MaxConfigSize = 1 << 20

// configMapKind is v1 ConfigMap: configuration as keys and values.
var configMapKind = KindInfo{
	APIVersion: APICoreV1, Kind: KindConfigMap, Token: "configmap", Plural: "configmaps", ShortNames: []string{"cm"},
	Flat: true, SpecOptional: true,
	spec:     specType[ConfigMapSpec](),
	validate: func(errs *FieldErrors, o Object) { validateConfigMap(errs, *o.ConfigMap()) },
	Columns: []Column{
		{Header: "DATA", Cell: func(o Object, _ WorkloadStatus, _ time.Time) string {
			cm := o.ConfigMap()
			return strconv.Itoa(len(cm.Data) + len(cm.BinaryData))
		}},
	},
	Describe: func(o Object, _ WorkloadStatus) []Field {
		cm := o.ConfigMap()
		fs := []Field{}
		if cm.Immutable != nil && *cm.Immutable {
			fs = append(fs, Field{"Immutable", "true"})
		}
		// kubectl prints a ConfigMap's values (they are not secret); one
		// line per key here, the value after it.
		fs = append(fs, Field{"Data", strconv.Itoa(len(cm.Data))})
		for _, k := range sortedKeys(cm.Data) {
			fs = append(fs, Field{"  " + k, cm.Data[k]})
		}
		fs = append(fs, Field{"BinaryData", strconv.Itoa(len(cm.BinaryData))})
		for _, k := range sortedKeys(cm.BinaryData) {
			fs = append(fs, Field{"  " + k, fmt.Sprintf("%d bytes", len(cm.BinaryData[k]))})
		}
		return fs
	},
}

// maxConfigKeyLength is the longest key (a DNS-1123 subdomain's length).
const maxConfigKeyLength = 253

// configKeyPattern is Kubernetes' IsConfigMapKey: what a ConfigMap's or a
// Secret's key may be (it becomes a file name in a volume).
var configKeyPattern = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)

// ValidateConfigKey checks one key of a ConfigMap or a Secret, in
// Kubernetes' words (IsConfigMapKey).
func ValidateConfigKey(errs *FieldErrors, path, key string) {
	switch {
	case len(key) > maxConfigKeyLength:
		errs.addf(path, "Invalid value: %q: must be no more than %d characters", key, maxConfigKeyLength)
	case !configKeyPattern.MatchString(key):
		errs.addf(path, "Invalid value: %q: a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name', or 'KEY_NAME', or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')", key)
	case key == ".":
		errs.addf(path, "Invalid value: %q: must not be '.'", key)
	case key == "..":
		errs.addf(path, "Invalid value: %q: must not be '..'", key)
	case len(key) >= 2 && key[:2] == "..":
		errs.addf(path, "Invalid value: %q: must not start with '..'", key)
	}
}

// validateConfigMap checks keys (valid, not in both data and binaryData)
// and the total size (at most 1 MiB), as Kubernetes does.
func validateConfigMap(errs *FieldErrors, cm ConfigMapSpec) {
	size := 0
	for _, k := range sortedKeys(cm.Data) {
		ValidateConfigKey(errs, "data["+k+"]", k)
		size += len(k) + len(cm.Data[k])
	}
	for _, k := range sortedKeys(cm.BinaryData) {
		ValidateConfigKey(errs, "binaryData["+k+"]", k)
		if _, dup := cm.Data[k]; dup {
			errs.addf("binaryData["+k+"]", "Invalid value: %q: duplicate of key present in data", k)
		}
		size += len(k) + len(cm.BinaryData[k])
	}
	if size > MaxConfigSize {
		errs.addf("data", "Too long: must have at most %d bytes (data and binaryData hold %d)", MaxConfigSize, size)
	}
}

// IsImmutable reports a ConfigMap or Secret marked immutable.
func (o Object) IsImmutable() bool {
	if cm := o.ConfigMap(); cm != nil {
		return cm.Immutable != nil && *cm.Immutable
	}
	if s := o.Secret(); s != nil {
		return s.Immutable != nil && *s.Immutable
	}
	return false
}
