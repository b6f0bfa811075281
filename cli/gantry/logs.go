package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/node"
)

// Time limits of the logs protocol on the client's side.
const (
	logsAnswerWait = 5 * time.Second  // for the node's first message
	logsIdleWait   = 30 * time.Second // between messages, when not following
)

type logsOptions struct {
	namespace string
	container string
	follow    bool
}

func newLogsCmd(g *globals) *cobra.Command {
	var o logsOptions
	c := &cobra.Command{
		Use:   "logs POD",
		Short: "Print a container's log, fetched from the pod's node",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := logsPodName(args[0])
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			conn, err := g.connect("logs")
			if err != nil {
				return err
			}
			defer conn.Close()
			return runLogs(ctx, conn, o, name, g.out, g.errOut)
		},
	}
	c.Flags().StringVarP(&o.namespace, "namespace", "n", manifest.DefaultNamespace, "namespace")
	c.Flags().StringVarP(&o.container, "container", "c", "", "container (default: the pod's first)")
	c.Flags().BoolVarP(&o.follow, "follow", "f", false, "stream the log until interrupted")
	return c
}

// logsPodName accepts NAME or pod/NAME, like kubectl.
func logsPodName(arg string) (string, error) {
	t, name, ok := strings.Cut(arg, "/")
	if !ok {
		return arg, nil
	}
	kind, err := kindOf(t)
	if err != nil {
		return "", err
	}
	if kind != "pod" {
		return "", fmt.Errorf("logs of %s %s: only pods have logs", displayKind(kind), name)
	}
	return name, nil
}

func runLogs(ctx context.Context, conn *bus.Conn, o logsOptions, pod string, out, errOut io.Writer) error {
	if err := awaitReadModel(ctx, conn.JS, errOut); err != nil {
		return err
	}
	kv, err := conn.JS.KeyValue(ctx, bus.BucketPods)
	if err != nil {
		return fmt.Errorf("read model %s: %w", bus.BucketPods, err)
	}
	r, err := getResource(ctx, kv, resourceKinds["pod"], o.namespace, pod)
	if err != nil {
		return err
	}
	if r.pod.Node == "" {
		return fmt.Errorf("pod %s is not scheduled yet", pod)
	}
	req := node.LogsRequest{Namespace: o.namespace, Pod: pod, Container: o.container, Follow: o.follow}
	return streamLogs(ctx, conn.NC, r.pod.Node, req, out)
}

// streamLogs asks the node for the log and copies it to out until the node's
// end-of-log message (its error header is the error), or until ctx ends
// when following.
func streamLogs(ctx context.Context, nc *nats.Conn, nodeName string, req node.LogsRequest, out io.Writer) error {
	data, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode logs request: %w", err)
	}
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return fmt.Errorf("logs of %s: %w", req.Pod, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	_ = sub.SetPendingLimits(-1, 256<<20)
	if err := nc.PublishRequest(events.NodeRPCSubject(nodeName, "logs"), inbox, data); err != nil {
		return fmt.Errorf("logs of %s: ask node %s: %w", req.Pod, nodeName, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if req.Follow {
		go keepLogsAlive(ctx, nc, inbox+".alive")
	}
	silent := fmt.Errorf("node %s did not answer (is its agent running?)", nodeName)
	first := true
	for {
		m, err := nextLogMsg(ctx, sub, logsWait(req.Follow, first))
		switch {
		case err == nil:
		case errors.Is(err, nats.ErrNoResponders):
			return silent
		case ctx.Err() != nil && req.Follow:
			return nil // interrupted: the node stops when the keepalives stop
		case errors.Is(err, context.DeadlineExceeded) && first && req.Follow:
			// No 503 came back, so the node listens; a followed log may
			// stay quiet for long.
			first = false
			continue
		case errors.Is(err, context.DeadlineExceeded) && first:
			return silent
		case errors.Is(err, context.DeadlineExceeded):
			return fmt.Errorf("node %s stopped sending the log of %s", nodeName, req.Pod)
		default:
			return fmt.Errorf("logs of %s: %w", req.Pod, err)
		}
		if first && isNoResponders(m) {
			return silent
		}
		first = false
		if m.Header.Get(node.HeaderEOF) != "" {
			if e := m.Header.Get(node.HeaderError); e != "" {
				return errors.New(e)
			}
			return nil
		}
		if _, err := out.Write(m.Data); err != nil {
			return fmt.Errorf("write log: %w", err)
		}
	}
}

// logsWait is how long to wait for the next message: the node answers within
// logsAnswerWait and then keeps sending within logsIdleWait, but a followed
// log may be quiet for ever (0: no limit).
func logsWait(follow, first bool) time.Duration {
	switch {
	case first:
		return logsAnswerWait
	case follow:
		return 0
	}
	return logsIdleWait
}

// nextLogMsg waits for the next message, at most wait (0: no limit).
func nextLogMsg(ctx context.Context, sub *nats.Subscription, wait time.Duration) (*nats.Msg, error) {
	if wait == 0 {
		return sub.NextMsgWithContext(ctx)
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return sub.NextMsgWithContext(wctx)
}

// isNoResponders recognises the server's 503 status: nobody subscribes to
// the node's logs subject.
func isNoResponders(m *nats.Msg) bool {
	return len(m.Data) == 0 && m.Header.Get("Status") == "503"
}

// keepLogsAlive tells the node the reader is still there.
func keepLogsAlive(ctx context.Context, nc *nats.Conn, subject string) {
	t := time.NewTicker(node.LogsKeepAlive)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = nc.Publish(subject, nil)
		}
	}
}
