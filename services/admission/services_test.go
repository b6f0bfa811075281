package admission_test

import (
	"reflect"
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
	"github.com/gantry-sh/gantry/services/runner"
)

// svc is a Service named name whose spec is the JSON spec, defaulted as
// admission accepts it.
func svc(t *testing.T, name, spec string) manifest.Object {
	t.Helper()
	o, err := manifest.DecodeObject(raw(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"` + name + `","namespace":"default"},"spec":` + spec + `}`))
	if err != nil {
		t.Fatal(err)
	}
	o.Defaults()
	return o
}

// allocated is the endpoints service's allocation for a Service.
func allocated(l *pt.Log, name, uid, ip string, nodePorts ...int32) events.Record {
	return l.Append(events.SubjectServiceAlloc, &events.ServiceAllocated{Namespace: ns, Name: name, UID: uid, ClusterIP: ip, NodePorts: nodePorts})
}

const (
	portsOnly  = `{"selector":{"app":"a"},"ports":[{"port":80}]}`
	askIP      = `{"selector":{"app":"b"},"clusterIP":"10.43.0.10","ports":[{"port":80}]}`
	askIP11    = `{"selector":{"app":"b"},"clusterIP":"10.43.0.11","ports":[{"port":80}]}`
	askPort    = `{"type":"NodePort","selector":{"app":"b"},"ports":[{"port":80,"nodePort":30080}]}`
	ipTakenByA = `spec.clusterIP: invalid value "10.43.0.10": provided IP is already allocated (to service default/a)`
)

// Given these Services and allocations, when this Service is applied,
// expect this verdict (nil reasons: accepted).
func TestServiceAddresses(t *testing.T) {
	tests := []struct {
		name  string
		given func(t *testing.T, l *pt.Log) []events.Record
		spec  string // of the Service applied last (b, unless named)
		apply string // its name, b when empty
		want  []string
	}{
		{"a free clusterIP is accepted", nil, askIP, "", nil},
		{"a clusterIP an accepted Service asks for, not allocated yet, is refused naming it",
			func(t *testing.T, l *pt.Log) []events.Record {
				return []events.Record{l.Accepted(svc(t, "a", askIP), "ua", 1)}
			}, askIP, "", []string{ipTakenByA}},
		{"a clusterIP the endpoints service allocated is refused naming its Service",
			func(t *testing.T, l *pt.Log) []events.Record {
				return []events.Record{l.Accepted(svc(t, "a", portsOnly), "ua", 1), allocated(l, "a", "ua", "10.43.0.10")}
			}, askIP, "", []string{ipTakenByA}},
		{"a nodePort allocated to another Service is refused naming it",
			func(t *testing.T, l *pt.Log) []events.Record {
				a := svc(t, "a", `{"type":"NodePort","ports":[{"name":"x","port":81},{"name":"y","port":82}]}`)
				return []events.Record{l.Accepted(a, "ua", 1), allocated(l, "a", "ua", "10.43.0.7", 30081, 30080)}
			}, askPort, "", []string{"spec.ports[0].nodePort: invalid value 30080: provided port is already allocated (to service default/a)"}},
		{"a nodePort another accepted Service asks for is refused, on either protocol",
			func(t *testing.T, l *pt.Log) []events.Record {
				return []events.Record{l.Accepted(svc(t, "a", `{"type":"NodePort","ports":[{"port":53,"protocol":"UDP","nodePort":30080}]}`), "ua", 1)}
			}, askPort, "", []string{"spec.ports[0].nodePort: invalid value 30080: provided port is already allocated (to service default/a)"}},
		{"released by a deleted Service, the clusterIP is free again",
			func(t *testing.T, l *pt.Log) []events.Record {
				return []events.Record{l.Accepted(svc(t, "a", askIP), "ua", 1), allocated(l, "a", "ua", "10.43.0.10"),
					l.AcceptedDelete("service", ns, "a", "ua", 1),
					l.Append(events.SubjectServiceAlloc, &events.ServiceAllocated{Namespace: ns, Name: "a", UID: "ua", Released: true})}
			}, askIP, "", nil},
		{"deleted but not released yet, the clusterIP is still held",
			func(t *testing.T, l *pt.Log) []events.Record {
				return []events.Record{l.Accepted(svc(t, "a", askIP), "ua", 1), allocated(l, "a", "ua", "10.43.0.10"),
					l.AcceptedDelete("service", ns, "a", "ua", 1)}
			}, askIP, "", []string{ipTakenByA}},
		{"an accepted Service refused by the endpoints service holds nothing",
			func(t *testing.T, l *pt.Log) []events.Record {
				return []events.Record{l.Accepted(svc(t, "a", askIP), "ua", 1),
					l.Append(events.SubjectServiceAlloc, &events.ServiceAllocated{Namespace: ns, Name: "a", UID: "ua", Refused: "spec.clusterIP: not in the service CIDR 10.43.0.0/16"})}
			}, askIP11, "a", nil},

		{"an address asked by a Service whose allocation was refused is free",
			func(t *testing.T, l *pt.Log) []events.Record {
				return []events.Record{l.Accepted(svc(t, "a", askIP), "ua", 1),
					l.Append(events.SubjectServiceAlloc, &events.ServiceAllocated{Namespace: ns, Name: "a", UID: "ua", Refused: "spec.clusterIP: 10.43.0.10 is in use"})}
			}, askIP, "", nil},

		// Immutable once set; the type may change.
		{"applying its own clusterIP again is accepted",
			func(t *testing.T, l *pt.Log) []events.Record {
				return []events.Record{l.Accepted(svc(t, "b", askIP), "ub", 1), allocated(l, "b", "ub", "10.43.0.10")}
			}, askIP, "", nil},
		{"changing an allocated clusterIP is refused",
			func(t *testing.T, l *pt.Log) []events.Record {
				return []events.Record{l.Accepted(svc(t, "b", portsOnly), "ub", 1), allocated(l, "b", "ub", "10.43.0.10")}
			}, askIP11, "", []string{"spec.clusterIP: field is immutable: the Service has 10.43.0.10, this asks for 10.43.0.11 (delete the Service and create it again to change it)"}},
		{"changing an asked clusterIP not allocated yet is refused",
			func(t *testing.T, l *pt.Log) []events.Record {
				return []events.Record{l.Accepted(svc(t, "b", askIP), "ub", 1)}
			}, askIP11, "", []string{"spec.clusterIP: field is immutable: the Service has 10.43.0.10, this asks for 10.43.0.11 (delete the Service and create it again to change it)"}},
		{"leaving clusterIP out keeps the allocated one",
			func(t *testing.T, l *pt.Log) []events.Record {
				return []events.Record{l.Accepted(svc(t, "b", askIP), "ub", 1), allocated(l, "b", "ub", "10.43.0.10")}
			}, `{"selector":{"app":"b"},"ports":[{"port":80}]}`, "", nil},
		{"asking for the allocated clusterIP explicitly is no change",
			func(t *testing.T, l *pt.Log) []events.Record {
				return []events.Record{l.Accepted(svc(t, "b", portsOnly), "ub", 1), allocated(l, "b", "ub", "10.43.0.10")}
			}, askIP, "", nil},
		{"the type may change, ClusterIP to NodePort",
			func(t *testing.T, l *pt.Log) []events.Record {
				return []events.Record{l.Accepted(svc(t, "b", askIP), "ub", 1), allocated(l, "b", "ub", "10.43.0.10")}
			}, `{"type":"NodePort","clusterIP":"10.43.0.10","ports":[{"port":80,"nodePort":30080}]}`, "", nil},
		{"headless to a cluster IP is refused",
			func(t *testing.T, l *pt.Log) []events.Record {
				return []events.Record{l.Accepted(svc(t, "b", `{"clusterIP":"None"}`), "ub", 1)}
			}, portsOnly, "", []string{"spec.clusterIP: field is immutable: the Service has None, this asks for a cluster IP (delete the Service and create it again to change it)"}},
		{"a cluster IP to headless is refused",
			func(t *testing.T, l *pt.Log) []events.Record {
				return []events.Record{l.Accepted(svc(t, "b", portsOnly), "ub", 1), allocated(l, "b", "ub", "10.43.0.10")}
			}, `{"clusterIP":"None"}`, "", []string{"spec.clusterIP: field is immutable: the Service has a cluster IP, this asks for None (delete the Service and create it again to change it)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			if tt.given != nil {
				w.apply(tt.given(t, w.l)...)
			}
			name := tt.apply
			if name == "" {
				name = "b"
			}
			w.apply(w.l.IntentApplyObject(svc(t, name, tt.spec)))
			ds := w.decide()
			if len(ds) != 1 {
				t.Fatalf("decisions:\n%s", show(ds))
			}
			if tt.want == nil {
				acceptedOf(t, ds[0])
				return
			}
			if r := rejectedOf(t, ds[0]); !reflect.DeepEqual(r.Reasons, tt.want) {
				t.Errorf("reasons\n  %q\nwant\n  %q", r.Reasons, tt.want)
			}
		})
	}
}

// Two Services asking for one clusterIP in one pass: the first in the log
// gets it, the second is refused; and one accepted in a verdict still
// being stored holds its address for the next pass.
func TestServiceAddressesInOnePass(t *testing.T) {
	w := newWorld(t)
	w.apply(w.l.IntentApplyObject(svc(t, "a", askIP)), w.l.IntentApplyObject(svc(t, "b", askIP)))
	ds := w.decide()
	if len(ds) != 2 {
		t.Fatalf("decisions:\n%s", show(ds))
	}
	acceptedOf(t, ds[0])
	if r := rejectedOf(t, ds[1]); !reflect.DeepEqual(r.Reasons, []string{ipTakenByA}) || r.Name != "b" {
		t.Errorf("b: %+v", r)
	}

	w = newWorld(t)
	w.apply(w.l.IntentApplyObject(svc(t, "a", askPort)))
	ds = w.decide()
	w.svc.Assume(ds) // being stored, not read back
	w.apply(w.l.IntentApplyObject(svc(t, "c", askPort)))
	ds = w.decide()
	if len(ds) != 1 {
		t.Fatalf("decisions:\n%s", show(ds))
	}
	if r := rejectedOf(t, ds[0]); !reflect.DeepEqual(r.Reasons, []string{"spec.ports[0].nodePort: invalid value 30080: provided port is already allocated (to service default/a)"}) {
		t.Errorf("c: %+v", r)
	}
	// The log did not store a's verdict: its port is free again (a is
	// judged again too, and first).
	w.svc.Forget(runner.Decision{Event: acceptedOfFirst(t, w)})
	ds = w.decide()
	if len(ds) != 2 {
		t.Fatalf("decisions after forget:\n%s", show(ds))
	}
	acceptedOf(t, ds[0])
	rejectedOf(t, ds[1])
}

// acceptedOfFirst is the verdict on the first intent in w's log, as a
// Forget would be handed it.
func acceptedOfFirst(t *testing.T, w *world) *events.AdmissionAccepted {
	t.Helper()
	r := w.l.Records[0]
	return &events.AdmissionAccepted{IntentSeq: r.Seq, IntentID: r.Envelope.ID, Op: events.OpApply, Kind: "service", Namespace: ns, Name: "a"}
}
