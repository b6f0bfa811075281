package api

import "time"

// LogsRequest asks a node for a container's log. The node streams the log as
// messages to the request's reply subject and ends with an empty message
// carrying HeaderEOF (and HeaderError on failure). With Follow the client
// publishes to <reply>.alive at least every LogsKeepAlive; the node stops
// when it hears nothing for three of those. Previous asks for the log of the
// container's instance before its last restart (kubectl logs -p); that log
// never grows, so it is not followed.
type LogsRequest struct {
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
	Container string `json:"container,omitempty"`
	Follow    bool   `json:"follow,omitempty"`
	Previous  bool   `json:"previous,omitempty"`
}

// Headers of the logs protocol.
const (
	HeaderEOF     = "Gantry-Eof"
	HeaderError   = "Gantry-Error"
	LogsKeepAlive = 2 * time.Second
)
