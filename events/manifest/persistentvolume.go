package manifest

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"time"
)

// PersistentVolume is the object's spec if it is a PersistentVolume, or nil.
func (o Object) PersistentVolume() *PersistentVolumeSpec {
	s, _ := o.Spec.(*PersistentVolumeSpec)
	return s
}

// Storage quantities and bounds.
const (
	// ResourceStorage is the resource a volume's capacity and a claim's
	// request are given in.
	ResourceStorage = "storage"
	// VolumeModeFilesystem is the one volumeMode Gantry supports (a
	// directory); Block is refused.
	VolumeModeFilesystem = "Filesystem"
	VolumeModeBlock      = "Block"
	// ReclaimRecycle is Kubernetes' deprecated reclaim policy, refused.
	ReclaimRecycle = "Recycle"
	// NoProvisioner marks a class whose volumes are made by hand (static
	// PersistentVolumes), as in Kubernetes.
	NoProvisioner = "kubernetes.io/no-provisioner"
	// LabelHostname is the node label a local volume's nodeAffinity names
	// its node with.
	LabelHostname = "kubernetes.io/hostname"
	// MaxSizeParameter is the StorageClass parameter that bounds the claims
	// of the class ("maxSize: 100Gi"); a claim that asks for more is
	// refused at admission.
	MaxSizeParameter = "maxSize"
	// NodePathParameter is the local-path StorageClass parameter naming the
	// directory of each node its volumes are made under (default: the
	// node's own volumes directory).
	NodePathParameter = "nodePath"
)

// MaxVolumeBytes is the largest volume (and claim) Gantry accepts: 1 PiB,
// beyond any disk a node has. A claim for more is refused ("a claim bigger
// than any volume can be"); a StorageClass may lower it with maxSize.
const MaxVolumeBytes int64 = 1 << 50

// Volume phases and the claim phases, as Kubernetes names them.
const (
	VolumeAvailable = "Available"
	VolumeBound     = "Bound"
	VolumeReleased  = "Released"
	VolumeFailed    = "Failed"
	ClaimPending    = "Pending"
	ClaimBound      = "Bound"
	ClaimLost       = "Lost"
)

// VolumeStatus is what the storage service decided of a PersistentVolume or
// a PersistentVolumeClaim: the phase and the other side of the binding. A
// volume without one is Available, a claim Pending.
type VolumeStatus struct {
	Phase string `json:"phase"`
	// Claim is a volume's claim ("ns/name"); Volume a claim's volume.
	Claim  string `json:"claim,omitempty"`
	Volume string `json:"volume,omitempty"`
	// Capacity and AccessModes are the bound volume's (a claim's status).
	Capacity    string   `json:"capacity,omitempty"`
	AccessModes []string `json:"accessModes,omitempty"`
	// Message says why a claim waits or a volume failed.
	Message string `json:"message,omitempty"`
}

var accessModes = []string{ReadWriteOnce, ReadOnlyMany, ReadWriteMany, ReadWriteOncePod}

// validateAccessModes checks at least one mode, each one of the four.
func validateAccessModes(errs *FieldErrors, p string, modes []string) {
	if len(modes) == 0 {
		errs.add(p, "required: at least one of "+strings.Join(accessModes, ", "))
	}
	for i, m := range modes {
		if !slices.Contains(accessModes, m) {
			errs.addf(indexPath(p, i), "unsupported value %q: must be one of %s", m, strings.Join(accessModes, ", "))
		}
	}
}

// validateStorage checks a storage quantity: set, positive, at most
// MaxVolumeBytes.
func validateStorage(errs *FieldErrors, p string, list ResourceList) {
	q, ok := list[ResourceStorage]
	switch {
	case !ok || q.IsZero():
		errs.add(p, "required")
	case q.MilliValue() <= 0:
		errs.addf(p, "invalid value %q: must be greater than zero", q.String())
	case q.Value() > MaxVolumeBytes:
		errs.addf(p, "invalid value %q: must be no more than 1Pi, the largest volume Gantry can make", q.String())
	}
	for _, name := range slices.Sorted(maps.Keys(list)) {
		if name != ResourceStorage {
			errs.addf(fieldPath(p[:strings.LastIndex(p, ".")], name), "unsupported resource: only %s", ResourceStorage)
		}
	}
}

