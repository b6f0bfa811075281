package client

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gantry-sh/gantry/events/manifest"
)

// describeProbes writes a container's probes as kubectl describe does:
// "Liveness:  http-get http://:8080/healthz delay=0s timeout=1s period=10s
// #success=1 #failure=3", with an httpGet's CEL check after its URL.
func describeProbes(d *describer, level int, c manifest.Container) {
	for _, p := range []struct {
		title string
		probe *manifest.Probe
	}{{"Liveness", c.LivenessProbe}, {"Readiness", c.ReadinessProbe}, {"Startup", c.StartupProbe}} {
		if p.probe != nil {
			d.line(level, "%s:\t%s", p.title, probeLine(*p.probe))
		}
	}
}

// probeLine is a probe as kubectl describe writes it.
func probeLine(p manifest.Probe) string {
	p = p.WithDefaults()
	var h string
	switch {
	case p.Exec != nil:
		h = fmt.Sprintf("exec [%s]", strings.Join(p.Exec.Command, " "))
	case p.HTTPGet != nil:
		a := p.HTTPGet
		scheme := strings.ToLower(a.Scheme)
		if scheme == "" {
			scheme = "http"
		}
		h = fmt.Sprintf("http-get %s://%s:%s%s", scheme, a.Host, a.Port.String(), a.Path)
		if a.CEL != "" {
			h += " cel=" + strconv.Quote(a.CEL)
		}
	case p.TCPSocket != nil:
		h = fmt.Sprintf("tcp-socket %s:%s", p.TCPSocket.Host, p.TCPSocket.Port.String())
	case p.GRPC != nil:
		svc := ""
		if p.GRPC.Service != nil {
			svc = " " + *p.GRPC.Service
		}
		h = fmt.Sprintf("grpc <pod>:%d%s", p.GRPC.Port, svc)
	default:
		h = "unknown"
	}
	return fmt.Sprintf("%s delay=%ds timeout=%ds period=%ds #success=%d #failure=%d",
		h, p.InitialDelaySeconds, p.TimeoutSeconds, p.PeriodSeconds, p.SuccessThreshold, p.FailureThreshold)
}
