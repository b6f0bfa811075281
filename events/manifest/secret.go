package manifest

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Secret is the object's content if it is a Secret, or nil.
func (o Object) Secret() *SecretSpec { s, _ := o.Spec.(*SecretSpec); return s }

// Secret types Kubernetes knows, and the keys each requires.
const (
	SecretTypeOpaque              = "Opaque"
	SecretTypeServiceAccountToken = "kubernetes.io/service-account-token"
	SecretTypeDockercfg           = "kubernetes.io/dockercfg"
	SecretTypeDockerConfigJSON    = "kubernetes.io/dockerconfigjson"
	SecretTypeBasicAuth           = "kubernetes.io/basic-auth"
	SecretTypeSSHAuth             = "kubernetes.io/ssh-auth"
	SecretTypeTLS                 = "kubernetes.io/tls"

	SecretKeyDockercfg        = ".dockercfg"
	SecretKeyDockerConfigJSON = ".dockerconfigjson"
	SecretKeyUsername         = "username"
	SecretKeyPassword         = "password"
	SecretKeySSHPrivateKey    = "ssh-privatekey"
	SecretKeyTLSCert          = "tls.crt"
	SecretKeyTLSKey           = "tls.key"
	// AnnotationServiceAccountName names the service account a token
	// Secret is for; Kubernetes requires it on such a Secret.
	AnnotationServiceAccountName = "kubernetes.io/service-account.name"
)

// secretKind is v1 Secret: data the log keeps sealed (SecretSpec).
var secretKind = KindInfo{
	APIVersion: APICoreV1, Kind: KindSecret, Token: "secret", Plural: "secrets",
	Flat: true, SpecOptional: true,
	spec:     specType[SecretSpec](),
	validate: func(errs *FieldErrors, o Object) { validateSecret(errs, o.Metadata, *o.Secret()) },
	defaults: func(o *Object) {
		if s := o.Secret(); s != nil && s.Type == "" {
			c := *s
			c.Type = SecretTypeOpaque
			o.Spec = &c
		}
	},
	Columns: []Column{
		{Header: "TYPE", Cell: func(o Object, _ WorkloadStatus, _ time.Time) string { return o.Secret().Type }},
		{Header: "DATA", Cell: func(o Object, _ WorkloadStatus, _ time.Time) string {
			return strconv.Itoa(len(o.Secret().KeySizes()))
		}},
	},
	// kubectl's shape: the type, then each key with its size, never a value.
	Describe: func(o Object, _ WorkloadStatus) []Field {
		s := o.Secret()
		fs := []Field{{"Type", s.Type}}
		if s.Immutable != nil && *s.Immutable {
			fs = append(fs, Field{"Immutable", "true"})
		}
		sizes := s.KeySizes()
		fs = append(fs, Field{"Data", strconv.Itoa(len(sizes))})
		for _, k := range sortedKeys(sizes) {
			fs = append(fs, Field{"  " + k, fmt.Sprintf("%d bytes", sizes[k])})
		}
		return fs
	},
}

// Merged is a Secret's data as Kubernetes stores it: data with stringData
// written over it (a key in both takes stringData's value).
func (s SecretSpec) Merged() map[string][]byte {
	out := make(map[string][]byte, len(s.Data)+len(s.StringData))
	for k, v := range s.Data {
		out[k] = v
	}
	for k, v := range s.StringData {
		out[k] = []byte(v)
	}
	return out
}

// KeySizes is each key's size: the sealed ones' when the Secret is sealed,
// else those of its data and stringData merged.
func (s SecretSpec) KeySizes() map[string]int {
	if s.Sealed != nil {
		return s.Sealed.Keys
	}
	out := map[string]int{}
	for k, v := range s.Merged() {
		out[k] = len(v)
	}
	return out
}

