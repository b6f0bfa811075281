package probe

import (
	"github.com/gantry-sh/gantry/events/probecheck"
)

// CELCheck is an httpGet probe's CEL check (manifest.HTTPGetAction.CEL) over
// the response r: success when the expression holds. Checks compile once,
// into cache; admission has refused any that does not compile, so a
// compile error here means a manifest admitted before checks were.
func CELCheck(cache *probecheck.Cache, expr string, r *Response) Result {
	check, err := cache.Get(expr)
	if err != nil {
		return Failure("CEL check %q: %v", expr, err)
	}
	ok, err := check.Eval(probecheck.NewResponse(r.Status, r.Header, r.Body))
	if err != nil {
		return Failure("CEL check %q: %v", expr, err)
	}
	if !ok {
		return Failure("CEL check %q is false (status %d)", expr, r.Status)
	}
	return Result{Success: true}
}