// validateVolumeMode refuses Block: Gantry's volumes are directories.
func validateVolumeMode(errs *FieldErrors, p string, mode *string) {
	switch {
	case mode == nil || *mode == VolumeModeFilesystem:
	case *mode == VolumeModeBlock:
		errs.add(p, "unsupported value \"Block\": raw block volumes are not supported (use Filesystem)")
	default:
		errs.addf(p, "unsupported value %q: must be Filesystem", *mode)
	}
}

// validateClassName checks a storageClassName reference: a name as object
// names are ("" means no class).
func validateClassName(errs *FieldErrors, p, name string) {
	if name == "" {
		return
	}
	if msg := nameProblem(name); msg != "" {
		errs.add(p, msg)
	}
}

func validateReclaim(errs *FieldErrors, p, policy string) {
	switch policy {
	case "", ReclaimRetain, ReclaimDelete:
	case ReclaimRecycle:
		errs.add(p, "unsupported value \"Recycle\": Recycle is deprecated; use Delete, or Retain and clean the volume by hand")
	default:
		errs.addf(p, "unsupported value %q: must be Retain or Delete", policy)
	}
}

func validatePersistentVolume(errs *FieldErrors, s PersistentVolumeSpec) {
	validateStorage(errs, "spec.capacity.storage", s.Capacity)
	validateAccessModes(errs, "spec.accessModes", s.AccessModes)
	validateReclaim(errs, "spec.persistentVolumeReclaimPolicy", s.PersistentVolumeReclaimPolicy)
	validateClassName(errs, "spec.storageClassName", s.StorageClassName)
	validateVolumeMode(errs, "spec.volumeMode", s.VolumeMode)
	sources := 0
	if s.CSI != nil {
		sources++
		errs.addf("spec.csi", "unsupported: no CSI driver is installed (driver %q)", s.CSI.Driver)
	}
	if s.HostPath != nil {
		sources++
		if !path.IsAbs(s.HostPath.Path) {
			errs.addf("spec.hostPath.path", "invalid value %q: must be an absolute path", s.HostPath.Path)
		}
	}
	if s.Local != nil {
		sources++
		if !path.IsAbs(s.Local.Path) {
			errs.addf("spec.local.path", "invalid value %q: must be an absolute path", s.Local.Path)
		}
		if s.NodeAffinity == nil {
			errs.add("spec.nodeAffinity", "required: a local volume must name its node (kubernetes.io/hostname In [<node>])")
		}
	}
	if sources == 0 {
		errs.add("spec", "must specify a volume source: local or hostPath")
	} else if sources > 1 {
		errs.add("spec", "may not specify more than one volume source")
	}
	if a := s.NodeAffinity; a != nil {
		switch {
		case a.Required == nil:
			errs.add("spec.nodeAffinity.required", "required")
		case s.Node() == "":
			errs.add("spec.nodeAffinity.required", "must name exactly one node: nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [<node>]}]}]")
		default:
			for i, t := range a.Required.NodeSelectorTerms {
				validateNodeSelectorTerm(errs, indexPath("spec.nodeAffinity.required.nodeSelectorTerms", i), t)
			}
		}
	}
	if r := s.ClaimRef; r != nil {
		if msg := nameProblem(r.Name); msg != "" {
			errs.add("spec.claimRef.name", msg)
		}
		if r.Namespace != "" {
			if msg := nameProblem(r.Namespace); msg != "" {
				errs.add("spec.claimRef.namespace", msg)
			}
		}
	}
}

// Node is the one node a volume's nodeAffinity names through
// kubernetes.io/hostname In [node], or "" (any node, or an affinity Gantry
// cannot reduce to one node).
func (s PersistentVolumeSpec) Node() string {
	if s.NodeAffinity == nil || s.NodeAffinity.Required == nil || len(s.NodeAffinity.Required.NodeSelectorTerms) != 1 {
		return ""
	}
	t := s.NodeAffinity.Required.NodeSelectorTerms[0]
	if len(t.MatchExpressions) != 1 {
		return ""
	}
	r := t.MatchExpressions[0]
	if r.Key != LabelHostname || r.Operator != OpIn || len(r.Values) != 1 {
		return ""
	}
	return r.Values[0]
}

// NodeAffinityTo is the nodeAffinity of a volume of one node.
func NodeAffinityTo(node string) *VolumeNodeAffinity {
	return &VolumeNodeAffinity{Required: &NodeSelector{NodeSelectorTerms: []NodeSelectorTerm{{
		MatchExpressions: []NodeSelectorRequirement{{Key: LabelHostname, Operator: OpIn, Values: []string{node}}}}}}}
}

