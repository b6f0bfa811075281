package client

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

// shortType names an event type the way people say it: PodBound for
// gantry.pod.bound.v1 (the Go type of its struct). An unknown type is shown
// as it is.
func shortType(typ string) string {
	ev, err := events.Decode(typ, []byte("{}"))
	if err != nil {
		return typ
	}
	t := reflect.TypeOf(ev)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// summarize is one line about an event for people: what happened, in the
// words of the object it is about.
func summarize(ev events.Event) string {
	switch e := ev.(type) {
	case *events.IntentApplied:
		verb := "apply"
		if e.Create {
			verb = "create"
		}
		return fmt.Sprintf("%s %s %s/%s", verb, e.Kind, e.Namespace, e.Name)
	case *events.IntentDeleted:
		return fmt.Sprintf("delete %s %s/%s", e.Kind, e.Namespace, e.Name)
	case *events.IntentEvict:
		return fmt.Sprintf("evict pod %s/%s", e.Namespace, e.Name)
	case *events.AdmissionAccepted:
		return summarizeAccepted(e)
	case *events.AdmissionRejected:
		return fmt.Sprintf("rejected %s of %s %s/%s: %s", e.Op, e.Kind, e.Namespace, e.Name, strings.Join(e.Reasons, "; "))
	case *events.WorkloadDecided:
		return summarizeWorkloadDecided(e)
	case *events.WorkloadDeleted:
		return fmt.Sprintf("deleted %s %s/%s: %s", e.Kind, e.Namespace, e.Name, e.Reason)
	case *events.WorkloadStatusDecided:
		return summarizeWorkloadStatus(e)
	case *events.PodPlanned:
		return summarizePlanned(e)
	case *events.PodBound:
		return summarizeBound(e)
	case *events.PodUnschedulable:
		return e.Message
	case *events.PodDeleted:
		return summarizeDeleted(e)
	case *events.PodStatusObserved:
		return summarizeStatus(e)
	case *events.PodReleased:
		return "released: " + e.Reason
	case *events.PodAdopted:
		return fmt.Sprintf("adopted by %s %s", e.Owner.Kind, e.Owner.Name)
	case *events.PodRemoved:
		return fmt.Sprintf("removed from %s (epoch %d)", e.Node, e.Epoch)
	case *events.NodeRegistered:
		return "registered: " + summarizeNodeInfo(e.Node)
	case *events.NodeHeartbeat:
		return fmt.Sprintf("alive: %s", plural(e.Pods, "pod", "pods"))
	case *events.IntentCordon:
		if e.Unschedulable {
			return "cordon node " + e.Node
		}
		return "uncordon node " + e.Node
	case *events.NodeCordoned:
		if e.Unschedulable {
			return "cordoned: no new pods on " + e.Node
		}
		return "uncordoned: " + e.Node + " takes new pods"
	case *events.NodeStateDecided:
		if e.Ready {
			return "node " + e.Node + " is Ready"
		}
		return fmt.Sprintf("node %s is NotReady (%s): %s", e.Node, e.Reason, e.Message)
	case *events.LogLossAccepted:
		return summarizeLoss(e)
	case *events.ServiceAllocated:
		return summarizeAllocated(e)
	case *events.NodeCIDRRequested:
		if e.Requested != "" {
			return fmt.Sprintf("node %s asks for pod CIDR %s", e.Node, e.Requested)
		}
		return fmt.Sprintf("node %s asks for a pod CIDR", e.Node)
	case *events.NodeCIDRAllocated:
		if e.Refused != "" {
			return fmt.Sprintf("node %s pod CIDR refused: %s", e.Node, e.Refused)
		}
		return fmt.Sprintf("node %s pod CIDR %s", e.Node, e.PodCIDR)
	case *events.ConfigDelivered:
		// Key names and values stay out: a ConfigMap's are in its own
		// events, a Secret's are sealed.
		what := fmt.Sprintf("%s %s/%s", e.Kind, e.Namespace, e.Name)
		switch {
		case e.Withdrawn:
			return fmt.Sprintf("%s withdrawn from node %s", what, e.Node)
		case !e.Exists:
			return fmt.Sprintf("%s does not exist (told node %s)", what, e.Node)
		}
		return fmt.Sprintf("%s revision %d delivered to node %s", what, e.Revision, e.Node)
	case nil:
		return ""
	}
	return fmt.Sprintf("%s event", ev.Type())
}

// summarizeAllocated: "service default/web: cluster IP 10.43.0.10, node
// ports 30080, ingress 10.0.0.1", "... refused: <why>", "... released".
func summarizeAllocated(e *events.ServiceAllocated) string {
	s := fmt.Sprintf("service %s/%s", e.Namespace, e.Name)
	switch {
	case e.Released:
		return s + " released its cluster IP and node ports"
	case e.Refused != "":
		return s + " refused: " + e.Refused
	}
	var parts []string
	if e.ClusterIP != "" {
		parts = append(parts, "cluster IP "+e.ClusterIP)
	}
	var nps []string
	for _, np := range e.NodePorts {
		if np != 0 {
			nps = append(nps, fmt.Sprint(np))
		}
	}
	if len(nps) > 0 {
		parts = append(parts, "node ports "+strings.Join(nps, ","))
	}
	if len(e.Ingress) > 0 {
		parts = append(parts, "ingress "+strings.Join(e.Ingress, ","))
	}
	if len(parts) == 0 {
		return s + " allocated nothing (headless)"
	}
	return s + ": " + strings.Join(parts, ", ")
}

// summarizeLoss: "loss accepted: GANTRY_DECISIONS 76–150 lost, ends at 160; reset node-a consumer".
func summarizeLoss(e *events.LogLossAccepted) string {
	var rs []string
	for _, r := range e.Lost {
		if r.From == r.To {
			rs = append(rs, fmt.Sprint(r.From))
		} else {
			rs = append(rs, fmt.Sprintf("%d–%d", r.From, r.To))
		}
	}
	s := fmt.Sprintf("loss accepted: %s %s lost, ends at %d", e.Stream, strings.Join(rs, ","), e.LastSeq)
	if len(e.ResetReaders) > 0 {
		s += "; reset " + strings.Join(e.ResetReaders, ", ")
	}
	return s
}

func summarizeAccepted(e *events.AdmissionAccepted) string {
	s := fmt.Sprintf("accepted %s of %s %s/%s", e.Op, e.Kind, e.Namespace, e.Name)
	if e.Op == events.OpDelete || e.Op == events.OpEvict {
		return s
	}
	s += fmt.Sprintf(": generation %d", e.Generation)
	if e.Unchanged {
		s += " (unchanged)"
	}
	return s
}

func summarizePlanned(e *events.PodPlanned) string {
	s := "planned"
	if e.Owner != nil && e.Owner.Kind != "pod" {
		s += fmt.Sprintf(" for %s %s", e.Owner.Kind, e.Owner.Name)
	}
	return s + ": " + containerImages(e.Spec.Containers)
}

// containerImages lists containers as name=image, comma-separated.
func containerImages(cs []manifest.Container) string {
	if len(cs) == 0 {
		return "no containers"
	}
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.Name + "=" + c.Image
	}
	return strings.Join(parts, ", ")
}

