package identity

import (
	"github.com/nats-io/jwt/v2"

	"github.com/gantry-sh/gantry/events"
)

// The names of the cluster's identities (the user JWTs' names).
const (
	ControlPlane = "control-plane"
	Admin        = "admin"
	Simulator    = "simulator"
)

// NodeName is the identity of the node agent named node.
func NodeName(node string) string { return "node/" + node }

// NodeInbox is the inbox prefix of a node's connection
// (nats.CustomInboxPrefix): outside _INBOX, so another node, which may
// answer users' requests on _INBOX.>, cannot answer in its place (forge the
// messages of its consumer).
func NodeInbox(node string) string { return "_GANTRY.node." + node }

// ControlPlaneInbox and SimulatorInbox are the inbox prefixes of the
// services' and the simulator's connections, outside _INBOX for the same
// reason.
const (
	ControlPlaneInbox = "_GANTRY.cp"
	SimulatorInbox    = "_GANTRY.sim"
)

// NodePermissions are what the node agent named node may do; the server
// refuses the rest. docs/security-identity.md says why each is there.
func NodePermissions(node string) jwt.Permissions {
	return jwt.Permissions{
		Pub: jwt.Permission{Allow: nodePub(node)},
		Sub: jwt.Permission{Allow: nodeSub(node)},
	}
}

func nodePub(n string) jwt.StringList {
	d := events.StreamDecisions
	cons := "node-" + n
	return jwt.StringList{
		// Its reports: observations, heartbeats, the ingest of bursts.
		"gantry.obs." + n + ".>",
		events.HeartbeatSubject(n),
		events.IngestSubject(n),
		// Answers to users' logs and port-forward requests, which reply on
		// their inboxes.
		"_INBOX.>",
		// Its own durable consumer on its own subjects: create, ack.
		"$JS.API.CONSUMER.CREATE." + d + "." + cons + "." + events.NodeFilter(n),
		"$JS.ACK." + d + "." + cons + ".>",
		// Not yet restricted: info, next and delete of any consumer of the
		// two streams it reads. Its ordered consumers have random names, and
		// a permission cannot tell them from another node's durable
		// (docs/security-identity.md).
		"$JS.API.CONSUMER.INFO." + d + ".*",
		"$JS.API.CONSUMER.MSG.NEXT." + d + ".*",
		"$JS.API.CONSUMER.DELETE." + d + ".*",
		"$JS.API.CONSUMER.INFO." + events.StreamObservations + ".*",
		"$JS.API.CONSUMER.MSG.NEXT." + events.StreamObservations + ".*",
		"$JS.API.CONSUMER.DELETE." + events.StreamObservations + ".*",
		// The fence's liveness check (AccountInfo).
		"$JS.API.INFO",
		"$JS.API.STREAM.INFO.*", // a stream's config and counts, read before each of its reads
		// Direct gets naming the subject, of its own only: its creation time
		// (its last registration and heartbeat), the end of its restore (its
		// last decision, its pods' last reports).
		"$JS.API.DIRECT.GET." + events.StreamObservations + ".gantry.obs." + n + ".>",
		"$JS.API.DIRECT.GET." + events.StreamHeartbeats + "." + events.HeartbeatSubject(n),
		"$JS.API.DIRECT.GET." + d + "." + events.NodeFilter(n),
		// Ordered consumers, each on one filter named in the subject: its
		// restore (its decisions, its pods' reports), the pod CIDRs and the
		// nodes' registrations (its routes to other nodes' pods).
		"$JS.API.CONSUMER.CREATE." + d + ".*." + events.NodeFilter(n),
		"$JS.API.CONSUMER.CREATE." + d + ".*." + events.SubjectNodeCIDRAlloc,
		"$JS.API.CONSUMER.CREATE." + events.StreamObservations + ".*.gantry.obs." + n + ".pod.>",
		"$JS.API.CONSUMER.CREATE." + events.StreamObservations + ".*." + events.SubjectObsNodeAll,
		// Not yet restricted: the Services watch (node/services.go) folds four
		// filters in stream order with one ordered consumer, whose create
		// request names no filter; so this subject lets a node create (or
		// update) any consumer of the decisions stream whose filters are in
		// the request's body (docs/security-identity.md).
		"$JS.API.CONSUMER.CREATE." + d + ".*",
	}
}

func nodeSub(n string) jwt.StringList {
	return jwt.StringList{
		"gantry.node." + n + ".>", // its RPCs (logs, port-forward)
		NodeInbox(n) + ".>",       // the answers to its own requests, its consumers' messages
		"_INBOX.*.alive",          // a following logs client's keep-alives
	}
}

// ControlPlanePermissions are the services': the whole account (they
// provision the streams, write decisions, leases and read models).
func ControlPlanePermissions() jwt.Permissions { return jwt.Permissions{} }

// AdminPermissions are a user's: intents, reads, requests to nodes and to
// the control plane; never a decision, a node's report, a lease or a read
// model (the server refuses those publishes).
func AdminPermissions() jwt.Permissions {
	return jwt.Permissions{Pub: jwt.Permission{Deny: jwt.StringList{
		events.SubjectDecisionAll,
		"gantry.node.*.pod.>", "gantry.node.*.config.>", "gantry.node.*.volume.>",
		events.SubjectObsAll, events.SubjectHeartbeatAll, "gantry.ingest.>",
		"$KV.>",
	}}}
}

// SimulatorPermissions are the shared identity of `gantry sim`'s nodes:
// a node's, for every node (it acts for all the nodes it simulates).
func SimulatorPermissions() jwt.Permissions {
	return jwt.Permissions{
		Pub: jwt.Permission{Allow: jwt.StringList{
			"gantry.obs.>", "gantry.hb.*", "gantry.ingest.obs.*", "_INBOX.>",
			"$JS.API.CONSUMER.CREATE." + events.StreamDecisions + ".*.gantry.node.*.>",
			"$JS.API.CONSUMER.CREATE." + events.StreamObservations + ".*.gantry.obs.*.pod.>",
			"$JS.API.CONSUMER.CREATE." + events.StreamObservations + ".*." + events.SubjectObsNodeAll,
			"$JS.API.CONSUMER.CREATE." + events.StreamDecisions + ".*." + events.SubjectNodeCIDRAlloc,
			// Its shared consumer follows every node's subjects with several
			// filters: a create naming none (not restricted, as a node's).
			"$JS.API.CONSUMER.CREATE." + events.StreamDecisions + ".*",
			"$JS.API.CONSUMER.INFO." + events.StreamDecisions + ".*",
			"$JS.API.CONSUMER.MSG.NEXT." + events.StreamDecisions + ".*",
			"$JS.API.CONSUMER.DELETE." + events.StreamDecisions + ".*",
			"$JS.API.CONSUMER.INFO." + events.StreamObservations + ".*",
			"$JS.API.CONSUMER.MSG.NEXT." + events.StreamObservations + ".*",
			"$JS.API.CONSUMER.DELETE." + events.StreamObservations + ".*",
			"$JS.ACK." + events.StreamDecisions + ".>",
			"$JS.API.INFO", "$JS.API.STREAM.INFO.*",
			"$JS.API.DIRECT.GET." + events.StreamObservations + ".gantry.obs.>",
			"$JS.API.DIRECT.GET." + events.StreamHeartbeats + ".gantry.hb.*",
			"$JS.API.DIRECT.GET." + events.StreamDecisions + ".gantry.node.>",
		}},
		Sub: jwt.Permission{Allow: jwt.StringList{"gantry.node.>", SimulatorInbox + ".>", "_INBOX.*.alive"}},
	}
}
