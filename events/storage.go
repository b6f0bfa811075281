package events

// Storage decisions: the storage service binds PersistentVolumeClaims to
// PersistentVolumes, releases and deletes volumes. Each is stored on its
// volume's own subject, StorageSubject, which is its fence: two claims
// cannot both take one volume. A decision a node must act on (a local
// volume made, bound or deleted on it) is copied to NodeVolumeSubject.

// TypeVolumeDecided is the type of VolumeDecided.
const TypeVolumeDecided = "gantry.storage.volumedecided.v1"

// SubjectStorageAll is every volume's decisions.
const SubjectStorageAll = "gantry.decision.storage.>"

// StorageSubject holds the decisions on one PersistentVolume.
func StorageSubject(pv string) string { return "gantry.decision.storage." + pv }

// Volume phases a VolumeDecided carries (manifest's Bound and Released,
// and Deleted: the volume is gone).
const VolumeDeleted = "Deleted"

// VolumeDecided: the volume (uid) is now in Phase. Bound: to the claim
// (ClaimNamespace/ClaimName, ClaimUID), its directory is Path on Node (a
// local volume; "" Node for one any node can use). Released: its claim is
// gone and it keeps its data (Retain). Deleted: it is gone; a node deletes
// a Provisioned volume's directory.
type VolumeDecided struct {
	Volume         string   `json:"volume"`
	VolumeUID      string   `json:"volumeUID"`
	Phase          string   `json:"phase"`
	ClaimNamespace string   `json:"claimNamespace,omitempty"`
	ClaimName      string   `json:"claimName,omitempty"`
	ClaimUID       string   `json:"claimUID,omitempty"`
	Node           string   `json:"node,omitempty"`
	Path           string   `json:"path,omitempty"`
	Provisioned    bool     `json:"provisioned,omitempty"`
	Capacity       string   `json:"capacity,omitempty"`
	AccessModes    []string `json:"accessModes,omitempty"`
	// Reason is for people reading the log: "provisioned on node n1 for
	// the claim's first pod web-0".
	Reason string `json:"reason,omitempty"`
}

func (VolumeDecided) Type() string { return TypeVolumeDecided }
