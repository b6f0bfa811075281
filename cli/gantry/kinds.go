package main

import (
	"fmt"
	"github.com/gantry-sh/gantry/events/manifest"
	"strings"
)

// kindOf maps what a user types (deployment, deployments, deploy, pod, po,
// node, no) to the lower-case kind used in subjects and read models.
func kindOf(s string) (string, error) {
	switch strings.ToLower(s) {
	case "deployment", "deployments", "deploy", "deployment.apps", "deployments.apps":
		return "deployment", nil
	case "pod", "pods", "po":
		return "pod", nil
	case "node", "nodes", "no":
		return "node", nil
	}
	return "", fmt.Errorf("unknown resource type %q: want deployments, pods or nodes", s)
}

// displayKind is how kubectl names a kind in its messages (deployment.apps/hello).
func displayKind(kind string) string {
	if kind == "deployment" {
		return "deployment.apps"
	}
	return kind
}

// validateNodeName checks a node name is a DNS-1123 label (it is a subject
// token in every node subject).
func validateNodeName(name string) error {
	if fe := manifest.ValidateName("node name", name); fe != nil {
		return fe
	}
	return nil
}