// summarizeBound: "bound to node-1 (epoch 1): filters NodeReady, PodCount,
// ResourceFit; scores WorkloadSpread=100 LeastAllocated=97; 1 node feasible".
func summarizeBound(e *events.PodBound) string {
	head := fmt.Sprintf("bound to %s (epoch %d)", e.Node, e.Epoch)
	var details []string
	if len(e.Filters) > 0 {
		details = append(details, "filters "+strings.Join(e.Filters, ", "))
	}
	if len(e.Scores) > 0 {
		scores := make([]string, len(e.Scores))
		for i, s := range e.Scores {
			scores[i] = fmt.Sprintf("%s=%d", s.Name, s.Score)
		}
		details = append(details, "scores "+strings.Join(scores, " "))
	}
	details = append(details, plural(e.Feasible, "node", "nodes")+" feasible")
	return head + ": " + strings.Join(details, "; ")
}

func summarizeDeleted(e *events.PodDeleted) string {
	s := e.Reason
	if s == "" {
		s = "deleted"
	}
	if e.Node != "" {
		s += fmt.Sprintf(" (stop on %s, epoch %d)", e.Node, e.Epoch)
	}
	return s
}

// summarizeStatus: "Running on node-1, IP 10.42.0.5: web running, ready;
// sidecar waiting (ErrImagePull: pull failed)".
func summarizeStatus(e *events.PodStatusObserved) string {
	s := e.Phase
	if e.Reason != "" {
		s += " (" + e.Reason + ")"
	}
	s += " on " + e.Node
	if e.PodIP != "" {
		s += ", IP " + e.PodIP
	}
	if e.Message != "" {
		s += ", " + e.Message
	}
	if len(e.Containers) == 0 {
		return s
	}
	cs := make([]string, len(e.Containers))
	for i, c := range e.Containers {
		cs[i] = summarizeContainer(c)
	}
	return s + ": " + strings.Join(cs, "; ")
}

