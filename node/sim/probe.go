package sim

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gantry-sh/gantry/deploy/images/hello/behaviour"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/node/probe"
)

var _ probe.Checker = (*Runtime)(nil)

// probeKey names a scripted probe: one kind of one container of a pod.
type probeKey struct {
	uid, container string
	kind           probe.Kind
}

// SetProbe makes every check of the kind probe of a pod's container return
// res; nil returns it to the simulated answer.
func (r *Runtime) SetProbe(uid, container string, kind probe.Kind, res *probe.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := probeKey{uid, container, kind}
	if res == nil {
		delete(r.probes, k)
		return
	}
	r.probes[k] = *res
}

// ScriptExec makes Exec answer with f wherever f says ok; elsewhere Exec
// answers as the simulated demo image does. nil removes the script.
func (r *Runtime) ScriptExec(f func(uid, container string, cmd []string) (code int, output []byte, ok bool)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.execs = f
}

// instance is what the runtime knows of a running container: how long it
// has run and what its environment asks. r.mu is held.
func (r *Runtime) instance(uid, container string) (spec behaviour.Spec, elapsed time.Duration, pod string, err error) {
	p := r.pods[uid]
	if p == nil {
		return spec, 0, "", fmt.Errorf("no pod %s", uid)
	}
	for i := range p.Containers {
		cs := &p.Containers[i]
		if cs.Name != container {
			continue
		}
		if !cs.Running {
			return spec, 0, p.Name, fmt.Errorf("container %s is not running", container)
		}
		if ru := r.runs[uid+"/"+container]; ru != nil {
			spec = ru.spec
		}
		return spec, r.cfg.Clock().Sub(cs.StartedAt), p.Name, nil
	}
	return spec, 0, p.Name, fmt.Errorf("no container %s", container)
}

// Exec implements node.Runtime: a scripted answer, else the demo image's
// commands (`hello log MSG` writes to the container's log, `hello probe
// PATH` checks the server as the image does), else exit 0.
func (r *Runtime) Exec(_ context.Context, uid, container string, cmd []string, _ time.Duration) (int, []byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	spec, elapsed, pod, err := r.instance(uid, container)
	if err != nil {
		return -1, nil, fmt.Errorf("exec %q: %w", cmd, err)
	}
	if r.execs != nil {
		if code, out, ok := r.execs(uid, container, cmd); ok {
			return code, out, nil
		}
	}
	switch name, args := behaviour.Command(cmd); name {
	case behaviour.CmdLog:
		k := uid + "/" + container
		r.logs[k] = append(r.logs[k], behaviour.Stamp(r.cfg.Clock(), "hello: "+strings.Join(args, " "))...)
	case behaviour.CmdProbe:
		path := "/"
		if len(args) > 0 {
			path = args[0]
		}
		if !spec.Serving(elapsed) {
			return 1, []byte("connection refused\n"), nil
		}
		code, _, _ := spec.Answer(pod, path, elapsed)
		out := fmt.Appendf(nil, "GET %s: %d %s\n", path, code, http.StatusText(code))
		if code < 200 || code > 399 {
			return 1, out, nil
		}
		return 0, out, nil
	}
	return 0, nil, nil
}

// Check implements probe.Checker without a network: a scripted result,
// else the simulated demo image's answer.
func (r *Runtime) Check(ctx context.Context, t probe.Target, kind probe.Kind, p manifest.Probe) probe.Result {
	r.mu.Lock()
	res, scripted := r.probes[probeKey{t.UID, t.Container, kind}]
	r.mu.Unlock()
	if scripted {
		return res
	}
	switch {
	case p.Exec != nil:
		return r.execHandler(ctx, t, p.Exec.Command)
	case p.HTTPGet != nil:
		return r.httpGet(t, *p.HTTPGet)
	case p.TCPSocket != nil:
		return r.serving(t, p.TCPSocket.Port)
	case p.GRPC != nil:
		return r.serving(t, manifest.FromInt(p.GRPC.Port))
	}
	return probe.Failure("the %s probe has no handler", kind)
}

// Hook implements probe.Checker: exec and httpGet as Check answers them, a
// sleep on the runtime's clock.
func (r *Runtime) Hook(ctx context.Context, t probe.Target, hook probe.Hook, h manifest.LifecycleHandler) probe.Result {
	switch {
	case h.Exec != nil:
		return r.execHandler(ctx, t, h.Exec.Command)
	case h.HTTPGet != nil:
		return r.httpGet(t, *h.HTTPGet)
	case h.Sleep != nil:
		done := make(chan struct{})
		stop := r.cfg.AfterFunc(time.Duration(h.Sleep.Seconds)*time.Second, func() { close(done) })
		select {
		case <-done:
			return probe.Result{Success: true}
		case <-ctx.Done():
			stop()
			return probe.Failure("sleep interrupted: %v", context.Cause(ctx))
		}
	}
	return probe.Failure("the %s hook has no handler", hook)
}

func (r *Runtime) execHandler(ctx context.Context, t probe.Target, cmd []string) probe.Result {
	code, out, err := r.Exec(ctx, t.UID, t.Container, cmd, 0)
	switch {
	case err != nil:
		return probe.Failure("%v", err)
	case code != 0:
		return probe.Failure("command %q exited with %d: %s", cmd, code, strings.TrimSpace(string(out)))
	}
	return probe.Result{Success: true, Output: strings.TrimSpace(string(out))}
}

// serving is a connection to the container's port: it opens once the
// container serves.
func (r *Runtime) serving(t probe.Target, port manifest.IntOrString) probe.Result {
	if _, err := probe.ResolvePort(port, t.Ports); err != nil {
		return probe.Failure("%v", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	spec, elapsed, _, err := r.instance(t.UID, t.Container)
	if err != nil {
		return probe.Failure("%v", err)
	}
	if !spec.Serving(elapsed) {
		return probe.Failure("dial tcp %s:%s: connect: connection refused", t.IP, port)
	}
	return probe.Result{Success: true}
}

// httpGet answers as the demo image answers the path; a path the image
// does not serve answers 200.
func (r *Runtime) httpGet(t probe.Target, a manifest.HTTPGetAction) probe.Result {
	if res := r.serving(t, a.Port); !res.Success {
		return res
	}
	r.mu.Lock()
	spec, elapsed, pod, err := r.instance(t.UID, t.Container)
	r.mu.Unlock()
	if err != nil {
		return probe.Failure("%v", err)
	}
	path, _, _ := strings.Cut(a.Path, "?")
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	code, ctype, body := spec.Answer(pod, path, elapsed)
	if code == http.StatusNotFound {
		return probe.Result{Success: true}
	}
	if code < 200 || code > 399 {
		return probe.Failure("HTTP probe failed with statuscode: %d", code)
	}
	if a.CEL != "" {
		return probe.CELCheck(r.cel, a.CEL, &probe.Response{Status: code, Header: http.Header{"Content-Type": {ctype}}, Body: body})
	}
	return probe.Result{Success: true}
}
