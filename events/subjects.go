package events

import (
	"fmt"
	"strings"
	"time"
)

// Stream names.
const (
	StreamIntents      = "GANTRY_INTENTS"
	StreamDecisions    = "GANTRY_DECISIONS"
	StreamObservations = "GANTRY_OBSERVATIONS"
	StreamHeartbeats   = "GANTRY_HEARTBEATS"
)

// StreamSpec says what a stream holds; events/bus turns it into a JetStream config.
type StreamSpec struct {
	Name              string
	Subjects          []string
	MaxAge            time.Duration // 0: kept
	MaxMsgsPerSubject int64         // 0: unlimited
	AllowRollup       bool
	AllowAtomic       bool
	// MaxConsumers, when set, lifts nats-server's default of 1,000 consumers
	// per stream (-1 does not: the server then applies its default).
	MaxConsumers int
	// Memory keeps the stream in memory, never on disk: for what its writers
	// send again anyway (heartbeats), so a server restart loses nothing that
	// is not back within one interval.
	Memory bool
}

// MaxNodes is the most node agents one cluster is provisioned for.
const MaxNodes = 100_000

// Streams are the four streams of the log (DESIGN.md §2).
func Streams() []StreamSpec {
	return []StreamSpec{
		{Name: StreamIntents, Subjects: []string{SubjectIntentAll}},
		// Node RPC (gantry.node.<n>.rpc.*) is request/reply and must stay out of the
		// stream, so only the pod subjects under gantry.node are captured.
		// Every node agent holds one durable consumer here.
		{Name: StreamDecisions, Subjects: []string{SubjectDecisionAll, SubjectNodePodAll, SubjectNodeConfigAll, SubjectNodeVolumeAll}, AllowRollup: true, AllowAtomic: true,
			MaxConsumers: MaxNodes + 1000},
		// A node's reports of a burst of pods go as one atomic batch.
		{Name: StreamObservations, Subjects: []string{SubjectObsAll}, MaxAge: 7 * 24 * time.Hour, AllowAtomic: true},
		// Heartbeats live in memory, as Nomad's and Swarm's do: each node sends
		// one every few seconds, so storing them on disk (an fsync each, 500/s
		// at 5,000 nodes beating every 10 s) would buy nothing a restart does
		// not get back within one interval. A node's registration is in the
		// observations.
		{Name: StreamHeartbeats, Subjects: []string{SubjectHeartbeatAll}, MaxMsgsPerSubject: 1, Memory: true},
	}
}

// Subjects come in pairs: a wildcard to subscribe, a builder to publish.
const (
	SubjectIntentAll       = "gantry.intent.>"
	SubjectDecisionAll     = "gantry.decision.>"
	SubjectAdmissionAll    = "gantry.decision.admission.>"
	SubjectPodDecAll       = "gantry.decision.pod.>"
	SubjectNodeDecisionAll = "gantry.decision.node.>"
	SubjectNodePodAll      = "gantry.node.*.pod.>"
	SubjectNodeConfigAll   = "gantry.node.*.config.>"
	SubjectNodeVolumeAll   = "gantry.node.*.volume.>"
	SubjectObsAll          = "gantry.obs.>"
	SubjectHeartbeatAll    = "gantry.hb.>"
	SubjectObsPodAll       = "gantry.obs.*.pod.>"
	SubjectObsNodeAll      = "gantry.obs.*.node"
	SubjectIngestAll       = "gantry.ingest.obs.*"
	subjectNodeRPCFormat   = "gantry.node.%s.rpc.%s"
)

// IntentSubject is where a user's change to one object is appended.
func IntentSubject(ns, kind, name string) string {
	return fmt.Sprintf("gantry.intent.%s.%s.%s", ns, kind, name)
}

// ClusterScope is the namespace token of cluster-wide objects (nodes); it is
// not a DNS label, so no namespace can take it.
const ClusterScope = "_cluster"

// NodeDecisionSubject holds the decisions about one node (cordon).
func NodeDecisionSubject(node string) string { return "gantry.decision.node." + node }

// NodeStateSubject holds the health service's decisions on whether one node
// is Ready: the node state's fence. It is not under NodeDecisionSubject,
// which admission reads and fences for cordons.
func NodeStateSubject(node string) string { return SubjectNodeStatePrefix + node }

// SubjectNodeStatePrefix starts every NodeStateSubject; SubjectNodeStateAll
// matches them.
const (
	SubjectNodeStatePrefix = "gantry.decision.nodestate."
	SubjectNodeStateAll    = "gantry.decision.nodestate.>"
)

