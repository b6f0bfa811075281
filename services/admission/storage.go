package admission

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
)

// noteClass remembers the StorageClasses ever accepted or made, by name,
// so a claim's class is found without a walk over every object.
func (s *Service) noteClass(kind, name string) {
	if kind == "storageclass" {
		s.classes[name] = true
	}
}

// storageClass is the StorageClass of that name that exists, or nil.
func (s *Service) storageClass(name string) *projections.Workload {
	w := s.c.Workloads[projections.WorkloadKey("storageclass", events.ClusterScope, name)]
	if w == nil && s.bootClass != nil && s.bootClass.Object.Metadata.Name == name {
		return s.bootClass
	}
	if w == nil || w.Deleted || w.Object.StorageClass() == nil {
		return nil
	}
	return w
}

// claimProblems judges a PersistentVolumeClaim against the cluster: a
// claim without storageClassName gets the default class (Kubernetes'
// DefaultStorageClass admission plugin); a class that does not exist is
// refused, so is a request over the class's maxSize; an update changes
// nothing but a growing request, and that only when the class allows
// volume expansion. obj's spec is replaced when the class is filled in.
func (s *Service) claimProblems(obj *manifest.Object, o *object) []string {
	spec := *obj.PersistentVolumeClaim()
	if spec.StorageClassName == nil && !o.exists {
		def := s.c.DefaultStorageClass(slices.Collect(maps.Keys(s.classes)))
		if def == "" && s.bootClass != nil {
			def = s.bootClass.Object.Metadata.Name
		}
		if def != "" {
			spec.StorageClassName = &def
			obj.Spec = &spec
		}
	}
	var reasons []string
	var class *manifest.StorageClassSpec
	if name := spec.ClassName(); name != "" {
		w := s.storageClass(name)
		if w == nil {
			return []string{fmt.Sprintf("spec.storageClassName: storageclass.storage.k8s.io %q not found", name)}
		}
		class = w.Object.StorageClass()
		if max := class.MaxBytes(); spec.Request() > max {
			reasons = append(reasons, fmt.Sprintf("spec.resources.requests.storage: invalid value %q: must be no more than %d bytes, the largest volume of storage class %q (parameters.maxSize)",
				spec.Resources.Requests[manifest.ResourceStorage].String(), max, name))
		}
	}
	if o.exists {
		var old manifest.Object
		if err := json.Unmarshal(o.canonical, &old); err == nil && old.PersistentVolumeClaim() != nil {
			if old.PersistentVolumeClaim().StorageClassName != nil && spec.StorageClassName == nil {
				spec.StorageClassName = old.PersistentVolumeClaim().StorageClassName // filled in at creation
				obj.Spec = &spec
			}
			if p, msg := manifest.ClaimChangeProblem(*old.PersistentVolumeClaim(), spec, class != nil && class.Expandable()); msg != "" {
				reasons = append(reasons, p+": "+msg)
			}
		}
	}
	return reasons
}