func summarizeContainer(c events.ContainerStatus) string {
	s := c.Name + " " + c.State
	var why []string
	if c.Reason != "" {
		why = append(why, c.Reason)
	}
	if c.State == events.ContainerTerminated && c.ExitCode != nil {
		why = append(why, fmt.Sprintf("exit code %d", *c.ExitCode))
	}
	if c.Message != "" {
		why = append(why, c.Message)
	}
	if len(why) > 0 {
		s += " (" + strings.Join(why, ": ") + ")"
	}
	if c.Ready {
		s += ", ready"
	}
	if c.RestartCount > 0 {
		s += ", " + plural(int(c.RestartCount), "restart", "restarts")
	}
	return s
}

func summarizeNodeInfo(n events.NodeInfo) string {
	var parts []string
	for _, r := range sortedResourceNames(n.Capacity) {
		parts = append(parts, r+" "+resourceQuantity(r, n.Capacity[r]))
	}
	if n.Runtime != "" {
		parts = append(parts, "runtime "+n.Runtime)
	}
	if n.Address != "" {
		parts = append(parts, "address "+n.Address)
	}
	if n.PodCIDR != "" {
		parts = append(parts, "pod CIDR "+n.PodCIDR)
	}
	return n.Name + " " + strings.Join(parts, ", ")
}

// sortedResourceNames orders cpu, memory, pods first, then the rest by name.
func sortedResourceNames(m map[string]int64) []string {
	rank := map[string]int{events.ResourceCPU: 0, events.ResourceMemory: 1, events.ResourcePods: 2}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		ri, oki := rank[names[i]]
		rj, okj := rank[names[j]]
		switch {
		case oki && okj:
			return ri < rj
		case oki != okj:
			return oki
		}
		return names[i] < names[j]
	})
	return names
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func summarizeWorkloadDecided(e *events.WorkloadDecided) string {
	s := fmt.Sprintf("%s %s/%s generation %d", e.Kind, e.Namespace, e.Name, e.Generation)
	if e.Owner != nil {
		s += fmt.Sprintf(" for %s %s", e.Owner.Kind, e.Owner.Name)
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

func summarizeWorkloadStatus(e *events.WorkloadStatusDecided) string {
	var parts []string
	said := map[string]bool{} // "reason: message" of the conditions, which Message often repeats
	for _, c := range e.Conditions {
		p := c.Type + "=" + c.Status
		if c.Reason != "" {
			p += " (" + c.Reason + ")"
		}
		if c.Message != "" {
			p += ": " + c.Message
		}
		parts = append(parts, p)
		said[c.Reason+": "+c.Message] = true
	}
	if r := e.Rollout; r != nil && summarizeRollout(r) != "" {
		parts = append(parts, summarizeRollout(r))
	}
	if e.LastScheduleTime != nil {
		parts = append(parts, "scheduled "+e.LastScheduleTime.UTC().Format(time.RFC3339))
	}
	if e.Desired != nil {
		parts = append(parts, fmt.Sprintf("desired %d", *e.Desired))
	}
	if e.Message != "" && !said[e.Message] {
		parts = append(parts, e.Message)
	}
	if len(parts) == 0 {
		return fmt.Sprintf("%s %s/%s status", e.Kind, e.Namespace, e.Name)
	}
	return fmt.Sprintf("%s %s/%s: %s", e.Kind, e.Namespace, e.Name, strings.Join(parts, "; "))
}

// summarizeRollout says what the rollout service decided of a
// Deployment's rollout: "rollout: stable revision 1, canary step 2".
func summarizeRollout(r *manifest.RolloutStatus) string {
	var b []string
	if r.StableRevision > 0 {
		b = append(b, fmt.Sprintf("stable revision %d", r.StableRevision))
	}
	if r.FailedGeneration > 0 {
		f := fmt.Sprintf("revision %d failed (%s: %s)", r.FailedRevision, r.Reason, r.Message)
		if r.RolledBackTo > 0 {
			f += fmt.Sprintf(", rolled back to revision %d", r.RolledBackTo)
		}
		b = append(b, f)
	}
	if r.CanaryHash != "" {
		b = append(b, fmt.Sprintf("canary step %d", r.CanaryStep))
	}
	if len(b) == 0 {
		return ""
	}
	return "rollout: " + strings.Join(b, ", ")
}
