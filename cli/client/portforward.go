package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/api"
	"github.com/gantry-sh/gantry/api/relay"
	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
)

// portForwardOptions are the flags of gantry port-forward.
type portForwardOptions struct {
	namespace string
	addresses []string
}

func newPortForwardCmd(g *Globals) *cobra.Command {
	o := portForwardOptions{}
	c := &cobra.Command{
		Use:   "port-forward TYPE/NAME [LOCAL_PORT:]REMOTE_PORT [...[LOCAL_PORT_N:]REMOTE_PORT_N]",
		Short: "Forward local ports to a pod, relayed by its node; of a svc/NAME, to a ready endpoint's target port",
		Example: "  gantry port-forward pod/hello-7c9f8d6b5a-x2k4p 8080:80\n  gantry port-forward svc/hello 8080:80\n" +
			"  gantry port-forward deploy/hello :80\n  gantry port-forward --address 0.0.0.0 pod/web 8443:443 9090",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return errors.New("TYPE/NAME and list of ports are required for port-forward")
			}
			kind, name, err := portForwardTarget(args[0])
			if err != nil {
				return err
			}
			ports, err := parsePortPairs(args[1:])
			if err != nil {
				return err
			}
			hosts, err := listenHosts(o.addresses)
			if err != nil {
				return err
			}
			return g.WithCluster(cmd, "port-forward", func(ctx context.Context, conn *bus.Conn) error {
				return runPortForward(ctx, conn, o.namespace, kind, name, ports, hosts, g.Out, g.ErrOut)
			})
		},
	}
	c.Flags().StringVarP(&o.namespace, "namespace", "n", manifest.DefaultNamespace, "namespace")
	c.Flags().StringSliceVar(&o.addresses, "address", []string{"localhost"},
		"addresses to listen on (comma separated): IP addresses or localhost (127.0.0.1 and ::1)")
	return c
}

// portForwardTarget accepts NAME (a pod) or TYPE/NAME: a pod, a Service, or
// an object with pods (deploy, rs, ds, job), whose first pod kubectl picks.
func portForwardTarget(arg string) (kind, name string, err error) {
	return podTarget(arg, func(kind string) error {
		if k := resourceKinds[kind]; kind != "service" && (k.info == nil || !k.info.HasPods) {
			return fmt.Errorf("cannot forward ports to %s: a pod, service, deployment, replicaset, daemonset or job has ports", k.qualifiedPlural())
		}
		return nil
	})
}

// portPair is one LOCAL:REMOTE argument; remote is a number or a port name,
// local 0 picks a free port.
type portPair struct {
	local     uint16
	remote    string
	sameLocal bool // REMOTE alone: the local port is the remote one, once resolved
}

// parsePortPairs reads kubectl's port arguments: 8080:80, 80 (the same
// locally), :80 (a free local port), 8080:http (a named container port).
func parsePortPairs(args []string) ([]portPair, error) {
	var out []portPair
	for _, a := range args {
		parts := strings.Split(a, ":")
		p := portPair{}
		switch len(parts) {
		case 1:
			p.remote, p.sameLocal = parts[0], true
		case 2:
			p.remote = parts[1]
			if parts[0] != "" {
				n, err := strconv.ParseUint(parts[0], 10, 16)
				if err != nil {
					return nil, fmt.Errorf("error parsing local port '%s': %w", parts[0], err)
				}
				p.local = uint16(n)
			}
		default:
			return nil, fmt.Errorf("invalid port format '%s'", a)
		}
		if p.remote == "" {
			return nil, fmt.Errorf("invalid port format '%s'", a)
		}
		if n, err := strconv.ParseUint(p.remote, 10, 16); err == nil && n == 0 {
			return nil, fmt.Errorf("remote port must be > 0: '%s'", a)
		} else if err != nil && manifest.ValidateName("port name", p.remote) != nil {
			return nil, fmt.Errorf("error parsing remote port '%s': not a port number or name", p.remote)
		}
		out = append(out, p)
	}
	return out, nil
}

// listenHosts are the addresses to listen on: localhost is 127.0.0.1 and
// ::1 (the second may be missing on the machine), anything else an IP.
func listenHosts(addresses []string) ([]listenHost, error) {
	var out []listenHost
	for _, a := range addresses {
		if a == "localhost" {
			out = append(out, listenHost{ip: "127.0.0.1"}, listenHost{ip: "::1", optional: true})
			continue
		}
		if net.ParseIP(a) == nil {
			return nil, fmt.Errorf("%s is not a valid IP", a)
		}
		out = append(out, listenHost{ip: a})
	}
	return out, nil
}