// ReclaimPolicy is the volume's reclaim policy: Retain when unset for a
// volume made by hand, as Kubernetes.
func (s PersistentVolumeSpec) ReclaimPolicy() string {
	if s.PersistentVolumeReclaimPolicy == "" {
		return ReclaimRetain
	}
	return s.PersistentVolumeReclaimPolicy
}

// FormatAccessModes writes access modes as kubectl does: RWO,ROX,RWX,RWOP.
func FormatAccessModes(modes []string) string {
	short := map[string]string{ReadWriteOnce: "RWO", ReadOnlyMany: "ROX", ReadWriteMany: "RWX", ReadWriteOncePod: "RWOP"}
	out := make([]string, 0, len(modes))
	for _, m := range modes {
		if s, ok := short[m]; ok {
			out = append(out, s)
		} else {
			out = append(out, m)
		}
	}
	return strings.Join(out, ",")
}

// volumeOf is the storage status of a volume or claim, phase filled.
func volumeOf(st WorkloadStatus, phase string) VolumeStatus {
	if st.Volume != nil {
		return *st.Volume
	}
	return VolumeStatus{Phase: phase}
}

func storageOf(list ResourceList) string {
	if q, ok := list[ResourceStorage]; ok {
		return q.String()
	}
	return ""
}

// persistentVolumeKind is v1 PersistentVolume: one volume of one node.
var persistentVolumeKind = KindInfo{
	APIVersion: APICoreV1, Kind: KindPersistentVolume, Token: "persistentvolume", Plural: "persistentvolumes", ShortNames: []string{"pv"},
	ClusterScoped: true,
	spec:          specType[PersistentVolumeSpec](),
	validate:      func(errs *FieldErrors, o Object) { validatePersistentVolume(errs, *o.PersistentVolume()) },
	Columns: []Column{
		{Header: "CAPACITY", Cell: func(o Object, _ WorkloadStatus, _ time.Time) string { return storageOf(o.PersistentVolume().Capacity) }},
		{Header: "ACCESS MODES", Cell: func(o Object, _ WorkloadStatus, _ time.Time) string {
			return FormatAccessModes(o.PersistentVolume().AccessModes)
		}},
		{Header: "RECLAIM POLICY", Cell: func(o Object, _ WorkloadStatus, _ time.Time) string { return o.PersistentVolume().ReclaimPolicy() }},
		{Header: "STATUS", Cell: func(_ Object, st WorkloadStatus, _ time.Time) string { return volumeOf(st, VolumeAvailable).Phase }},
		{Header: "CLAIM", Cell: func(_ Object, st WorkloadStatus, _ time.Time) string { return volumeOf(st, VolumeAvailable).Claim }},
		{Header: "STORAGECLASS", Cell: func(o Object, _ WorkloadStatus, _ time.Time) string { return o.PersistentVolume().StorageClassName }},
	},
	Describe: func(o Object, st WorkloadStatus) []Field {
		pv, v := o.PersistentVolume(), volumeOf(st, VolumeAvailable)
		source := "<none>"
		switch {
		case pv.Local != nil:
			source = "LocalVolume (Path: " + pv.Local.Path + ")"
		case pv.HostPath != nil:
			source = "HostPath (Path: " + pv.HostPath.Path + ")"
		}
		node := pv.Node()
		if node != "" {
			node = LabelHostname + " in [" + node + "]"
		}
		return []Field{
			{"StorageClass", pv.StorageClassName},
			{"Status", v.Phase},
			{"Claim", v.Claim},
			{"Reclaim Policy", pv.ReclaimPolicy()},
			{"Access Modes", FormatAccessModes(pv.AccessModes)},
			{"VolumeMode", VolumeModeFilesystem},
			{"Capacity", storageOf(pv.Capacity)},
			{"Node Affinity", orNone(node)},
			{"Message", v.Message},
			{"Source", source},
		}
	},
	K8sStatus: func(_ Object, st WorkloadStatus) any {
		v := volumeOf(st, VolumeAvailable)
		return struct {
			Phase   string `json:"phase"`
			Message string `json:"message,omitempty"`
		}{v.Phase, v.Message}
	},
}

// FormatClaim is a volume's claim as kubectl's CLAIM column writes it.
func FormatClaim(ns, name string) string { return fmt.Sprintf("%s/%s", ns, name) }
