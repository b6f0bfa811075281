package manifest

import (
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// Bounds on probe, hook and grace-period values. Kubernetes has none above;
// these keep a typo (a period in milliseconds) from parking a check or a
// deletion for days, and are far above any real setting.
const (
	MaxProbeSeconds      = 3600  // periodSeconds, timeoutSeconds
	MaxProbeDelaySeconds = 86400 // initialDelaySeconds
	MaxProbeThreshold    = 10000 // successThreshold, failureThreshold
	MaxGracePeriod       = 86400 // terminationGracePeriodSeconds (pod and probe), 24 h
)

// Kinds of probe: what each may carry differs.
const (
	livenessProbe  = "livenessProbe"
	readinessProbe = "readinessProbe"
	startupProbe   = "startupProbe"
)

// Schemes an httpGet may use.
const (
	URISchemeHTTP  = "HTTP"
	URISchemeHTTPS = "HTTPS"
)

// DefaultProbePath is an httpGet's path when it names none.
const DefaultProbePath = "/"

// httpHeaderName is Kubernetes' rule for a probe's header name.
var httpHeaderName = regexp.MustCompile(`^[-A-Za-z0-9]+$`)

// validateGracePeriod checks the pod's terminationGracePeriodSeconds.
func validateGracePeriod(errs *FieldErrors, path string, s PodSpec) {
	if g := s.TerminationGracePeriodSeconds; g != nil && (*g < 0 || *g > MaxGracePeriod) {
		errs.addf(fieldPath(path, "terminationGracePeriodSeconds"), "must be between 0 and %d (24 h), got %d", MaxGracePeriod, *g)
	}
}

// validateProbes checks a container's probes and lifecycle hooks. grace is
// the pod's grace period, which bounds a hook's sleep; -1 when it is itself
// invalid (and reported).
func validateProbes(errs *FieldErrors, path string, c Container, grace int64) {
	for _, p := range []struct {
		name  string
		probe *Probe
	}{{livenessProbe, c.LivenessProbe}, {readinessProbe, c.ReadinessProbe}, {startupProbe, c.StartupProbe}} {
		if p.probe != nil {
			validateProbe(errs, fieldPath(path, p.name), p.name, *p.probe, c)
		}
	}
	if c.Lifecycle != nil {
		lpath := fieldPath(path, "lifecycle")
		if h := c.Lifecycle.PostStart; h != nil {
			validateHook(errs, fieldPath(lpath, "postStart"), *h, c, grace)
		}
		if h := c.Lifecycle.PreStop; h != nil {
			validateHook(errs, fieldPath(lpath, "preStop"), *h, c, grace)
		}
	}
}

// validateProbe checks one probe with Kubernetes' rules: one handler; the
// timing fields positive once defaulted (0 is the default), within bounds;
// liveness and startup probes succeed once (successThreshold 1) and alone
// may shorten the grace period of the kill they cause.
func validateProbe(errs *FieldErrors, path, kind string, p Probe, c Container) {
	handlers := oneHandler{errs: errs, path: path}
	one := handlers.take
	if one(p.Exec != nil, "exec") {
		validateExec(errs, fieldPath(path, "exec"), *p.Exec)
	}
	if one(p.HTTPGet != nil, "httpGet") {
		validateHTTPGet(errs, fieldPath(path, "httpGet"), *p.HTTPGet, c, true)
	}
	if one(p.TCPSocket != nil, "tcpSocket") {
		tpath := fieldPath(path, "tcpSocket")
		validateProbePort(errs, fieldPath(tpath, "port"), p.TCPSocket.Port, c)
		validateProbeHost(errs, fieldPath(tpath, "host"), p.TCPSocket.Host)
	}
	if one(p.GRPC != nil, "grpc") {
		if port := p.GRPC.Port; port < 1 || port > 65535 {
			errs.addf(fieldPath(fieldPath(path, "grpc"), "port"), "must be between 1 and 65535, got %d", port)
		}
		// service is any string: the name the health server is asked about
	}
	if handlers.n == 0 {
		errs.add(path, "required: must specify a handler type (exec, httpGet, tcpSocket or grpc)")
	}

	if d := p.InitialDelaySeconds; d < 0 || d > MaxProbeDelaySeconds {
		errs.addf(fieldPath(path, "initialDelaySeconds"), "must be between 0 and %d, got %d", MaxProbeDelaySeconds, d)
	}
	for _, f := range []struct {
		name     string
		val, max int32
	}{
		{"timeoutSeconds", p.TimeoutSeconds, MaxProbeSeconds},
		{"periodSeconds", p.PeriodSeconds, MaxProbeSeconds},
		{"successThreshold", p.SuccessThreshold, MaxProbeThreshold},
		{"failureThreshold", p.FailureThreshold, MaxProbeThreshold},
	} {
		// 0 is unset: Defaults makes it Kubernetes' default.
		switch {
		case f.val < 0:
			errs.addf(fieldPath(path, f.name), "must be >= 1, got %d", f.val)
		case f.val > f.max:
			errs.addf(fieldPath(path, f.name), "must be <= %d, got %d", f.max, f.val)
		}
	}
	if kind != readinessProbe && p.SuccessThreshold > 1 {
		errs.addf(fieldPath(path, "successThreshold"), "must be 1 for a %s, got %d", kind, p.SuccessThreshold)
	}
	if g := p.TerminationGracePeriodSeconds; g != nil {
		gpath := fieldPath(path, "terminationGracePeriodSeconds")
		switch {
		case kind == readinessProbe:
			errs.add(gpath, "must not be set for readinessProbes")
		case *g < 1 || *g > MaxGracePeriod:
			errs.addf(gpath, "must be between 1 and %d (24 h), got %d", MaxGracePeriod, *g)
		}
	}
}

// validateHook checks a postStart or preStop hook: one handler of exec,
// httpGet (without a CEL check: a hook's response is not judged) and
// sleep, which must end within the pod's grace period.
func validateHook(errs *FieldErrors, path string, h LifecycleHandler, c Container, grace int64) {
	handlers := oneHandler{errs: errs, path: path}
	one := handlers.take
	if one(h.Exec != nil, "exec") {
		validateExec(errs, fieldPath(path, "exec"), *h.Exec)
	}
	if one(h.HTTPGet != nil, "httpGet") {
		validateHTTPGet(errs, fieldPath(path, "httpGet"), *h.HTTPGet, c, false)
	}
	if one(h.Sleep != nil, "sleep") {
		spath := fieldPath(fieldPath(path, "sleep"), "seconds")
		switch s := h.Sleep.Seconds; {
		case s < 1:
			errs.addf(spath, "must be >= 1, got %d", s)
		case grace >= 0 && s > grace:
			errs.addf(spath, "must be no more than the pod's terminationGracePeriodSeconds (%d), got %d", grace, s)
		}
	}
	if handlers.n == 0 {
		errs.add(path, "required: must specify a handler type (exec, httpGet or sleep)")
	}
}

// oneHandler counts the handlers of a probe or hook, refusing every one
// after the first, as Kubernetes does.
type oneHandler struct {
	errs *FieldErrors
	path string
	n    int
}

// take reports whether the handler name, if set, is the first and is to be
// checked.
func (h *oneHandler) take(set bool, name string) bool {
	if !set {
		return false
	}
	h.n++
	if h.n > 1 {
		h.errs.add(fieldPath(h.path, name), "may not specify more than 1 handler type")
		return false
	}
	return true
}

func validateExec(errs *FieldErrors, path string, e ExecAction) {
	if len(e.Command) == 0 {
		errs.add(fieldPath(path, "command"), "required")
	}
}

// validateHTTPGet checks an httpGet of a probe (probe true: it may carry a
// CEL check, which admission compiles) or of a hook.
func validateHTTPGet(errs *FieldErrors, path string, h HTTPGetAction, c Container, probe bool) {
	if h.Path != "" {
		ppath := fieldPath(path, "path")
		switch {
		case !strings.HasPrefix(h.Path, "/"):
			errs.addf(ppath, "invalid value %q: must start with \"/\"", h.Path)
		case strings.IndexFunc(h.Path, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
			errs.addf(ppath, "invalid value %q: must not contain spaces or control characters", h.Path)
		}
	}
	validateProbePort(errs, fieldPath(path, "port"), h.Port, c)
	validateProbeHost(errs, fieldPath(path, "host"), h.Host)
	if h.Scheme != "" && h.Scheme != URISchemeHTTP && h.Scheme != URISchemeHTTPS {
		errs.addf(fieldPath(path, "scheme"), "unsupported value %q: must be one of %s, %s", h.Scheme, URISchemeHTTP, URISchemeHTTPS)
	}
	for i, hd := range h.HTTPHeaders {
		hpath := indexPath(fieldPath(path, "httpHeaders"), i)
		switch {
		case hd.Name == "":
			errs.add(fieldPath(hpath, "name"), "required")
		case !httpHeaderName.MatchString(hd.Name):
			errs.addf(fieldPath(hpath, "name"), "invalid value %q: must consist of letters, digits and '-' (e.g. \"X-Header-Name\")", hd.Name)
		}
		if strings.IndexFunc(hd.Value, func(r rune) bool { return (r < ' ' && r != '\t') || r == 0x7f }) >= 0 {
			errs.addf(fieldPath(hpath, "value"), "invalid value %q: must not contain control characters", hd.Value)
		}
	}
	if h.CEL != "" && !probe {
		errs.add(fieldPath(path, "cel"), "not allowed on a lifecycle hook: only a probe's response is checked")
	}
}

// validateProbePort checks a port by number, or by name: a name must be
// one of the container's own ports, as the node agent looks it up there.
func validateProbePort(errs *FieldErrors, path string, port IntOrString, c Container) {
	if !port.IsString {
		if port.Int < 1 || port.Int > 65535 {
			errs.addf(path, "must be between 1 and 65535, got %d", port.Int)
		}
		return
	}
	if port.Str == "" {
		errs.add(path, "required")
		return
	}
	if msg := portNameProblem(port.Str); msg != "" {
		errs.add(path, msg)
		return
	}
	if _, ok := c.NamedPort(port.Str); ok {
		return
	}
	var names []string
	for _, p := range c.Ports {
		if p.Name != "" {
			names = append(names, p.Name)
		}
	}
	slices.Sort(names)
	if len(names) == 0 {
		errs.addf(path, "%q names no port of container %s (it has no named ports)", port.Str, c.Name)
	} else {
		errs.addf(path, "%q names no port of container %s (its named ports: %s)", port.Str, c.Name, strings.Join(names, ", "))
	}
}

// validateProbeHost checks a host to probe instead of the pod's IP: an IP
// address or a DNS name.
func validateProbeHost(errs *FieldErrors, path, host string) {
	if host == "" {
		return
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return
	}
	if len(host) > maxSubdomainLength || !dns1123Subdomain.MatchString(host) {
		errs.addf(path, "invalid value %q: must be an IP address or a DNS name (lower-case letters, digits, '-' and '.')", host)
	}
}

// NamedPort is the container's port called name.
func (c Container) NamedPort(name string) (int32, bool) {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort, true
		}
	}
	return 0, false
}