type listenHost struct {
	ip       string
	optional bool
}

// forwarded is one local port forwarded to a pod's port.
type forwarded struct {
	local  uint16
	remote int32
}

// runPortForward picks the pod, listens on every host and port, and relays
// each accepted connection through the pod's node until ctx ends (Ctrl-C).
func runPortForward(ctx context.Context, conn *bus.Conn, ns, kind, name string, pairs []portPair, hosts []listenHost, out, errOut io.Writer) error {
	if err := awaitReadModel(ctx, conn.JS, errOut); err != nil {
		return err
	}
	pod, svc, err := forwardPod(ctx, conn, ns, kind, name)
	if err != nil {
		return err
	}
	ports, err := resolvePorts(pod, svc, name, pairs)
	if err != nil {
		return err
	}
	if pod.Phase() != events.PhaseRunning || pod.Node == "" {
		return fmt.Errorf("unable to forward port because pod is not running. Current status=%s", pod.Phase())
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg  sync.WaitGroup
		omu sync.Mutex // one line at a time on out and errOut
		lns []net.Listener
	)
	say := func(w io.Writer, format string, args ...any) {
		omu.Lock()
		defer omu.Unlock()
		fmt.Fprintf(w, format, args...)
	}
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
		cancel()
		wg.Wait()
	}()
	for i := range ports {
		p := &ports[i]
		for _, h := range hosts {
			ln, err := net.Listen("tcp", net.JoinHostPort(h.ip, strconv.Itoa(int(p.local))))
			if err != nil && h.optional {
				continue
			}
			if err != nil {
				return fmt.Errorf("unable to listen on port %d: %w", p.local, err)
			}
			lns = append(lns, ln)
			// :REMOTE: the first listener picks the port, the others take it.
			p.local = uint16(ln.Addr().(*net.TCPAddr).Port)
			say(out, "Forwarding from %s -> %d\n", net.JoinHostPort(h.ip, strconv.Itoa(int(p.local))), p.remote)
			f := *p
			wg.Add(1)
			go func() {
				defer wg.Done()
				acceptForwarded(ctx, conn.NC, ln, pod, f, &wg, say, out, errOut)
			}()
		}
	}
	<-ctx.Done()
	return nil
}

// acceptForwarded relays every connection ln accepts, each in a goroutine
// of wg, until ln is closed.
func acceptForwarded(ctx context.Context, nc *nats.Conn, ln net.Listener, pod *projections.Pod, f forwarded,
	wg *sync.WaitGroup, say func(io.Writer, string, ...any), out, errOut io.Writer) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		say(out, "Handling connection for %d\n", f.local)
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := api.PortForwardRequest{Namespace: pod.Namespace, Pod: pod.Name, UID: pod.UID, Port: f.remote}
			s, err := relay.Ask(ctx, nc, pod.Node, req, c)
			if err == nil {
				err = s.Run(ctx)
			} else {
				_ = c.Close()
			}
			if err != nil && ctx.Err() == nil {
				say(errOut, "error: an error occurred forwarding %d -> %d: %v\n", f.local, f.remote, err)
			}
		}()
	}
}

// forwardPod is the pod to forward to: the one named, a ready endpoint of a
// Service, or an object's first pod (kubectl's choice, as for logs). svc is
// the Service's spec when one was named.
func forwardPod(ctx context.Context, conn *bus.Conn, ns, kind, name string) (*projections.Pod, *manifest.ServiceSpec, error) {
	pkv, err := conn.JS.KeyValue(ctx, bus.BucketPods)
	if err != nil {
		return nil, nil, fmt.Errorf("read model %s: %w", bus.BucketPods, err)
	}
	switch kind {
	case "pod":
		r, err := getResource(ctx, pkv, resourceKinds["pod"], ns, name)
		if err != nil {
			return nil, nil, err
		}
		return r.pod, nil, nil
	case "service":
		return servicePod(ctx, conn, ns, name)
	}
	p, _, err := firstPodOf(ctx, conn, kind, ns, name)
	return p, nil, err
}

