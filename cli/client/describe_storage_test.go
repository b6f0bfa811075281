package client

import (
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/projections"
)

// A claim's and a volume's describe show the storage decisions about them
// (by uid), not those about other volumes.
func TestFilterWorkloadLogKeepsVolumeDecisions(t *testing.T) {
	mine := &events.VolumeDecided{Volume: "pvc-1", VolumeUID: "pv-uid", Phase: "Bound", ClaimNamespace: "default", ClaimName: "data", ClaimUID: "claim-uid"}
	other := &events.VolumeDecided{Volume: "pvc-2", VolumeUID: "pv2-uid", Phase: "Bound", ClaimNamespace: "default", ClaimName: "logs", ClaimUID: "logs-uid"}
	items := []logItem{{subject: events.StorageSubject("pvc-1"), event: mine}, {subject: events.StorageSubject("pvc-2"), event: other}}
	for _, w := range []*projections.Workload{
		{Kind: "persistentvolumeclaim", Namespace: "default", Name: "data", UID: "claim-uid"},
		{Kind: "persistentvolume", Namespace: events.ClusterScope, Name: "pvc-1", UID: "pv-uid"},
	} {
		got := filterWorkloadLog(items, w)
		if len(got) != 1 || got[0].event != mine {
			t.Errorf("%s: kept %d items, want its own binding", w.Kind, len(got))
		}
	}
}
