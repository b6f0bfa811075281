// Package api holds Gantry's wire types that are not events: the records the
// projector keeps in KV and the node agent's request/reply protocols. The
// services and the node agent write them; the CLI reads them. Events, the
// log's own types, are in package events.
//
// The JSON shapes are what is stored and sent: a field renamed here makes
// records already in KV, and nodes of another version, unreadable.
package api