// AdmissionSubject holds the verdicts on one object.
func AdmissionSubject(ns, kind, name string) string {
	return fmt.Sprintf("gantry.decision.admission.%s.%s.%s", ns, kind, name)
}

// WorkloadSubject holds a controller's decisions on one object (made,
// changed, deleted, its status): the object's fence for them.
func WorkloadSubject(ns, kind, name string) string {
	return "gantry.decision.workload." + ns + "." + kind + "." + name
}

// SubjectWorkloadAll matches every WorkloadSubject.
const SubjectWorkloadAll = "gantry.decision.workload.>"

// PodDecisionSubject holds every decision on one pod: planned,
// unschedulable, bound, deleted. It is the pod's fence: each decision
// expects the last sequence on it, so two writers cannot both bind (or bind
// and delete) one pod. Decisions a node must act on (bound, deleted on a
// node) are copied to NodePodSubject in the same atomic batch.
func PodDecisionSubject(ns, pod string) string {
	return SubjectPodDecPrefix + ns + "." + pod
}

// SubjectPodDecPrefix starts every PodDecisionSubject.
const SubjectPodDecPrefix = "gantry.decision.pod."

// PodOfDecisionSubject names the pod a PodDecisionSubject is about.
func PodOfDecisionSubject(subject string) (ns, pod string, ok bool) {
	rest, ok := strings.CutPrefix(subject, SubjectPodDecPrefix)
	if ok {
		ns, pod, ok = strings.Cut(rest, ".")
	}
	if !ok {
		return "", "", false
	}
	return ns, pod, true
}

// FilterCovers reports whether every subject filter b takes is taken by the
// filter a (tokens, "*" for one token, a final ">" for one or more). A
// subject is a filter that takes only itself, so FilterCovers(filter,
// subject) is whether the filter takes the subject.
func FilterCovers(a, b string) bool {
	for {
		at, arest, amore := strings.Cut(a, ".")
		if at == ">" {
			return true
		}
		bt, brest, bmore := strings.Cut(b, ".")
		if bt == ">" || (at != "*" && at != bt) {
			return false
		}
		if !amore || !bmore {
			return amore == bmore
		}
		a, b = arest, brest
	}
}

// NodePodSubject holds the copies of a pod's decisions addressed to one node
// (bound, deleted): a node agent consumes gantry.node.<self>.>. Services read
// the originals on PodDecisionSubject and never these copies.
func NodePodSubject(node, ns, pod string) string {
	return fmt.Sprintf("gantry.node.%s.pod.%s.%s", node, ns, pod)
}

// NodeConfigSubject holds what a node is given of one ConfigMap or Secret
// its pods use (kind is the token: configmap, secret): the data, a Secret's
// sealed to the node's own key, or that it is gone.
func NodeConfigSubject(node, ns, kind, name string) string {
	return fmt.Sprintf("gantry.node.%s.config.%s.%s.%s", node, ns, kind, name)
}

// NodeVolumeSubject holds what a node is told of one persistent volume it
// keeps (provisioned on it, bound to a claim, to be deleted).
func NodeVolumeSubject(node, pv string) string {
	return fmt.Sprintf("gantry.node.%s.volume.%s", node, pv)
}

// NodeFilter is what a node agent consumes.
func NodeFilter(node string) string { return fmt.Sprintf("gantry.node.%s.>", node) }

// ObsPodSubject is where a node reports what it sees of one pod.
func ObsPodSubject(node, ns, pod string) string {
	return fmt.Sprintf("gantry.obs.%s.pod.%s.%s", node, ns, pod)
}

// ObsNodeSubject is where a node reports itself.
func ObsNodeSubject(node string) string { return fmt.Sprintf("gantry.obs.%s.node", node) }

// IngestSubject is where a node hands its reports to the control plane's
// ingest, which stores many nodes' reports in one write. It is request/reply
// and no stream captures it.
func IngestSubject(node string) string { return "gantry.ingest.obs." + node }

// ObsNodePrefix starts every subject a node reports on.
func ObsNodePrefix(node string) string { return "gantry.obs." + node + "." }

// HeartbeatSubject keeps the last heartbeat of one node.
func HeartbeatSubject(node string) string { return "gantry.hb." + node }

// NodeRPCSubject is a node's request/reply endpoint (logs, exec).
func NodeRPCSubject(node, verb string) string { return fmt.Sprintf(subjectNodeRPCFormat, node, verb) }

// Header names used by every writer.
const (
	HeaderMsgID                 = "Nats-Msg-Id"
	HeaderExpectedLastSubjSeq   = "Nats-Expected-Last-Subject-Sequence"
	HeaderExpectedLastSubjSeqOn = "Nats-Expected-Last-Subject-Sequence-Subject"
)
