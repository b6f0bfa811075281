package api

import "time"

// PortForwardRequest asks a node to open a TCP connection to a port of a pod
// it runs and relay it (gantry port-forward). The client sends it on
// events.NodeRPCSubject(node, "portforward") with its inbox as the reply
// subject. The node answers there once: with HeaderPFOp "open", HeaderPFSubject
// (where the client sends its side of the connection) and HeaderPFCredit (how
// many bytes the client may send before the node grants more), or with
// HeaderEOF and HeaderError when it cannot connect. Then both sides relay
// (package api/relay): data, credits, half-close, close and keep-alives, each
// numbered by HeaderPFSeq.
type PortForwardRequest struct {
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
	// UID, when set, must be the pod's: a pod deleted and made again under
	// the same name is not the one the client chose.
	UID  string `json:"uid,omitempty"`
	Port int32  `json:"port"`
	// Window is how many bytes the node may send before the client grants
	// more.
	Window int64 `json:"window"`
}

// Headers and operations of the port-forward protocol. A message without
// HeaderPFOp carries data (never empty).
const (
	HeaderPFOp      = "Gantry-Pf-Op"
	HeaderPFSeq     = "Gantry-Pf-Seq"
	HeaderPFSubject = "Gantry-Pf-Subject"
	HeaderPFCredit  = "Gantry-Pf-Credit"

	PFOpen   = "open"   // the node's answer: the connection to the pod is open
	PFCredit = "credit" // the sender may send HeaderPFCredit more bytes
	PFEOF    = "eof"    // the sender sends no more data (TCP half-close)
	PFClose  = "close"  // the connection is over (HeaderError says why, if it failed)
	PFPing   = "ping"   // keep-alive

	// PortForwardKeepAlive is how often each side pings; a side that hears
	// nothing from the other for three of those ends the connection.
	PortForwardKeepAlive = time.Second
	// PortForwardChunk is the most one data message carries.
	PortForwardChunk = 32 << 10
	// PortForwardWindow is how many bytes each side lets the other send
	// ahead of what it has written out.
	PortForwardWindow = 512 << 10
)
