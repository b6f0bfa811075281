package manifest

// PersistentVolume, PersistentVolumeClaim and StorageClass, with
// Kubernetes' field names.
const (
	KindPersistentVolume      = "PersistentVolume"
	KindPersistentVolumeClaim = "PersistentVolumeClaim"
	KindStorageClass          = "StorageClass"
	APIStorageV1              = "storage.k8s.io/v1"
)

// PersistentVolumeSpec is v1 PersistentVolumeSpec: one volume, made by hand
// or by a provisioner. Gantry's volumes are directories of one node: Local
// (with NodeAffinity naming the node) or HostPath.
type PersistentVolumeSpec struct {
	Capacity                      ResourceList               `json:"capacity,omitempty"`
	AccessModes                   []string                   `json:"accessModes,omitempty"`
	PersistentVolumeReclaimPolicy string                     `json:"persistentVolumeReclaimPolicy,omitempty"` // Retain, Delete
	StorageClassName              string                     `json:"storageClassName,omitempty"`
	VolumeMode                    *string                    `json:"volumeMode,omitempty"`
	ClaimRef                      *ObjectReference           `json:"claimRef,omitempty"`
	NodeAffinity                  *VolumeNodeAffinity        `json:"nodeAffinity,omitempty"`
	Local                         *LocalVolumeSource         `json:"local,omitempty"`
	HostPath                      *HostPathVolumeSource      `json:"hostPath,omitempty"`
	MountOptions                  []string                   `json:"mountOptions,omitempty"`
	CSI                           *CSIPersistentVolumeSource `json:"csi,omitempty"`
}

// VolumeNodeAffinity is the nodes a volume can be used from.
type VolumeNodeAffinity struct {
	Required *NodeSelector `json:"required,omitempty"`
}

// LocalVolumeSource is a directory of one node.
type LocalVolumeSource struct {
	Path   string  `json:"path"`
	FSType *string `json:"fsType,omitempty"`
}

// CSIPersistentVolumeSource is a volume of a CSI driver (kept for the
// interface; Gantry has no CSI driver yet, and says so at admission).
type CSIPersistentVolumeSource struct {
	Driver       string `json:"driver"`
	VolumeHandle string `json:"volumeHandle"`
}

// StorageClassSpec is a StorageClass's content (top level in its manifest:
// the kind is Flat).
type StorageClassSpec struct {
	Provisioner          string            `json:"provisioner"`
	Parameters           map[string]string `json:"parameters,omitempty"`
	ReclaimPolicy        *string           `json:"reclaimPolicy,omitempty"`     // Delete (default), Retain
	VolumeBindingMode    *string           `json:"volumeBindingMode,omitempty"` // Immediate (default), WaitForFirstConsumer
	AllowVolumeExpansion *bool             `json:"allowVolumeExpansion,omitempty"`
	MountOptions         []string          `json:"mountOptions,omitempty"`
}

// Access modes, reclaim policies and binding modes.
const (
	ReadWriteOnce    = "ReadWriteOnce"
	ReadOnlyMany     = "ReadOnlyMany"
	ReadWriteMany    = "ReadWriteMany"
	ReadWriteOncePod = "ReadWriteOncePod"

	ReclaimRetain = "Retain"
	ReclaimDelete = "Delete"

	VolumeBindingImmediate            = "Immediate"
	VolumeBindingWaitForFirstConsumer = "WaitForFirstConsumer"

	// IsDefaultClassAnnotation marks the StorageClass a claim without
	// storageClassName gets.
	IsDefaultClassAnnotation = "storageclass.kubernetes.io/is-default-class"
	// LocalPathProvisioner is Gantry's built-in provisioner: a directory per
	// volume under the node's data dir.
	LocalPathProvisioner = "gantry.sh/local-path"
)
