package manifest

import "slices"

// Init containers (spec.initContainers) run one after another, each to
// completion, before the containers start. Kubernetes' rules: a name is
// unique across initContainers and containers; an init container has no
// probes and no lifecycle hooks (it runs to completion, nothing waits for it
// to be ready); restartPolicy Always (a sidecar) is not supported yet and the
// decoder says so (Container's restartPolicy is in notSupported).

// validateInitContainers checks spec.initContainers against the rules above.
func validateInitContainers(errs *FieldErrors, path string, s PodSpec) {
	ipath := fieldPath(path, "initContainers")
	names := map[string]string{} // name → path of the first
	for i, c := range s.Containers {
		if _, dup := names[c.Name]; c.Name != "" && !dup {
			names[c.Name] = indexPath(fieldPath(path, "containers"), i)
		}
	}
	for i, c := range s.InitContainers {
		p := indexPath(ipath, i)
		validateContainer(errs, p, c)
		if c.Name != "" {
			if first, dup := names[c.Name]; dup {
				errs.addf(fieldPath(p, "name"), "duplicate name %q (also %s)", c.Name, first)
			} else {
				names[c.Name] = p
			}
		}
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"livenessProbe", c.LivenessProbe != nil},
			{"readinessProbe", c.ReadinessProbe != nil},
			{"startupProbe", c.StartupProbe != nil},
			{"lifecycle", c.Lifecycle != nil},
		} {
			if f.set {
				errs.add(fieldPath(p, f.name), "forbidden: may not be set for init containers")
			}
		}
	}
}

// withInitDefaults gives the init containers' ports their default protocol
// (TCP), as Kubernetes defaults them; s.InitContainers is copied before any
// change, never edited in place.
func (s PodSpec) withInitDefaults() PodSpec {
	copied := false
	for i := range s.InitContainers {
		for j, port := range s.InitContainers[i].Ports {
			if port.Protocol != "" {
				continue
			}
			if !copied {
				s.InitContainers, copied = slices.Clone(s.InitContainers), true
				for k := range s.InitContainers {
					s.InitContainers[k].Ports = slices.Clone(s.InitContainers[k].Ports)
				}
			}
			s.InitContainers[i].Ports[j].Protocol = ProtocolTCP
		}
	}
	return s
}
