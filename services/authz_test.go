package services_test

import (
	"slices"
	"testing"

	"github.com/gantry-sh/gantry/events/authz"
	"github.com/gantry-sh/gantry/services"
)

// Every service the control plane runs is in system:masters by its name
// (authz.ServiceActors), and nothing else is.
func TestServiceActorsAreTheServices(t *testing.T) {
	names := services.Names()
	for _, n := range names {
		if !slices.Contains(authz.ServiceActors, n) {
			t.Errorf("service %q is not in authz.ServiceActors", n)
		}
	}
	for _, n := range authz.ServiceActors {
		if !slices.Contains(names, n) {
			t.Errorf("authz.ServiceActors names %q, which is no service", n)
		}
	}
}
