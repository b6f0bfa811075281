package client

import (
	"testing"

	"github.com/gantry-sh/gantry/events/manifest"
)

// kubectl's StatefulSet status lines: ready first, then the pods at or
// above the partition updated.
func TestStatefulSetRolloutStatus(t *testing.T) {
	three, one := int32(3), int32(1)
	ss := &manifest.StatefulSetSpec{Replicas: &three}
	part := &manifest.StatefulSetSpec{Replicas: &three, UpdateStrategy: manifest.StatefulSetUpdateStrategy{
		RollingUpdate: &manifest.RollingUpdateStatefulSetStrategy{Partition: &one}}}
	tests := []struct {
		spec *manifest.StatefulSetSpec
		st   manifest.WorkloadStatus
		msg  string
		done bool
	}{
		{ss, manifest.WorkloadStatus{Replicas: 2, ReadyReplicas: 1}, "Waiting for 2 pods to be ready...\n", false},
		{ss, manifest.WorkloadStatus{Replicas: 3, ReadyReplicas: 3, UpdatedReplicas: 1}, "Waiting for partitioned roll out to finish: 1 out of 3 new pods have been updated...\n", false},
		{ss, manifest.WorkloadStatus{Replicas: 3, ReadyReplicas: 3, UpdatedReplicas: 3}, "partitioned roll out complete: 3 new pods have been updated...\n", true},
		{part, manifest.WorkloadStatus{Replicas: 3, ReadyReplicas: 3, UpdatedReplicas: 2}, "partitioned roll out complete: 2 new pods have been updated...\n", true},
	}
	for _, tt := range tests {
		msg, done, err := statefulSetStatus("web", tt.spec, tt.st)
		if err != nil || msg != tt.msg || done != tt.done {
			t.Errorf("%+v: got %q %v %v, want %q %v", tt.st, msg, done, err, tt.msg, tt.done)
		}
	}
	od := &manifest.StatefulSetSpec{UpdateStrategy: manifest.StatefulSetUpdateStrategy{Type: manifest.StatefulSetOnDelete}}
	if _, _, err := statefulSetStatus("web", od, manifest.WorkloadStatus{}); err == nil || err.Error() != "rollout status is only available for RollingUpdate strategy type" {
		t.Errorf("OnDelete: %v", err)
	}
}
