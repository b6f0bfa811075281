package probecheck

import (
	"cel.dev/cel-go/common/cost"
)

// maxHeaderNameLength is the longest header name the estimate assumes.
const maxHeaderNameLength = 256

// estimator gives CEL's cost estimate the sizes of a response, so a check
// that walks response.headers or a JSON list costs in proportion to
// MaxHeaders or MaxJSONEntries instead of an unbounded size.
type estimator struct{}

func (estimator) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	p := n.Path()
	if len(p) < 2 || p[0] != "response" {
		return nil
	}
	var sz cost.SizeEstimate
	switch {
	case p[1] == "body" && len(p) == 2:
		sz = cost.RangedSizeEstimate(0, MaxBodyBytes)
	case p[1] == "headers" && len(p) == 2:
		sz = cost.RangedSizeEstimate(0, MaxHeaders)
	case p[1] == "headers" && p[2] == "@keys":
		sz = cost.RangedSizeEstimate(1, maxHeaderNameLength)
	case p[1] == "headers":
		// response.headers['x'] or response.headers.x: a value
		sz = cost.RangedSizeEstimate(0, MaxHeaderBytes)
	case p[1] == "json":
		// any JSON value: a list, object or string of assumed size
		sz = cost.RangedSizeEstimate(0, MaxJSONEntries)
	default:
		return nil
	}
	return &sz
}

func (estimator) EstimateCallCost(function, overloadID string, target *cost.AstNode, args []cost.AstNode) *cost.CallEstimate {
	return nil
}
