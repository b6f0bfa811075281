package client

import (
	"testing"

	"github.com/gantry-sh/gantry/events/manifest"
)

func TestProbeLine(t *testing.T) {
	svc := "queue"
	for _, tc := range []struct {
		p    manifest.Probe
		want string
	}{
		{manifest.Probe{HTTPGet: &manifest.HTTPGetAction{Path: "/healthz", Port: manifest.FromInt(8080)}},
			"http-get http://:8080/healthz delay=0s timeout=1s period=10s #success=1 #failure=3"},
		{manifest.Probe{HTTPGet: &manifest.HTTPGetAction{Path: "/status", Port: manifest.FromString("http"), Scheme: "HTTPS", CEL: "response.json.ok == true"},
			InitialDelaySeconds: 5, PeriodSeconds: 2},
			`http-get https://:http/status cel="response.json.ok == true" delay=5s timeout=1s period=2s #success=1 #failure=3`},
		{manifest.Probe{Exec: &manifest.ExecAction{Command: []string{"cat", "/tmp/healthy"}}, FailureThreshold: 1},
			"exec [cat /tmp/healthy] delay=0s timeout=1s period=10s #success=1 #failure=1"},
		{manifest.Probe{TCPSocket: &manifest.TCPSocketAction{Port: manifest.FromInt(5432)}, TimeoutSeconds: 3},
			"tcp-socket :5432 delay=0s timeout=3s period=10s #success=1 #failure=3"},
		{manifest.Probe{GRPC: &manifest.GRPCAction{Port: 9090, Service: &svc}},
			"grpc <pod>:9090 queue delay=0s timeout=1s period=10s #success=1 #failure=3"},
	} {
		if got := probeLine(tc.p); got != tc.want {
			t.Errorf("probeLine:\n got %s\nwant %s", got, tc.want)
		}
	}
}
