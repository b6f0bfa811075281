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

// schedulingDeploymentYAML uses every scheduling field Gantry supports.
const schedulingDeploymentYAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: gpu-job
spec:
  replicas: 2
  selector:
    matchLabels: {app: gpu-job}
    matchExpressions:
    - {key: tier, operator: In, values: [batch, ml]}
  template:
    metadata:
      labels: {app: gpu-job, tier: ml}
      annotations:
        gantry.dev/placement: "'zone' in node.labels && node.allocatable.memory >= quantity('8Gi')"
    spec:
      priorityClassName: high
      priority: 1000000
      nodeSelector:
        disk: ssd
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - matchExpressions:
              - {key: topology.kubernetes.io/zone, operator: In, values: [a, b]}
              - {key: gantry.dev/maintenance, operator: DoesNotExist}
            - matchExpressions:
              - {key: cpu-generation, operator: Gt, values: ["6"]}
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 50
            preference:
              matchExpressions:
              - {key: disk, operator: NotIn, values: [hdd]}
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector: {matchLabels: {app: gpu-job}}
            topologyKey: kubernetes.io/hostname
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 100
            podAffinityTerm:
              labelSelector:
                matchExpressions: [{key: tier, operator: Exists}]
              topologyKey: kubernetes.io/hostname
      tolerations:
      - {key: example.com/gpu, operator: Exists, effect: NoSchedule}
      - {key: dedicated, operator: Equal, value: ml}
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 300}
      topologySpreadConstraints:
      - maxSkew: 1
        topologyKey: topology.kubernetes.io/zone
        labelSelector: {matchLabels: {app: gpu-job}}
      - {maxSkew: 2, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway}
      containers:
      - name: train
        image: example.com/ml/train:1
        ports: [{containerPort: 8080, hostPort: 18080}, {containerPort: 8080, hostPort: 18080, protocol: UDP}]
        resources:
          requests: {cpu: 500m, memory: 1Gi, example.com/gpu: 1}
          limits: {memory: 2Gi, example.com/gpu: 1}
      - name: sidecar
        image: busybox
        resources:
          limits: {cpu: 100m, example.com/gpu: 2, example.com/fpga: 1}
`
