package manifest

import (
	"reflect"
	"testing"
	"time"
)

// Users may not apply an EndpointSlice: the endpoints service decides them.
func TestEndpointSliceIsNotApplied(t *testing.T) {
	o := mustDecode(t, "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: web-1}\nspec: {addressType: IPv4, endpoints: []}\n")
	o.Defaults()
	checkErrs(t, Validate(o), []string{
		"kind: EndpointSlices are decided by the endpoints service from Services and their pods; apply a Service instead",
	})
}

// kubectl's columns: ADDRESSTYPE, PORTS (numbers), ENDPOINTS (three, then
// how many more).
func TestEndpointSliceColumns(t *testing.T) {
	es := &EndpointSliceSpec{AddressType: AddressTypeIPv4, Ports: []EndpointPort{{Name: "http", Protocol: ProtocolTCP, Port: 8080}, {Name: "dns", Protocol: ProtocolUDP, Port: 53}}}
	for _, ip := range []string{"10.42.0.5", "10.42.0.6", "10.42.1.7", "10.42.1.8"} {
		es.Endpoints = append(es.Endpoints, Endpoint{Addresses: []string{ip}})
	}
	o := Object{APIVersion: APIDiscoveryV1, Kind: KindEndpointSlice, Spec: es}
	var got []string
	for _, c := range o.Info().Columns {
		got = append(got, c.Cell(o, WorkloadStatus{}, time.Time{}))
	}
	if want := []string{"IPv4", "8080,53", "10.42.0.5,10.42.0.6,10.42.1.7 + 1 more..."}; !reflect.DeepEqual(got, want) {
		t.Errorf("columns %q, want %q", got, want)
	}
	o.Spec = &EndpointSliceSpec{AddressType: AddressTypeIPv4}
	got = got[:0]
	for _, c := range o.Info().Columns {
		got = append(got, c.Cell(o, WorkloadStatus{}, time.Time{}))
	}
	if want := []string{"IPv4", "<unset>", "<unset>"}; !reflect.DeepEqual(got, want) {
		t.Errorf("empty slice columns %q, want %q", got, want)
	}
}
