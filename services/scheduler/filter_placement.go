package scheduler

import (
	"strings"

	"github.com/gantry-sh/gantry/events/placement"
)

// NamePlacementRule names the PlacementRule filter.
const NamePlacementRule = "PlacementRule"

const reasonPlacement = "node(s) didn't match placement rule"

// PlacementRule refuses nodes that do not satisfy the pod's CEL placement
// rule (annotation gantry.dev/placement, package events/placement). A rule
// that fails to evaluate on a node does not match it, and the reason carries
// the error, once: "node(s) didn't match placement rule: no such key: zone
// (…)"; nodes failing with the same error count under one reason.
// A rule that does not compile refuses every node with its compile error.
type PlacementRule struct{}

// Name implements Filter.
func (PlacementRule) Name() string { return NamePlacementRule }

// Relevant implements Filter.
func (PlacementRule) Relevant(p *PodInfo) bool { return p.hasPlacementRule() }

// Filter implements Filter. A node remembers each rule's verdict until what
// it reports changes, so the replicas of a Deployment evaluate their rule
// once per node.
func (PlacementRule) Filter(p *PodInfo, n *NodeState) string {
	if p.ruleErr != "" {
		return p.ruleErr
	}
	if r, ok := n.ruleMemo[p.rule]; ok {
		return r
	}
	reason := ""
	ok, err := p.rule.Eval(n.view)
	switch {
	case err != nil:
		reason = placementReason(err)
	case !ok:
		reason = reasonPlacement
	}
	if n.ruleMemo == nil || len(n.ruleMemo) >= maxRuleMemo {
		n.ruleMemo = map[*placement.Rule]string{}
	}
	n.ruleMemo[p.rule] = reason
	return reason
}

// placementReason words a rule's error as a reason, naming the rule once.
func placementReason(err error) string {
	return reasonPlacement + ": " + strings.TrimPrefix(err.Error(), "placement rule: ")
}

// maxRuleMemo bounds the verdicts a node remembers.
const maxRuleMemo = 64
