package manifest

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"maps"
	"math"
	"strconv"
)

// Requests is what the pod asks the scheduler for: cpu (millicores) and
// memory (bytes), counted as effective (below). A container with a limit and
// no request requests its limit, as in Kubernetes.
func (s PodSpec) Requests() (milliCPU, memoryBytes int64) {
	return s.effective(func(c Container) int64 { return c.Resources.request(ResourceCPU).MilliValue() }),
		s.effective(func(c Container) int64 { return c.Resources.request(ResourceMemory).Value() })
}

// Limits is the pod's cpu (millicores) and memory (bytes) limits, counted as
// effective (below).
func (s PodSpec) Limits() (milliCPU, memoryBytes int64) {
	return s.effective(func(c Container) int64 { return c.Resources.Limits[ResourceCPU].MilliValue() }),
		s.effective(func(c Container) int64 { return c.Resources.Limits[ResourceMemory].Value() })
}

// effective is how much of one resource the pod needs, as Kubernetes'
// scheduler and quota count it: the larger of the sum over its containers
// and the largest of its init containers, which run one at a time before
// the containers. pick reads one container's amount. Worked example: init
// containers of 500m and 200m, containers of 100m and 300m: max(400m, 500m)
// = 500m.
func (s PodSpec) effective(pick func(Container) int64) int64 {
	var sum, largest int64
	for _, c := range s.Containers {
		sum = addSaturating(sum, pick(c))
	}
	for _, c := range s.InitContainers {
		largest = max(largest, pick(c))
	}
	return max(sum, largest)
}

// ResourceRequests is what the pod asks the scheduler for, per resource,
// counted as effective: cpu in millicores, memory in bytes, extended
// resources (example.com/gpu) as counts. A container with a limit and no
// request requests its limit, as in Kubernetes. Every resource a container
// or init container names is in the map; the map is never nil.
func (s PodSpec) ResourceRequests() map[string]int64 {
	out := map[string]int64{}
	for _, cs := range [][]Container{s.Containers, s.InitContainers} {
		for _, c := range cs {
			for _, list := range []ResourceList{c.Resources.Requests, c.Resources.Limits} {
				for name := range list {
					out[name] = 0
				}
			}
		}
	}
	for name := range out {
		out[name] = s.effective(func(c Container) int64 {
			q := c.Resources.request(name)
			if name == ResourceCPU {
				return q.MilliValue()
			}
			return q.Value()
		})
	}
	return out
}

// request is the effective request for one resource: the request if set,
// else the limit, else zero.
func (r ResourceRequirements) request(name string) Quantity {
	if q, ok := r.Requests[name]; ok {
		return q
	}
	return r.Limits[name]
}

func addSaturating(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	if b < 0 && a < math.MinInt64-b {
		return math.MinInt64
	}
	return a + b
}

// ReplicaCount is spec.replicas, or 1 when unset as Kubernetes defaults it.
func (d DeploymentSpec) ReplicaCount() int32 {
	if d.Replicas == nil {
		return 1
	}
	return *d.Replicas
}

// DefaultRevisionHistoryLimit is Kubernetes' default revisionHistoryLimit.
const DefaultRevisionHistoryLimit = 10

// HistoryLimit is spec.revisionHistoryLimit, or 10 when unset.
func (d DeploymentSpec) HistoryLimit() int32 {
	if d.RevisionHistoryLimit == nil {
		return DefaultRevisionHistoryLimit
	}
	return *d.RevisionHistoryLimit
}

// Revision annotations, as Kubernetes' Deployment controller writes them:
// a ReplicaSet's revision (and its Deployment's current one), and the
// change cause copied from the Deployment when the revision was made.
const (
	RevisionAnnotation    = "deployment.kubernetes.io/revision"
	ChangeCauseAnnotation = "kubernetes.io/change-cause"
)

// RevisionOf reads a ReplicaSet's revision annotation (0: none or not a
// number).
func RevisionOf(annotations map[string]string) int64 {
	n, err := strconv.ParseInt(annotations[RevisionAnnotation], 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// hashAlphabet is Kubernetes' SafeEncodeString alphabet: lower-case letters
// and digits without vowels and look-alikes, so hashes never spell words.
const hashAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// TemplateHashLength is the length of TemplateHash's result.
const TemplateHashLength = 10

// TemplateHash is a short stable hash of a pod template's canonical JSON,
// ten lower-case letters and digits, like Kubernetes' pod-template-hash.
// Equal templates hash equally, across processes and versions.
func TemplateHash(t PodTemplateSpec) string {
	b, err := json.Marshal(t)
	if err != nil {
		// Cannot happen for these types; hash something stable anyway.
		b = []byte(err.Error())
	}
	sum := sha256.Sum256(b)
	n := binary.BigEndian.Uint64(sum[:8])
	out := make([]byte, TemplateHashLength)
	for i := range out {
		out[i] = hashAlphabet[n%uint64(len(hashAlphabet))]
		n /= uint64(len(hashAlphabet))
	}
	return string(out)
}

// WithLabel is a copy of labels m with k set to v (m is not changed).
func WithLabel(m map[string]string, k, v string) map[string]string {
	out := maps.Clone(m)
	if out == nil {
		out = map[string]string{}
	}
	out[k] = v
	return out
}
