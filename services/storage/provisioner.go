package storage

import (
	"fmt"
	"path"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

// Claim is a PersistentVolumeClaim a provisioner makes a volume for.
type Claim struct {
	Namespace, Name, UID string
	Spec                 manifest.PersistentVolumeClaimSpec
}

// Class is a StorageClass, by name.
type Class struct {
	Name string
	Spec manifest.StorageClassSpec
}

// Provisioner makes and deletes the volumes of the StorageClasses that
// name it (provisioner: <Name>). It decides, it does not act: Provision
// says what PersistentVolume the claim gets on node (the node its first
// pod was bound to, for WaitForFirstConsumer), Delete what becomes of a
// deleted volume's storage. A CSI driver would be another implementation
// (docs/storage.md).
type Provisioner interface {
	Name() string
	Provision(volume string, claim Claim, class Class, node events.NodeInfo) (manifest.PersistentVolumeSpec, error)
	// Delete says whether the node the volume lives on must delete its
	// directory (the volume's storage is the provisioner's to remove).
	Delete(pv manifest.PersistentVolumeSpec) (nodeDeletes bool)
}

// LocalPath is the gantry.sh/local-path provisioner: a directory per
// volume under the node's volumes directory (NodeInfo.VolumesDir, or the
// class's nodePath parameter), a `local` volume with nodeAffinity to that
// node, as k3s' local-path provisioner.
type LocalPath struct{}

// Name implements Provisioner.
func (LocalPath) Name() string { return manifest.LocalPathProvisioner }

// Provision implements Provisioner.
func (LocalPath) Provision(volume string, claim Claim, class Class, node events.NodeInfo) (manifest.PersistentVolumeSpec, error) {
	root := class.Spec.Parameters[manifest.NodePathParameter]
	if root == "" {
		root = node.VolumesDir
	}
	if root == "" {
		return manifest.PersistentVolumeSpec{}, fmt.Errorf("node %s offers no directory for local volumes", node.Name)
	}
	fs := manifest.VolumeModeFilesystem
	return manifest.PersistentVolumeSpec{
		Capacity:                      manifest.ResourceList{manifest.ResourceStorage: claim.Spec.Resources.Requests[manifest.ResourceStorage]},
		AccessModes:                   claim.Spec.AccessModes,
		PersistentVolumeReclaimPolicy: class.Spec.Reclaim(),
		StorageClassName:              class.Name,
		VolumeMode:                    &fs,
		ClaimRef:                      &manifest.ObjectReference{Kind: manifest.KindPersistentVolumeClaim, Namespace: claim.Namespace, Name: claim.Name, UID: claim.UID},
		NodeAffinity:                  manifest.NodeAffinityTo(node.Name),
		Local:                         &manifest.LocalVolumeSource{Path: path.Join(root, volume)},
	}, nil
}

// Delete implements Provisioner: the node removes the directory.
func (LocalPath) Delete(manifest.PersistentVolumeSpec) bool { return true }
