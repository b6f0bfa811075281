package manifest

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
)

// KindInfo describes one kind Gantry accepts: the apiVersion and kind a
// manifest carries, and the lower-case token that names the kind in
// subjects and read-model keys.
type KindInfo struct {
	APIVersion string // apps/v1
	Kind       string // Deployment
	Token      string // deployment
	spec       reflect.Type
}

// kinds is every kind Gantry accepts; decoding, admission and the README's
// table of supported fields read this list.
var kinds = []KindInfo{
	{APIVersion: APIAppsV1, Kind: KindDeployment, Token: "deployment", spec: reflect.TypeFor[DeploymentSpec]()},
	{APIVersion: APICoreV1, Kind: KindPod, Token: "pod", spec: reflect.TypeFor[PodSpec]()},
}

// Kinds returns the kinds Gantry accepts, in a stable order.
func Kinds() []KindInfo { return append([]KindInfo(nil), kinds...) }

// KindOfToken is the supported kind whose token is token ("deployment").
func KindOfToken(token string) (KindInfo, bool) {
	for _, k := range kinds {
		if k.Token == token {
			return k, true
		}
	}
	return KindInfo{}, false
}

// SupportedKinds lists the supported kinds as a person reads them:
// "apps/v1 Deployment, v1 Pod".
func SupportedKinds() string {
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = k.APIVersion + " " + k.Kind
	}
	return strings.Join(parts, ", ")
}

// maxKindLength bounds a kind's name: it becomes a subject token, and no
// Kubernetes kind comes near it.
const maxKindLength = 63

var (
	kindName   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)
	apiVersion = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
)

// KindToken checks that an apiVersion/kind pair is well formed (whether or
// not Gantry supports it) and returns the kind's token: the kind in lower
// case, a valid NATS subject token. Which kinds are supported is
// admission's to judge, so an unknown kind is refused in the log, with its
// actor, like any other invalid manifest.
func KindToken(apiVer, kind string) (string, *FieldError) {
	switch {
	case kind == "":
		return "", &FieldError{Path: "kind", Message: "required"}
	case len(kind) > maxKindLength:
		return "", &FieldError{Path: "kind", Message: fmt.Sprintf("invalid value %q: must be no more than %d characters", kind, maxKindLength)}
	case !kindName.MatchString(kind):
		return "", &FieldError{Path: "kind", Message: fmt.Sprintf("invalid value %q: must be a letter followed by letters and digits (e.g. \"Deployment\")", kind)}
	}
	if msg := apiVersionProblem(apiVer); msg != "" {
		return "", &FieldError{Path: "apiVersion", Message: msg}
	}
	return strings.ToLower(kind), nil
}

// apiVersionProblem checks "VERSION" or "GROUP/VERSION": a DNS-1123
// subdomain for the group, a lower-case label starting with a letter for
// the version (v1, v1beta1).
func apiVersionProblem(s string) string {
	if s == "" {
		return "required"
	}
	group, version, grouped := strings.Cut(s, "/")
	if !grouped {
		group, version = "", group
	}
	switch {
	case grouped && (group == "" || len(group) > maxSubdomainLength || !dns1123Subdomain.MatchString(group)):
		return fmt.Sprintf("invalid value %q: the group before '/' must be a DNS subdomain (e.g. \"apps/v1\")", s)
	case len(version) > maxLabelLength || !apiVersion.MatchString(version):
		return fmt.Sprintf("invalid value %q: must be VERSION or GROUP/VERSION (e.g. \"v1\", \"apps/v1\")", s)
	}
	return ""
}
