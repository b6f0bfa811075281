package manifest

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// Protocols a container port may use.
const (
	ProtocolTCP  = "TCP"
	ProtocolUDP  = "UDP"
	ProtocolSCTP = "SCTP"
)

// Resource names Gantry schedules on.
const (
	ResourceCPU    = "cpu"
	ResourceMemory = "memory"
)

// Validate checks an Object's values with Kubernetes' rules (and Gantry's
// stricter names), by its kind's rules (KindInfo). Empty fields that
// Defaults fills are accepted. It returns nil when the object is valid.
func Validate(o Object) FieldErrors {
	var errs FieldErrors
	k := o.Info()
	if k == nil {
		return FieldErrors{*unsupportedKind(o.APIVersion, o.Kind)}
	}
	scope := ""
	if k.ClusterScoped {
		scope = k.Kind
	}
	validateObjectMeta(&errs, "metadata", o.Metadata, scope)
	switch {
	case o.Spec == nil || reflect.ValueOf(o.Spec).IsNil():
		if !k.SpecOptional {
			errs.add("spec", "required")
		}
	case reflect.TypeOf(o.Spec) != reflect.PointerTo(k.spec):
		errs.addf("spec", "is a %s, not the spec of a %s", reflect.TypeOf(o.Spec).Elem().Name(), o.Kind)
	default:
		k.validate(&errs, o)
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// Defaults fills what Kubernetes would: the namespace of a namespaced
// kind, then the kind's own defaults (one replica, restart policy Always,
// protocol TCP, …). Specs, slices and maps are copied before they change,
// so other holders of the same object see no difference.
func (o *Object) Defaults() {
	k := o.Info()
	if o.Metadata.Namespace == "" && (k == nil || !k.ClusterScoped) {
		o.Metadata.Namespace = DefaultNamespace
	}
	if k == nil || o.Spec == nil || reflect.ValueOf(o.Spec).IsNil() || reflect.TypeOf(o.Spec) != reflect.PointerTo(k.spec) {
		return
	}
	if k.defaults != nil {
		k.defaults(o)
	}
}

// specType is the reflect type of a kind's spec, for its KindInfo.
func specType[T any]() reflect.Type { return reflect.TypeFor[T]() }

func (s PodSpec) withDefaults() PodSpec {
	if s.RestartPolicy == "" {
		s.RestartPolicy = RestartAlways
	}
	copied := false
	for i := range s.Containers {
		portsCopied := false
		for j := range s.Containers[i].Ports {
			if s.Containers[i].Ports[j].Protocol != "" {
				continue
			}
			if !copied {
				s.Containers, copied = slices.Clone(s.Containers), true
			}
			if !portsCopied {
				s.Containers[i].Ports, portsCopied = slices.Clone(s.Containers[i].Ports), true
			}
			s.Containers[i].Ports[j].Protocol = ProtocolTCP
		}
		c := s.Containers[i]
		if c.withProbeDefaults() {
			if !copied {
				s.Containers, copied = slices.Clone(s.Containers), true
			}
			s.Containers[i] = c
		}
	}
	tscCopied := false
	for i := range s.TopologySpreadConstraints {
		if s.TopologySpreadConstraints[i].WhenUnsatisfiable != "" {
			continue
		}
		if !tscCopied {
			s.TopologySpreadConstraints, tscCopied = slices.Clone(s.TopologySpreadConstraints), true
		}
		s.TopologySpreadConstraints[i].WhenUnsatisfiable = DoNotSchedule
	}
	return s.withInitDefaults()
}

func validateObjectMeta(errs *FieldErrors, path string, m ObjectMeta, clusterScoped string) {
	if e := ValidateName(fieldPath(path, "name"), m.Name); e != nil {
		*errs = append(*errs, *e)
	}
	switch {
	case clusterScoped != "" && m.Namespace != "":
		errs.addf(fieldPath(path, "namespace"), "must be empty, got %q: a %s is cluster-scoped", m.Namespace, clusterScoped)
	case m.Namespace != "":
		if e := ValidateName(fieldPath(path, "namespace"), m.Namespace); e != nil {
			*errs = append(*errs, *e)
		}
	}
	validateLabels(errs, fieldPath(path, "labels"), m.Labels)
	validateAnnotations(errs, fieldPath(path, "annotations"), m.Annotations)
}

func validateLabels(errs *FieldErrors, path string, labels map[string]string) {
	for _, k := range sortedKeys(labels) {
		if msg := LabelKeyProblem(k); msg != "" {
			errs.add(path, msg)
			continue
		}
		if msg := LabelValueProblem(labels[k]); msg != "" {
			errs.add(fieldPath(path, k), msg)
		}
	}
}

func validateAnnotations(errs *FieldErrors, path string, annotations map[string]string) {
	size := 0
	for _, k := range sortedKeys(annotations) {
		size += len(k) + len(annotations[k])
		if msg := LabelKeyProblem(k); msg != "" {
			errs.add(path, msg)
		}
	}
	if size > maxAnnotationBytes {
		errs.addf(path, "must be no more than %d bytes in total, got %d", maxAnnotationBytes, size)
	}
}

func validateDeploymentSpec(errs *FieldErrors, path string, d DeploymentSpec) {
	if d.Replicas != nil && *d.Replicas < 0 {
		errs.add(fieldPath(path, "replicas"), "must be >= 0")
	}
	nonNegative32(errs, fieldPath(path, "revisionHistoryLimit"), d.RevisionHistoryLimit)
	tmpl := fieldPath(path, "template")
	tmplMeta := fieldPath(tmpl, "metadata")
	sel := fieldPath(path, "selector")
	switch {
	case d.Selector == nil:
		errs.add(sel, "required")
	case len(d.Selector.MatchLabels) == 0:
		errs.add(fieldPath(sel, "matchLabels"), "required: a Deployment must select its pods by at least one label")
	default:
		validateLabelSelector(errs, sel, *d.Selector)
		if !d.Selector.Matches(d.Template.Metadata.Labels) {
			errs.add(sel, "does not match template labels")
		}
	}
	validateLabels(errs, fieldPath(tmplMeta, "labels"), d.Template.Metadata.Labels)
	validateAnnotations(errs, fieldPath(tmplMeta, "annotations"), d.Template.Metadata.Annotations)
	spec := fieldPath(tmpl, "spec")
	validatePodSpec(errs, spec, d.Template.Spec)
	if rp := d.Template.Spec.RestartPolicy; rp != "" && rp != RestartAlways && validRestartPolicy(rp) {
		errs.addf(fieldPath(spec, "restartPolicy"), "unsupported value %q: a Deployment's pods must restart Always", rp)
	}
}

func validRestartPolicy(p string) bool {
	return p == RestartAlways || p == RestartOnFailure || p == RestartNever
}

func validatePodSpec(errs *FieldErrors, path string, s PodSpec) {
	cpath := fieldPath(path, "containers")
	if len(s.Containers) == 0 {
		errs.add(cpath, "required: at least one container")
	}
	names := map[string]int{}
	ports := map[string]string{}     // "80/TCP" → path of the first
	hostPorts := map[string]string{} // host port "8080/TCP" → path of the first
	validateGracePeriod(errs, path, s)
	validatePodDNSNames(errs, path, s)
	grace := s.GracePeriodSeconds()
	if grace < 0 || grace > MaxGracePeriod {
		grace = -1 // reported above; a hook's sleep is not judged by it
	}
	for i, c := range s.Containers {
		p := indexPath(cpath, i)
		validateContainer(errs, p, c)
		validateProbes(errs, p, c, grace)
		if c.Name != "" {
			if first, dup := names[c.Name]; dup {
				errs.addf(fieldPath(p, "name"), "duplicate name %q (also %s)", c.Name, indexPath(cpath, first))
			} else {
				names[c.Name] = i
			}
		}
		for j, port := range c.Ports {
			proto := port.Protocol
			if proto == "" {
				proto = ProtocolTCP
			}
			if !validProtocol(proto) {
				continue // already reported
			}
			pp := indexPath(fieldPath(p, "ports"), j)
			if port.HostPort > 0 && port.HostPort <= 65535 {
				key := hostPortKey(port)
				if first, dup := hostPorts[key]; dup {
					errs.addf(fieldPath(pp, "hostPort"), "duplicate host port %s (also %s)", key, first)
				} else {
					hostPorts[key] = pp
				}
			}
			if port.ContainerPort < 1 || port.ContainerPort > 65535 {
				continue // already reported
			}
			key := fmt.Sprintf("%d/%s", port.ContainerPort, proto)
			if first, dup := ports[key]; dup {
				errs.addf(fieldPath(pp, "containerPort"), "duplicate port %s (also %s)", key, first)
			} else {
				ports[key] = pp
			}
		}
	}
	if s.RestartPolicy != "" && !validRestartPolicy(s.RestartPolicy) {
		errs.addf(fieldPath(path, "restartPolicy"), "unsupported value %q: must be one of %s, %s, %s",
			s.RestartPolicy, RestartAlways, RestartOnFailure, RestartNever)
	}
	validateInitContainers(errs, path, s)
	validateScheduling(errs, path, s)
	validateVolumes(errs, path, s)
}

func validProtocol(p string) bool {
	return p == ProtocolTCP || p == ProtocolUDP || p == ProtocolSCTP
}

func validateContainer(errs *FieldErrors, path string, c Container) {
	npath := fieldPath(path, "name")
	if msg := labelNameProblem(c.Name); msg != "" {
		errs.add(npath, msg)
	}
	if msg := imageProblem(c.Image); msg != "" {
		errs.add(fieldPath(path, "image"), msg)
	}
	for i, e := range c.Env {
		if msg := envNameProblem(e.Name); msg != "" {
			errs.add(fieldPath(indexPath(fieldPath(path, "env"), i), "name"), msg)
		}
	}
	portNames := map[string]string{}
	for i, p := range c.Ports {
		pp := indexPath(fieldPath(path, "ports"), i)
		if p.Name != "" {
			if msg := portNameProblem(p.Name); msg != "" {
				errs.add(fieldPath(pp, "name"), msg)
			} else if first, dup := portNames[p.Name]; dup {
				errs.addf(fieldPath(pp, "name"), "duplicate name %q (also %s)", p.Name, first)
			} else {
				portNames[p.Name] = pp
			}
		}
		if p.ContainerPort < 1 || p.ContainerPort > 65535 {
			errs.addf(fieldPath(pp, "containerPort"), "must be between 1 and 65535, got %d", p.ContainerPort)
		}
		if p.HostPort < 0 || p.HostPort > 65535 {
			errs.addf(fieldPath(pp, "hostPort"), "must be between 0 and 65535, got %d", p.HostPort)
		}
		if p.Protocol != "" && !validProtocol(p.Protocol) {
			errs.addf(fieldPath(pp, "protocol"), "unsupported value %q: must be one of %s, %s, %s",
				p.Protocol, ProtocolTCP, ProtocolUDP, ProtocolSCTP)
		}
	}
	validateResources(errs, fieldPath(path, "resources"), c.Resources)
}

func validateResources(errs *FieldErrors, path string, r ResourceRequirements) {
	rpath, lpath := fieldPath(path, "requests"), fieldPath(path, "limits")
	bad := map[string]bool{} // names with a problem already reported
	check := func(list ResourceList, path string) {
		for _, name := range sortedKeys(list) {
			p := fieldPath(path, name)
			if msg := resourceNameProblem(name); msg != "" {
				errs.add(p, msg)
				bad[name] = true
				continue
			}
			switch q := list[name]; {
			case q.MilliValue() < 0:
				errs.addf(p, "must be >= 0, got %s", q)
				bad[name] = true
			case IsExtendedResource(name) && q.MilliValue()%1000 != 0:
				errs.addf(p, "must be a whole number for an extended resource, got %s", q)
				bad[name] = true
			}
		}
	}
	check(r.Requests, rpath)
	check(r.Limits, lpath)
	for _, name := range []string{ResourceCPU, ResourceMemory} {
		req, hasReq := r.Requests[name]
		lim, hasLim := r.Limits[name]
		if hasReq && hasLim && lim.MilliValue() >= 0 && req.MilliValue() > lim.MilliValue() {
			errs.addf(fieldPath(rpath, name), "must be less than or equal to the %s limit (%s > %s)", name, req, lim)
		}
	}
	// Extended resources cannot be overcommitted: the request, if any,
	// equals the limit, and a limit alone is the request (Kubernetes' rule).
	for _, name := range sortedKeys(r.Requests) {
		if bad[name] || !IsExtendedResource(name) {
			continue
		}
		req := r.Requests[name]
		lim, hasLim := r.Limits[name]
		switch {
		case !hasLim:
			errs.addf(fieldPath(lpath, name), "required: an extended resource cannot be overcommitted, so its request (%s) needs an equal limit", req)
		case req.MilliValue() != lim.MilliValue():
			errs.addf(fieldPath(rpath, name), "must equal the %s limit (%s != %s): an extended resource cannot be overcommitted", name, req, lim)
		}
	}
}

// IsExtendedResource reports a resource name with a domain prefix, outside
// the kubernetes.io domain: "example.com/gpu". It does not check syntax;
// Validate does.
func IsExtendedResource(name string) bool {
	prefix, _, ok := strings.Cut(name, "/")
	return ok && !reservedResourceDomain(prefix)
}

func reservedResourceDomain(prefix string) bool {
	return prefix == "kubernetes.io" || strings.HasSuffix(prefix, ".kubernetes.io")
}

// resourceNameProblem checks a container resource name: cpu, memory, or an
// extended resource, "<DNS subdomain>/<name>".
func resourceNameProblem(name string) string {
	if name == ResourceCPU || name == ResourceMemory {
		return ""
	}
	prefix, _, ok := strings.Cut(name, "/")
	switch {
	case !ok:
		return fmt.Sprintf("unsupported resource %q: must be cpu, memory, or an extended resource with a domain prefix such as example.com/gpu", name)
	case reservedResourceDomain(prefix):
		return fmt.Sprintf("unsupported resource %q: the kubernetes.io domain is reserved; extended resources use a domain of their own, such as example.com/gpu", name)
	case strings.HasPrefix(name, "requests."):
		return fmt.Sprintf("invalid resource name %q: must not start with \"requests.\"", name)
	}
	if msg := LabelKeyProblem(name); msg != "" {
		return strings.Replace(msg, "invalid key", "invalid resource name", 1)
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// validatePodDNSNames checks hostname and subdomain: DNS labels, as the pod
// is <hostname>.<subdomain>.<namespace>.svc in the cluster's DNS.
func validatePodDNSNames(errs *FieldErrors, path string, s PodSpec) {
	if s.Hostname != "" {
		if msg := labelNameProblem(s.Hostname); msg != "" {
			errs.add(fieldPath(path, "hostname"), msg)
		}
	}
	if s.Subdomain != "" {
		if msg := labelNameProblem(s.Subdomain); msg != "" {
			errs.add(fieldPath(path, "subdomain"), msg)
		}
	}
}