// servicePod is the first, in kubectl's order, of the pods the Service's
// EndpointSlices list as ready; while the Service has no EndpointSlice (the
// endpoints service has not decided one yet), of the running pods its
// selector matches, as kubectl picks them.
func servicePod(ctx context.Context, conn *bus.Conn, ns, name string) (*projections.Pod, *manifest.ServiceSpec, error) {
	wkv, err := conn.JS.KeyValue(ctx, bus.BucketWorkloads)
	if err != nil {
		return nil, nil, fmt.Errorf("read model %s: %w", bus.BucketWorkloads, err)
	}
	pkv, err := conn.JS.KeyValue(ctx, bus.BucketPods)
	if err != nil {
		return nil, nil, fmt.Errorf("read model %s: %w", bus.BucketPods, err)
	}
	r, err := getResource(ctx, wkv, resourceKinds["service"], ns, name)
	if err != nil {
		return nil, nil, err
	}
	spec := r.workload.Object.Service()
	ek := resourceKinds["endpointslice"]
	slices, _, err := snapshot(ctx, wkv, ek, ek.pattern(ns), false)
	if err != nil {
		return nil, nil, err
	}
	ready, sliced := map[string]bool{}, false
	for _, s := range slices {
		if s.labels()[manifest.LabelServiceName] != name {
			continue
		}
		sliced = true
		for _, e := range s.workload.Object.EndpointSlice().Endpoints {
			if e.Conditions.Ready && e.TargetRef != nil && e.TargetRef.Kind == manifest.KindPod {
				ready[e.TargetRef.Name] = true
			}
		}
	}
	if !sliced && len(spec.Selector) == 0 {
		return nil, nil, fmt.Errorf("invalid service '%s': Service is defined without a selector", name)
	}
	pk := resourceKinds["pod"]
	pods, _, err := snapshot(ctx, pkv, pk, pk.pattern(ns), false)
	if err != nil {
		return nil, nil, err
	}
	sel := manifest.LabelSelector{MatchLabels: spec.Selector}
	var candidates []*projections.Pod
	for _, p := range pods {
		if sliced && ready[p.pod.Name] || !sliced && p.pod.Phase() == events.PhaseRunning && sel.Matches(p.pod.Labels) {
			candidates = append(candidates, p.pod)
		}
	}
	if len(candidates) == 0 {
		return nil, nil, fmt.Errorf("no ready endpoints found for service/%s", name)
	}
	return pickPod(candidates), spec, nil
}

// resolvePorts turns the port arguments into numbers as kubectl does: a
// named remote port is the pod's container port of that name; with a
// Service, the remote port is the Service's port (by number or name),
// forwarded to its targetPort on the pod, and REMOTE alone listens on the
// Service's port.
func resolvePorts(pod *projections.Pod, svc *manifest.ServiceSpec, svcName string, pairs []portPair) ([]forwarded, error) {
	var out []forwarded
	for _, p := range pairs {
		var remote int32
		if svc == nil {
			n, err := podPort(pod, p.remote)
			if err != nil {
				return nil, err
			}
			remote = n
		} else {
			sp, err := servicePort(svc, svcName, p.remote)
			if err != nil {
				return nil, err
			}
			if p.sameLocal {
				p.local = uint16(sp.Port)
			}
			switch t := sp.TargetPort; {
			case t == nil || t.IsZero():
				remote = sp.Port
			case t.IsString:
				if remote, err = podPort(pod, t.Str); err != nil {
					return nil, err
				}
			default:
				remote = t.Int
			}
		}
		if p.sameLocal && svc == nil {
			p.local = uint16(remote)
		}
		out = append(out, forwarded{local: p.local, remote: remote})
	}
	return out, nil
}

// podPort is a remote port by number, or the pod's container port of that
// name.
func podPort(pod *projections.Pod, port string) (int32, error) {
	if n, err := strconv.ParseUint(port, 10, 16); err == nil {
		return int32(n), nil
	}
	for _, c := range pod.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.Name == port {
				return cp.ContainerPort, nil
			}
		}
	}
	return 0, fmt.Errorf("Pod '%s' does not have a named port '%s'", pod.Name, port)
}

// servicePort is the Service's port of that number or name.
func servicePort(svc *manifest.ServiceSpec, name, port string) (manifest.ServicePort, error) {
	n, err := strconv.ParseUint(port, 10, 16)
	for _, sp := range svc.Ports {
		if err == nil && sp.Port == int32(n) || err != nil && sp.Name == port {
			return sp, nil
		}
	}
	if err != nil {
		return manifest.ServicePort{}, fmt.Errorf("Service '%s' does not have a named port '%s'", name, port)
	}
	return manifest.ServicePort{}, fmt.Errorf("Service %s does not have a service port %d", name, n)
}
