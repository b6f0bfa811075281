package manifest

import (
	"testing"
	"time"
)

var timeZero time.Time

const localPV = "capacity: {storage: 10Gi}\n  accessModes: [ReadWriteOnce]\n  local: {path: /mnt/disks/a}\n  nodeAffinity: {required: {nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [n1]}]}]}}"

func TestValidatePersistentVolume(t *testing.T) {
	tests := []struct {
		name string
		spec string // the lines under spec:
		want []string
	}{
		{"local", localPV, nil},
		{"hostPath", "capacity: {storage: 1Gi}\n  accessModes: [ReadWriteMany]\n  hostPath: {path: /srv/data}\n  persistentVolumeReclaimPolicy: Retain", nil},
		{"no modes, no capacity", "hostPath: {path: /srv/data}", []string{
			"spec.capacity.storage: required",
			"spec.accessModes: required: at least one of ReadWriteOnce, ReadOnlyMany, ReadWriteMany, ReadWriteOncePod",
		}},
		{"bad mode, zero capacity", "capacity: {storage: \"0\"}\n  accessModes: [ReadWriteSometimes]\n  hostPath: {path: /srv/data}", []string{
			`spec.capacity.storage: invalid value "0": must be greater than zero`,
			`spec.accessModes[0]: unsupported value "ReadWriteSometimes": must be one of ReadWriteOnce, ReadOnlyMany, ReadWriteMany, ReadWriteOncePod`,
		}},
		{"too big", "capacity: {storage: 2Pi}\n  accessModes: [ReadWriteOnce]\n  hostPath: {path: /srv/data}", []string{
			`spec.capacity.storage: invalid value "2Pi": must be no more than 1Pi, the largest volume Gantry can make`,
		}},
		{"local without node", "capacity: {storage: 1Gi}\n  accessModes: [ReadWriteOnce]\n  local: {path: disks/a}", []string{
			`spec.local.path: invalid value "disks/a": must be an absolute path`,
			"spec.nodeAffinity: required: a local volume must name its node (kubernetes.io/hostname In [<node>])",
		}},
		{"csi", "capacity: {storage: 1Gi}\n  accessModes: [ReadWriteOnce]\n  csi: {driver: ebs.csi.aws.com, volumeHandle: vol-1}", []string{
			`spec.csi: unsupported: no CSI driver is installed (driver "ebs.csi.aws.com")`,
		}},
		{"recycle, block, bad class", localPV + "\n  persistentVolumeReclaimPolicy: Recycle\n  volumeMode: Block\n  storageClassName: Fast_SSD", []string{
			`spec.persistentVolumeReclaimPolicy: unsupported value "Recycle": Recycle is deprecated; use Delete, or Retain and clean the volume by hand`,
			`spec.storageClassName: invalid value "Fast_SSD": must consist of lower-case letters, digits and '-', and start and end with a letter or digit (e.g. "web-1")`,
			`spec.volumeMode: unsupported value "Block": raw block volumes are not supported (use Filesystem)`,
		}},
		{"no source", "capacity: {storage: 1Gi}\n  accessModes: [ReadWriteOnce]", []string{
			"spec: must specify a volume source: local or hostPath",
		}},
		{"two nodes", "capacity: {storage: 1Gi}\n  accessModes: [ReadWriteOnce]\n  local: {path: /a}\n  nodeAffinity: {required: {nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [n1, n2]}]}]}}", []string{
			"spec.nodeAffinity.required: must name exactly one node: nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [<node>]}]}]",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := mustDecode(t, "apiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: pv-a\nspec:\n  "+tt.spec+"\n")
			o.Defaults()
			checkErrs(t, Validate(o), tt.want)
		})
	}
	o := mustDecode(t, "apiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: pv-a\nspec:\n  "+localPV+"\n")
	if n := o.PersistentVolume().Node(); n != "n1" {
		t.Errorf("Node() = %q, want n1", n)
	}
}

