package manifest

import (
	"strings"
	"testing"
)

const goodDeploymentYAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels:
    app.kubernetes.io/name: web
  annotations:
    example.com/owner: "team shop"
spec:
  replicas: 3
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
        tier: frontend
    spec:
      restartPolicy: Always
      containers:
      - name: web
        image: registry.example.com:5000/shop/web:1.2.3
        command: ["/bin/web"]
        args: ["--port", "8080"]
        env:
        - name: LOG_LEVEL
          value: debug
        ports:
        - name: http
          containerPort: 8080
          protocol: TCP
        resources:
          requests:
            cpu: 100m
            memory: 64Mi
          limits:
            cpu: 0.5
            memory: 128Mi
      - name: sidecar
        image: busybox
        resources:
          limits:
            cpu: 1
            memory: 1e6
`

const goodPodYAML = `apiVersion: v1
kind: Pod
metadata:
  name: job-1
spec:
  restartPolicy: OnFailure
  containers:
  - name: main
    image: alpine:3.20@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
    args: [echo, hi]
    ports:
    - containerPort: 53
      protocol: UDP
    - containerPort: 53
`

// docJSON converts a one-document YAML string to JSON.
func docJSON(t testing.TB, y string) []byte {
	t.Helper()
	docs, err := SplitDocuments(strings.NewReader(y))
	if err != nil {
		t.Fatalf("SplitDocuments: %v", err)
	}
	if len(docs) != 1 {
		t.Fatalf("got %d documents, want 1", len(docs))
	}
	return docs[0].JSON
}

func mustDecode(t testing.TB, y string) Object {
	t.Helper()
	o, err := DecodeObject(docJSON(t, y))
	if err != nil {
		t.Fatalf("DecodeObject: %v", err)
	}
	return o
}

func int32p(v int32) *int32 { return &v }
