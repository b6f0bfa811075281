package admission

import (
	"encoding/json"
	"sort"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

// Quotas at admission: an object a user applies is decided here, so a
// ResourceQuota's count/<resource> (count/deployments.apps) is charged
// here, as Kubernetes' quota admission charges it; pods, cpu and memory
// are charged where pods are decided (the replica and job services).

// exists notes whether an object exists, keeping the count of its kind in
// its namespace.
func (s *Service) exists(o *object, kind, ns, name string, now bool) {
	if o.exists != now {
		if now {
			s.counts[ns+"/"+kind]++
		} else {
			s.counts[ns+"/"+kind]--
		}
	}
	o.exists = now
}

// decidedObject counts an object a controller made (a CronJob's Job) or
// deleted: quotas count it with those users applied.
func (s *Service) decidedObject(kind, ns, name, uid string, exists bool) {
	key := kind + "/" + ns + "/" + name
	had, ok := s.made[key]
	switch {
	case exists && !ok:
		s.made[key] = uid
		s.counts[ns+"/"+kind]++
	case exists:
		s.made[key] = uid // made again under its name
	case ok && had == uid:
		delete(s.made, key)
		s.counts[ns+"/"+kind]--
	}
}

// noteQuota keeps the hard limits of an accepted ResourceQuota.
func (s *Service) noteQuota(e *events.AdmissionAccepted) {
	if e.Kind != "resourcequota" {
		return
	}
	if e.Op != events.OpApply {
		delete(s.quotas[e.Namespace], e.Name)
		return
	}
	var obj manifest.Object
	if json.Unmarshal(e.Object, &obj) != nil || obj.ResourceQuota() == nil {
		return
	}
	if s.quotas[e.Namespace] == nil {
		s.quotas[e.Namespace] = map[string]manifest.ResourceList{}
	}
	s.quotas[e.Namespace][e.Name] = obj.ResourceQuota().Hard
}

// countQuota reports whether a quota of the namespace counts the kind.
func (s *Service) countQuota(ns, kind string) bool {
	k, ok := manifest.KindOfToken(kind)
	if !ok {
		return false
	}
	res := manifest.QuotaCountPrefix + k.QuotaResource()
	for _, hard := range s.quotas[ns] {
		if _, ok := hard[res]; ok {
			return true
		}
	}
	return false
}

// quotaRefusal is why a quota of the namespace refuses one more object of
// the kind, in Kubernetes' words ("" when every quota lets it in).
func (s *Service) quotaRefusal(kind, ns, name string) string {
	k, ok := manifest.KindOfToken(kind)
	if !ok || len(s.quotas[ns]) == 0 {
		return ""
	}
	res := manifest.QuotaCountPrefix + k.QuotaResource()
	used := manifest.QuotaUsage{res: int64(s.counts[ns+"/"+kind])}
	names := make([]string, 0, len(s.quotas[ns]))
	for n := range s.quotas[ns] {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, q := range names {
		if why := manifest.QuotaRefusal(q, s.quotas[ns][q], used, manifest.ObjectQuotaUsage(k.QuotaResource()), nil,
			k.QuotaResource()+` "`+name+`"`); why != "" {
			return why
		}
	}
	return ""
}