func TestValidatePersistentVolumeClaim(t *testing.T) {
	tests := []struct {
		name string
		spec string
		want []string
	}{
		{"minimal", "accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}", nil},
		{"full", "accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}, limits: {storage: 2Gi}}\n  storageClassName: local-path\n  volumeMode: Filesystem\n  volumeName: pv-a\n  selector: {matchLabels: {disk: ssd}}", nil},
		{"no class", "accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n  storageClassName: \"\"", nil},
		{"empty", "volumeMode: Filesystem", []string{
			"spec.accessModes: required: at least one of ReadWriteOnce, ReadOnlyMany, ReadWriteMany, ReadWriteOncePod",
			"spec.resources.requests.storage: required",
		}},
		{"bigger than any volume", "accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 2Pi}}", []string{
			`spec.resources.requests.storage: invalid value "2Pi": must be no more than 1Pi, the largest volume Gantry can make`,
		}},
		{"negative, block", "accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: -1Gi}}\n  volumeMode: Block", []string{
			`spec.resources.requests.storage: invalid value "-1Gi": must be greater than zero`,
			`spec.volumeMode: unsupported value "Block": raw block volumes are not supported (use Filesystem)`,
		}},
		{"limit under request, other resource", "accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 2Gi, cpu: \"1\"}, limits: {storage: 1Gi}}", []string{
			"spec.resources.requests.cpu: unsupported resource: only storage",
			`spec.resources.limits.storage: invalid value "1Gi": must be greater than or equal to the request "2Gi"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := mustDecode(t, "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\nspec:\n  "+tt.spec+"\n")
			o.Defaults()
			checkErrs(t, Validate(o), tt.want)
		})
	}
}

func TestValidateStorageClass(t *testing.T) {
	tests := []struct {
		name string
		body string // top-level lines after metadata
		want []string
	}{
		{"local-path", "provisioner: gantry.sh/local-path\nvolumeBindingMode: WaitForFirstConsumer\nreclaimPolicy: Delete\nparameters: {maxSize: 100Gi, nodePath: /data}", nil},
		{"static", "provisioner: kubernetes.io/no-provisioner\nvolumeBindingMode: Immediate\nreclaimPolicy: Retain", nil},
		{"csi", "provisioner: ebs.csi.aws.com", []string{
			`provisioner: unsupported value "ebs.csi.aws.com": must be gantry.sh/local-path or kubernetes.io/no-provisioner (no CSI driver is installed)`,
		}},
		{"immediate local", "provisioner: gantry.sh/local-path\nvolumeBindingMode: Immediate\nreclaimPolicy: Recycle", []string{
			`reclaimPolicy: unsupported value "Recycle": Recycle is deprecated; use Delete, or Retain and clean the volume by hand`,
			`volumeBindingMode: unsupported value "Immediate" for provisioner gantry.sh/local-path: a local volume needs a node, so it is made where the claim's first pod runs (WaitForFirstConsumer)`,
		}},
		{"bad parameters", "provisioner: gantry.sh/local-path\nparameters: {maxSize: lots, fsType: ext4}", []string{
			"parameters.fsType: unsupported parameter: gantry.sh/local-path takes maxSize and nodePath",
			`parameters.maxSize: invalid value "lots": must be a positive quantity such as 100Gi`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := mustDecode(t, "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: fast\n"+tt.body+"\n")
			o.Defaults()
			checkErrs(t, Validate(o), tt.want)
		})
	}
	def := DefaultStorageClassObject()
	if errs := Validate(def); errs != nil {
		t.Fatalf("default class: %v", errs)
	}
	if s := storageClassKind.NameSuffix(def); s != " (default)" {
		t.Errorf("suffix %q", s)
	}
	if got := def.StorageClass().BindingMode(); got != VolumeBindingWaitForFirstConsumer {
		t.Errorf("binding mode %q", got)
	}
}

func TestClaimChangeProblem(t *testing.T) {
	cls := "local-path"
	base := PersistentVolumeClaimSpec{AccessModes: []string{ReadWriteOnce}, StorageClassName: &cls,
		Resources: VolumeResourceRequirements{Requests: ResourceList{ResourceStorage: MustQuantity("1Gi")}}}
	grow := base
	grow.Resources.Requests = ResourceList{ResourceStorage: MustQuantity("2Gi")}
	shrink := base
	shrink.Resources.Requests = ResourceList{ResourceStorage: MustQuantity("512Mi")}
	modes := base
	modes.AccessModes = []string{ReadWriteMany}
	tests := []struct {
		name       string
		cur        PersistentVolumeClaimSpec
		expandable bool
		want       string
	}{
		{"same", base, false, ""},
		{"grow, expandable", grow, true, ""},
		{"grow, not expandable", grow, false, "spec.resources.requests.storage: forbidden: only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize"},
		{"shrink", shrink, true, "spec.resources.requests.storage: forbidden: field can not be less than previous value"},
		{"modes", modes, true, "spec: forbidden: spec is immutable after creation except resources.requests"},
	}
	for _, tt := range tests {
		p, msg := ClaimChangeProblem(base, tt.cur, tt.expandable)
		got := ""
		if msg != "" {
			got = p + ": " + msg
		}
		if got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestStorageColumns(t *testing.T) {
	o := mustDecode(t, "apiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: pv-a\nspec:\n  "+localPV+"\n  storageClassName: manual\n")
	st := WorkloadStatus{Volume: &VolumeStatus{Phase: VolumeBound, Claim: "default/data"}}
	var got []string
	for _, c := range persistentVolumeKind.Columns {
		got = append(got, c.Cell(o, st, timeZero))
	}
	want := []string{"10Gi", "RWO", "Retain", "Bound", "default/data", "manual"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("pv columns %v, want %v", got, want)
			break
		}
	}
	c := mustDecode(t, "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n")
	if cell := persistentVolumeClaimKind.Columns[0].Cell(c, WorkloadStatus{}, timeZero); cell != "Pending" {
		t.Errorf("claim status %q, want Pending", cell)
	}
}
