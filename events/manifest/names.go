package manifest

import (
	"fmt"
	"regexp"
	"strings"
)

// Limits and patterns, as Kubernetes defines them.
const (
	maxLabelLength     = 63  // DNS-1123 label, label name, label value
	maxSubdomainLength = 253 // DNS-1123 subdomain
	maxPortNameLength  = 15  // IANA service name
	maxImageNameLength = 255 // repository name, registry included
	maxAnnotationBytes = 256 << 10
)

var (
	dns1123Label     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	qualifiedName    = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
	labelValue       = regexp.MustCompile(`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`)
	envVarName       = regexp.MustCompile(`^[-._a-zA-Z][-._a-zA-Z0-9]*$`)
	portName         = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	hasLetter        = regexp.MustCompile(`[a-z]`)
)

// ValidateName checks an object name or namespace: a DNS-1123 label
// ("web-1"), and, stricter than Kubernetes, without dots, because Gantry
// puts names in NATS subjects where a dot separates tokens. field is the
// path to report ("metadata.name"). It returns nil when name is valid.
func ValidateName(field, name string) *FieldError {
	msg := nameProblem(name)
	if msg == "" {
		return nil
	}
	return &FieldError{Path: field, Message: msg}
}

func nameProblem(name string) string {
	if name != "" && strings.Contains(name, ".") {
		return fmt.Sprintf("invalid value %q: must not contain dots (a name is a NATS subject token)", name)
	}
	return labelNameProblem(name)
}

// labelNameProblem checks a DNS-1123 label, such as a container name.
func labelNameProblem(name string) string {
	switch {
	case name == "":
		return "required"
	case len(name) > maxLabelLength:
		return fmt.Sprintf("invalid value %q: must be no more than %d characters", name, maxLabelLength)
	case !dns1123Label.MatchString(name):
		return fmt.Sprintf("invalid value %q: must consist of lower-case letters, digits and '-', and start and end with a letter or digit (e.g. \"web-1\")", name)
	}
	return ""
}

// LabelKeyProblem checks a label or annotation key ("" when it is valid): an optional DNS-1123
// subdomain prefix and "/", then a name of letters, digits, '-', '_' and '.'
// starting and ending with a letter or digit.
func LabelKeyProblem(key string) string {
	prefix, name, hasPrefix := strings.Cut(key, "/")
	if !hasPrefix {
		name, prefix = prefix, ""
	}
	switch {
	case key == "":
		return "key must not be empty"
	case hasPrefix && prefix == "":
		return fmt.Sprintf("invalid key %q: prefix before '/' must not be empty", key)
	case hasPrefix && len(prefix) > maxSubdomainLength:
		return fmt.Sprintf("invalid key %q: prefix must be no more than %d characters", key, maxSubdomainLength)
	case hasPrefix && !dns1123Subdomain.MatchString(prefix):
		return fmt.Sprintf("invalid key %q: prefix must be a DNS subdomain: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit (e.g. \"example.com\")", key)
	case name == "":
		return fmt.Sprintf("invalid key %q: name part must not be empty", key)
	case len(name) > maxLabelLength:
		return fmt.Sprintf("invalid key %q: name part must be no more than %d characters", key, maxLabelLength)
	case !qualifiedName.MatchString(name):
		return fmt.Sprintf("invalid key %q: name part must consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit (e.g. \"app.kubernetes.io/name\")", key)
	}
	return ""
}

// LabelValueProblem checks a label value ("" when it is valid).
func LabelValueProblem(v string) string {
	switch {
	case len(v) > maxLabelLength:
		return fmt.Sprintf("invalid value %q: must be no more than %d characters", v, maxLabelLength)
	case !labelValue.MatchString(v):
		return fmt.Sprintf("invalid value %q: must be empty or consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit", v)
	}
	return ""
}

func envNameProblem(name string) string {
	switch {
	case name == "":
		return "required"
	case !envVarName.MatchString(name):
		return fmt.Sprintf("invalid value %q: must consist of letters, digits, '_', '-' or '.', and must not start with a digit", name)
	}
	return ""
}

// portNameProblem checks an IANA service name, as Kubernetes does for
// container port names.
func portNameProblem(name string) string {
	switch {
	case len(name) > maxPortNameLength:
		return fmt.Sprintf("invalid value %q: must be no more than %d characters", name, maxPortNameLength)
	case !portName.MatchString(name):
		return fmt.Sprintf("invalid value %q: must consist of lower-case letters, digits and '-', and start and end with a letter or digit", name)
	case strings.Contains(name, "--"):
		return fmt.Sprintf("invalid value %q: must not contain consecutive hyphens", name)
	case !hasLetter.MatchString(name):
		return fmt.Sprintf("invalid value %q: must contain at least one letter", name)
	}
	return ""
}

var (
	imageComponent = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$`)
	imageHost      = regexp.MustCompile(`^([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(\.([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*$`)
	imageIPv6      = regexp.MustCompile(`^\[[a-fA-F0-9:]+\]$`)
	imagePort      = regexp.MustCompile(`^[0-9]+$`)
	imageTag       = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	imageDigest    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$`)
)

// imageProblem checks an image reference the way container registries read
// it: [registry[:port]/]repository[:tag][@digest], the repository in
// lower case.
func imageProblem(ref string) string {
	if ref == "" {
		return "required"
	}
	if strings.IndexFunc(ref, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return fmt.Sprintf("invalid reference %q: must not contain spaces or control characters", ref)
	}
	name := ref
	if at := strings.LastIndex(name, "@"); at >= 0 {
		if !imageDigest.MatchString(name[at+1:]) {
			return fmt.Sprintf("invalid reference %q: digest %q must look like sha256:<64 hex digits>", ref, name[at+1:])
		}
		name = name[:at]
	}
	if colon := strings.LastIndex(name, ":"); colon > strings.LastIndex(name, "/") {
		if tag := name[colon+1:]; !imageTag.MatchString(tag) {
			return fmt.Sprintf("invalid reference %q: tag %q must be up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'", ref, tag)
		}
		name = name[:colon]
	}
	if len(name) > maxImageNameLength {
		return fmt.Sprintf("invalid reference %q: name must be no more than %d characters", ref, maxImageNameLength)
	}
	parts := strings.Split(name, "/")
	if len(parts) > 1 && (strings.ContainsAny(parts[0], ".:") || parts[0] == "localhost") {
		host, port, hasPort := strings.Cut(parts[0], ":")
		if strings.HasPrefix(parts[0], "[") { // [::1]:5000
			end := strings.Index(parts[0], "]")
			host, port, hasPort = parts[0][:end+1], "", false
			if rest := parts[0][end+1:]; rest != "" {
				port, hasPort = strings.TrimPrefix(rest, ":"), true
				if !strings.HasPrefix(rest, ":") {
					return fmt.Sprintf("invalid reference %q: bad registry %q", ref, parts[0])
				}
			}
		}
		if !(imageHost.MatchString(host) || imageIPv6.MatchString(host)) || (hasPort && !imagePort.MatchString(port)) {
			return fmt.Sprintf("invalid reference %q: bad registry %q", ref, parts[0])
		}
		parts = parts[1:]
	}
	for _, p := range parts {
		if p != strings.ToLower(p) {
			return fmt.Sprintf("invalid reference %q: repository must be lower-case", ref)
		}
		if !imageComponent.MatchString(p) {
			return fmt.Sprintf("invalid reference %q: repository component %q must be lower-case letters and digits, separated by '.', '_', '__' or '-'", ref, p)
		}
	}
	return ""
}