// Port resolves a probe's or hook's port against the container that
// declares it: a number as is, a name by the container's ports.
func (c Container) Port(port IntOrString) (int32, bool) {
	if !port.IsString {
		return port.Int, port.Int > 0
	}
	return c.NamedPort(port.Str)
}

// ProbeCheck is the CEL check of a probe's httpGet and the field path it
// was written at (spec.containers[0].readinessProbe.httpGet.cel).
type ProbeCheck struct {
	Path string
	Expr string
}

// ProbeChecks lists the CEL checks of the object's probes, in document
// order, for admission to compile (package probecheck).
func (o Object) ProbeChecks() []ProbeCheck {
	spec, path := o.PodSpec()
	if spec == nil {
		return nil
	}
	var out []ProbeCheck
	for i, c := range spec.Containers {
		for _, p := range []struct {
			name  string
			probe *Probe
		}{{livenessProbe, c.LivenessProbe}, {readinessProbe, c.ReadinessProbe}, {startupProbe, c.StartupProbe}} {
			if p.probe != nil && p.probe.HTTPGet != nil && p.probe.HTTPGet.CEL != "" {
				out = append(out, ProbeCheck{
					Path: fieldPath(indexPath(fieldPath(path, "containers"), i), p.name) + ".httpGet.cel",
					Expr: p.probe.HTTPGet.CEL,
				})
			}
		}
	}
	return out
}

