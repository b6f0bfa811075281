package manifest

import (
	"fmt"
	"slices"
	"sort"
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
// stricter names). Empty fields that Defaults fills are accepted. It returns
// nil when the object is valid.
func Validate(o Object) FieldErrors {
	var errs FieldErrors
	validateObjectMeta(&errs, "metadata", o.Metadata)
	switch {
	case o.APIVersion == APIAppsV1 && o.Kind == KindDeployment:
		if o.Deployment == nil {
			errs.add("spec", "required")
			break
		}
		validateDeploymentSpec(&errs, "spec", *o.Deployment)
	case o.APIVersion == APICoreV1 && o.Kind == KindPod:
		if o.Pod == nil {
			errs.add("spec", "required")
			break
		}
		validatePodSpec(&errs, "spec", *o.Pod)
	default:
		errs = append(errs, *unsupportedKind(o.APIVersion, o.Kind))
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// Defaults fills what Kubernetes would: the namespace, one replica, restart
// policy Always and protocol TCP. Slices are copied before they change, so
// other holders of the same spec see no difference.
func (o *Object) Defaults() {
	if o.Metadata.Namespace == "" {
		o.Metadata.Namespace = DefaultNamespace
	}
	if d := o.Deployment; d != nil {
		spec := *d
		if spec.Replicas == nil {
			one := int32(1)
			spec.Replicas = &one
		}
		spec.Template.Spec = spec.Template.Spec.withDefaults()
		o.Deployment = &spec
	}
	if p := o.Pod; p != nil {
		spec := p.withDefaults()
		o.Pod = &spec
	}
}

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
	}
	return s
}

func validateObjectMeta(errs *FieldErrors, path string, m ObjectMeta) {
	if e := ValidateName(fieldPath(path, "name"), m.Name); e != nil {
		*errs = append(*errs, *e)
	}
	if m.Namespace != "" {
		if e := ValidateName(fieldPath(path, "namespace"), m.Namespace); e != nil {
			*errs = append(*errs, *e)
		}
	}
	validateLabels(errs, fieldPath(path, "labels"), m.Labels)
	validateAnnotations(errs, fieldPath(path, "annotations"), m.Annotations)
}

func validateLabels(errs *FieldErrors, path string, labels map[string]string) {
	for _, k := range sortedKeys(labels) {
		if msg := labelKeyProblem(k); msg != "" {
			errs.add(path, msg)
			continue
		}
		if msg := labelValueProblem(labels[k]); msg != "" {
			errs.add(fieldPath(path, k), msg)
		}
	}
}

func validateAnnotations(errs *FieldErrors, path string, annotations map[string]string) {
	size := 0
	for _, k := range sortedKeys(annotations) {
		size += len(k) + len(annotations[k])
		if msg := labelKeyProblem(k); msg != "" {
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
	tmpl := fieldPath(path, "template")
	tmplMeta := fieldPath(tmpl, "metadata")
	sel := fieldPath(path, "selector")
	switch {
	case d.Selector == nil:
		errs.add(sel, "required")
	case len(d.Selector.MatchLabels) == 0:
		errs.add(fieldPath(sel, "matchLabels"), "required: a Deployment must select its pods by at least one label")
	default:
		validateLabels(errs, fieldPath(sel, "matchLabels"), d.Selector.MatchLabels)
		for _, k := range sortedKeys(d.Selector.MatchLabels) {
			if v, ok := d.Template.Metadata.Labels[k]; !ok || v != d.Selector.MatchLabels[k] {
				errs.add(sel, "does not match template labels")
				break
			}
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
	ports := map[string]string{} // "80/TCP" → path of the first
	for i, c := range s.Containers {
		p := indexPath(cpath, i)
		validateContainer(errs, p, c)
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
			if port.ContainerPort < 1 || port.ContainerPort > 65535 || !validProtocol(proto) {
				continue // already reported
			}
			pp := indexPath(fieldPath(p, "ports"), j)
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
		if p.Protocol != "" && !validProtocol(p.Protocol) {
			errs.addf(fieldPath(pp, "protocol"), "unsupported value %q: must be one of %s, %s, %s",
				p.Protocol, ProtocolTCP, ProtocolUDP, ProtocolSCTP)
		}
	}
	validateResources(errs, fieldPath(path, "resources"), c.Resources)
}

func validateResources(errs *FieldErrors, path string, r ResourceRequirements) {
	check := func(list ResourceList, path string) {
		for _, name := range sortedKeys(list) {
			p := fieldPath(path, name)
			if name != ResourceCPU && name != ResourceMemory {
				errs.add(p, "not supported yet")
				continue
			}
			if list[name].MilliValue() < 0 {
				errs.addf(p, "must be >= 0, got %s", list[name])
			}
		}
	}
	check(r.Requests, fieldPath(path, "requests"))
	check(r.Limits, fieldPath(path, "limits"))
	for _, name := range []string{ResourceCPU, ResourceMemory} {
		req, hasReq := r.Requests[name]
		lim, hasLim := r.Limits[name]
		if hasReq && hasLim && lim.MilliValue() >= 0 && req.MilliValue() > lim.MilliValue() {
			errs.addf(fieldPath(fieldPath(path, "requests"), name), "must be less than or equal to the %s limit (%s > %s)", name, req, lim)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