// validateSecret checks what can be checked without opening the Secret:
// its keys, their total size, the keys its type requires; and, for a
// manifest still in the clear (data, stringData), their content too.
func validateSecret(errs *FieldErrors, meta ObjectMeta, s SecretSpec) {
	for _, k := range sortedKeys(s.Data) {
		ValidateConfigKey(errs, "data["+k+"]", k)
	}
	for _, k := range sortedKeys(s.StringData) {
		ValidateConfigKey(errs, "stringData["+k+"]", k)
	}
	// Sizes and required keys are the data's, as the user wrote it, even
	// once the CLI sealed it.
	field := "data"
	if s.Sealed != nil {
		for _, k := range sortedKeys(s.Sealed.Keys) {
			ValidateConfigKey(errs, "sealed.keys["+k+"]", k)
			if s.Sealed.Keys[k] < 0 {
				errs.addf("sealed.keys["+k+"]", "Invalid value: %d: must be greater than or equal to 0", s.Sealed.Keys[k])
			}
		}
	}
	size := 0
	for k, n := range s.KeySizes() {
		size += len(k) + n
	}
	if size > MaxConfigSize {
		errs.addf(field, "Too long: must have at most %d bytes (the Secret's data holds %d)", MaxConfigSize, size)
	}
	if s.Type == SecretTypeServiceAccountToken && meta.Annotations[AnnotationServiceAccountName] == "" {
		errs.add("metadata.annotations["+AnnotationServiceAccountName+"]", "Required value")
	}
	sizes := s.KeySizes()
	for _, k := range requiredSecretKeys(s.Type, sizes) {
		errs.add(field+"["+k+"]", "Required value")
	}
	if s.Sealed == nil && (len(s.Data) > 0 || len(s.StringData) > 0) {
		validateSecretContent(errs, s.Type, s.Merged())
	}
}

// requiredSecretKeys are the keys a Secret of the type must have that
// have (by name) lacks.
func requiredSecretKeys(typ string, have map[string]int) []string {
	var need []string
	switch typ {
	case SecretTypeDockercfg:
		need = []string{SecretKeyDockercfg}
	case SecretTypeDockerConfigJSON:
		need = []string{SecretKeyDockerConfigJSON}
	case SecretTypeSSHAuth:
		need = []string{SecretKeySSHPrivateKey}
	case SecretTypeTLS:
		need = []string{SecretKeyTLSCert, SecretKeyTLSKey}
	case SecretTypeBasicAuth:
		_, u := have[SecretKeyUsername]
		_, p := have[SecretKeyPassword]
		if !u && !p {
			return []string{SecretKeyUsername} // Kubernetes: username or password
		}
	}
	var missing []string
	for _, k := range need {
		if _, ok := have[k]; !ok {
			missing = append(missing, k)
		}
	}
	return missing
}

// ValidateSecretData checks a Secret's values as its type requires
// (Kubernetes' ValidateSecret): the docker configs are JSON, with "auths"
// for kubernetes.io/dockerconfigjson. Admission runs it on the data it
// opened; the CLI before it seals.
func ValidateSecretData(typ string, data map[string][]byte) FieldErrors {
	var errs FieldErrors
	validateSecretContent(&errs, typ, data)
	for _, k := range requiredSecretKeys(typ, sizesOf(data)) {
		errs.add("data["+k+"]", "Required value")
	}
	size := 0
	for k, v := range data {
		size += len(k) + len(v)
	}
	if size > MaxConfigSize {
		errs.addf("data", "Too long: must have at most %d bytes (the Secret's data holds %d)", MaxConfigSize, size)
	}
	return errs
}

// validateSecretContent checks the values the type gives a shape.
func validateSecretContent(errs *FieldErrors, typ string, data map[string][]byte) {
	switch typ {
	case SecretTypeDockerConfigJSON:
		cfg, ok := dockerJSON(errs, data, SecretKeyDockerConfigJSON)
		var auths map[string]json.RawMessage
		if a, has := cfg["auths"]; ok && (!has || json.Unmarshal(a, &auths) != nil) {
			errs.add("data["+SecretKeyDockerConfigJSON+"]", `Invalid value: "<secret contents redacted>": must be a JSON object with an "auths" object`)
		}
	case SecretTypeDockercfg:
		dockerJSON(errs, data, SecretKeyDockercfg)
	}
}

// dockerJSON reads a docker config key as a JSON object; ok is false when
// the key is absent (reported as required elsewhere) or not JSON (reported
// here, without its content).
func dockerJSON(errs *FieldErrors, data map[string][]byte, key string) (cfg map[string]json.RawMessage, ok bool) {
	b, has := data[key]
	if !has {
		return nil, false
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		errs.addf("data["+key+"]", "Invalid value: \"<secret contents redacted>\": %v", err)
		return nil, false
	}
	return cfg, true
}

func sizesOf(data map[string][]byte) map[string]int {
	out := make(map[string]int, len(data))
	for k, v := range data {
		out[k] = len(v)
	}
	return out
}