// PodSpec is the pod spec of a bare Pod or of the pod template of a kind
// that stamps pods out, with its field path (spec, spec.template.spec);
// nil for other kinds.
func (o Object) PodSpec() (*PodSpec, string) {
	if s := o.Pod(); s != nil {
		return s, "spec"
	}
	if k := o.Info(); k != nil && k.Template != nil {
		if t := k.Template(o); t != nil {
			return &t.Spec, k.TemplatePath + ".spec"
		}
	}
	return nil, ""
}

// withProbeDefaults fills Kubernetes' defaults into a container's probes
// (timeouts, periods, thresholds; an httpGet's path and scheme) and hooks
// (an httpGet's path and scheme), on copies: c's probes may be shared. It
// reports whether anything changed.
func (c *Container) withProbeDefaults() bool {
	changed := false
	for _, p := range []**Probe{&c.LivenessProbe, &c.ReadinessProbe, &c.StartupProbe} {
		if *p == nil {
			continue
		}
		d := (*p).WithDefaults()
		if d.HTTPGet != nil {
			h := d.HTTPGet.withDefaults()
			d.HTTPGet = &h
		}
		if !probeEqual(d, **p) {
			*p, changed = &d, true
		}
	}
	if c.Lifecycle != nil {
		l := *c.Lifecycle
		lchanged := false
		for _, h := range []**LifecycleHandler{&l.PostStart, &l.PreStop} {
			if *h == nil || (*h).HTTPGet == nil {
				continue
			}
			if d := (*h).HTTPGet.withDefaults(); d.Path != (*h).HTTPGet.Path || d.Scheme != (*h).HTTPGet.Scheme {
				handler := **h
				handler.HTTPGet = &d
				*h, lchanged = &handler, true
			}
		}
		if lchanged {
			c.Lifecycle, changed = &l, true
		}
	}
	return changed
}

func (h HTTPGetAction) withDefaults() HTTPGetAction {
	if h.Path == "" {
		h.Path = DefaultProbePath
	}
	if h.Scheme == "" {
		h.Scheme = URISchemeHTTP
	}
	return h
}

// probeEqual compares the fields withProbeDefaults may change.
func probeEqual(a, b Probe) bool {
	if a.TimeoutSeconds != b.TimeoutSeconds || a.PeriodSeconds != b.PeriodSeconds ||
		a.SuccessThreshold != b.SuccessThreshold || a.FailureThreshold != b.FailureThreshold {
		return false
	}
	if a.HTTPGet == nil || b.HTTPGet == nil {
		return a.HTTPGet == b.HTTPGet
	}
	return a.HTTPGet.Path == b.HTTPGet.Path && a.HTTPGet.Scheme == b.HTTPGet.Scheme
}
