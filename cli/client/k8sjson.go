package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
)

// The converters below turn read-model records into the objects kubectl
// prints with -o json. They are pure: the same record (and the same now, for
// node readiness) gives the same object. Field order does not matter here:
// renderJSON and renderYAML sort keys, as kubectl does.

type k8sList struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Items      []any  `json:"items"`
}

// k8sListOf wraps objects into a v1 List; items is never null.
func k8sListOf(items []any) k8sList {
	if items == nil {
		items = []any{}
	}
	return k8sList{APIVersion: "v1", Kind: "List", Items: items}
}

type k8sOwnerRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	UID        string `json:"uid"`
	Controller bool   `json:"controller"`
}

type k8sMeta struct {
	Name              string            `json:"name"`
	Namespace         string            `json:"namespace,omitempty"`
	UID               string            `json:"uid,omitempty"`
	Generation        int64             `json:"generation,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
	Annotations       map[string]string `json:"annotations,omitempty"`
	CreationTimestamp string            `json:"creationTimestamp,omitempty"`
	OwnerReferences   []k8sOwnerRef     `json:"ownerReferences,omitempty"`
}

type k8sObject struct {
	APIVersion string  `json:"apiVersion"`
	Kind       string  `json:"kind"`
	Metadata   k8sMeta `json:"metadata"`
	Spec       any     `json:"spec"`
	Status     any     `json:"status"`
}

// k8sTime is Kubernetes' timestamp form: RFC 3339 in UTC, whole seconds.
func k8sTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func k8sTimePtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return k8sTime(*t)
}

// ---- pods

type k8sPodSpec struct {
	InitContainers []manifest.Container `json:"initContainers,omitempty"`
	Containers     []manifest.Container `json:"containers"`
	NodeName       string               `json:"nodeName,omitempty"`
	RestartPolicy  string               `json:"restartPolicy"`
}

type k8sCondition struct {
	Type               string `json:"type"`
	Status             string `json:"status"`
	Reason             string `json:"reason,omitempty"`
	Message            string `json:"message,omitempty"`
	LastHeartbeatTime  string `json:"lastHeartbeatTime,omitempty"`
	LastTransitionTime string `json:"lastTransitionTime,omitempty"`
}

type k8sPodIP struct {
	IP string `json:"ip"`
}

type k8sStateRunning struct {
	StartedAt string `json:"startedAt,omitempty"`
}

type k8sStateWaiting struct {
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

type k8sStateTerminated struct {
	ExitCode   int32  `json:"exitCode"`
	Reason     string `json:"reason,omitempty"`
	Message    string `json:"message,omitempty"`
	StartedAt  string `json:"startedAt,omitempty"`
	FinishedAt string `json:"finishedAt,omitempty"`
}

type k8sContainerState struct {
	Running    *k8sStateRunning    `json:"running,omitempty"`
	Waiting    *k8sStateWaiting    `json:"waiting,omitempty"`
	Terminated *k8sStateTerminated `json:"terminated,omitempty"`
}

type k8sContainerStatus struct {
	Name         string             `json:"name"`
	ContainerID  string             `json:"containerID,omitempty"`
	Image        string             `json:"image"`
	Ready        bool               `json:"ready"`
	RestartCount int32              `json:"restartCount"`
	Started      bool               `json:"started"`
	State        k8sContainerState  `json:"state"`
	LastState    *k8sContainerState `json:"lastState,omitempty"`
}

type k8sPodStatus struct {
	Phase             string               `json:"phase"`
	Reason            string               `json:"reason,omitempty"`
	Message           string               `json:"message,omitempty"`
	HostIP            string               `json:"hostIP,omitempty"`
	PodIP             string               `json:"podIP,omitempty"`
	PodIPs            []k8sPodIP           `json:"podIPs,omitempty"`
	StartTime         string               `json:"startTime,omitempty"`
	Conditions        []k8sCondition       `json:"conditions,omitempty"`
	ContainerStatuses []k8sContainerStatus `json:"containerStatuses,omitempty"`
	// InitContainerStatuses: one per init container, in the spec's order.
	InitContainerStatuses []k8sContainerStatus `json:"initContainerStatuses,omitempty"`
}

// k8sPod is a pod as `kubectl get pod -o json` shows it. hostIP is the
// address of the pod's node, empty when unknown.
func k8sPod(p *projections.Pod, hostIP string) k8sObject {
	meta := k8sMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID, Labels: p.Labels,
		Annotations: p.Annotations, CreationTimestamp: k8sTime(p.CreatedAt)}
	if ref, ok := podController(p); ok {
		meta.OwnerReferences = []k8sOwnerRef{ref}
	}
	restart := p.Spec.RestartPolicy
	if restart == "" {
		restart = manifest.RestartAlways
	}
	spec := k8sPodSpec{InitContainers: p.Spec.InitContainers, Containers: p.Spec.Containers, NodeName: p.Node, RestartPolicy: restart}
	if spec.Containers == nil {
		spec.Containers = []manifest.Container{}
	}
	return k8sObject{APIVersion: manifest.APICoreV1, Kind: manifest.KindPod, Metadata: meta, Spec: spec,
		Status: k8sPodStatusOf(p, hostIP)}
}

// podController is the owner reference of a pod planned by a workload other
// than itself (a bare Pod owns its own pod and has none).
func podController(p *projections.Pod) (k8sOwnerRef, bool) {
	if p.Owner == nil || p.Owner.Kind == "pod" {
		return k8sOwnerRef{}, false
	}
	return ownerRef(p.Owner), true
}

// kindTitle turns a read-model kind (deployment) into a Kubernetes kind (Deployment).
func kindTitle(kind string) string {
	if k, ok := resourceKinds[kind]; ok {
		return k.title
	}
	if kind == "" {
		return ""
	}
	return strings.ToUpper(kind[:1]) + kind[1:]
}

func k8sPodStatusOf(p *projections.Pod, hostIP string) k8sPodStatus {
	st := k8sPodStatus{Phase: p.Phase(), StartTime: k8sTimePtr(p.BoundAt)}
	if p.Node != "" {
		st.HostIP = hostIP
	}
	if s := p.Status; s != nil {
		st.Reason, st.Message, st.PodIP = s.Reason, s.Message, s.PodIP
		if s.PodIP != "" {
			st.PodIPs = []k8sPodIP{{IP: s.PodIP}}
		}
		for _, c := range s.Containers {
			st.ContainerStatuses = append(st.ContainerStatuses, k8sContainerStatusOf(c))
		}
		for _, c := range s.InitContainers {
			st.InitContainerStatuses = append(st.InitContainerStatuses, k8sContainerStatusOf(c))
		}
	}
	st.Conditions = k8sPodConditions(p)
	return st
}

func k8sContainerStatusOf(c events.ContainerStatus) k8sContainerStatus {
	out := k8sContainerStatus{Name: c.Name, ContainerID: c.ContainerID, Image: c.Image, Ready: c.Ready,
		RestartCount: c.RestartCount, Started: c.State == events.ContainerRunning}
	switch c.State {
	case events.ContainerRunning:
		out.State.Running = &k8sStateRunning{StartedAt: k8sTimePtr(c.StartedAt)}
	case events.ContainerTerminated:
		t := &k8sStateTerminated{Reason: c.Reason, Message: c.Message,
			StartedAt: k8sTimePtr(c.StartedAt), FinishedAt: k8sTimePtr(c.FinishedAt)}
		if c.ExitCode != nil {
			t.ExitCode = *c.ExitCode
		}
		out.State.Terminated = t
	case events.ContainerWaiting:
		out.State.Waiting = &k8sStateWaiting{Reason: c.Reason, Message: c.Message}
	}
	if l := c.LastState; l != nil {
		out.LastState = &k8sContainerState{Terminated: &k8sStateTerminated{ExitCode: l.ExitCode, Reason: l.Reason,
			Message: l.Message, StartedAt: k8sTimePtr(&l.StartedAt), FinishedAt: k8sTimePtr(&l.FinishedAt)}}
	}
	return out
}

// k8sPodConditions: PodScheduled always once the scheduler has spoken (False
// with reason Unschedulable when no node fits), and Initialized, Ready and
// ContainersReady once the pod is bound.
func k8sPodConditions(p *projections.Pod) []k8sCondition {
	if p.Node == "" {
		if p.Unschedulable == "" {
			return nil
		}
		return []k8sCondition{{Type: "PodScheduled", Status: "False", Reason: "Unschedulable", Message: p.Unschedulable}}
	}
	ready := k8sCondition{Type: "Ready", Status: "True"}
	if !p.Ready() {
		ready = k8sCondition{Type: "Ready", Status: "False", Reason: "ContainersNotReady",
			Message: "containers with unready status: [" + strings.Join(unreadyContainers(p), " ") + "]"}
	}
	containersReady := ready
	containersReady.Type = "ContainersReady"
	return []k8sCondition{
		initializedCondition(p), // get_init.go
		ready,
		containersReady,
		{Type: "PodScheduled", Status: "True", LastTransitionTime: k8sTimePtr(p.BoundAt)},
	}
}

// unreadyContainers names the containers of the spec that are not ready.
func unreadyContainers(p *projections.Pod) []string {
	ready := map[string]bool{}
	if p.Status != nil {
		for _, c := range p.Status.Containers {
			ready[c.Name] = c.Ready && c.State == events.ContainerRunning
		}
	}
	var out []string
	for _, c := range p.Spec.Containers {
		if !ready[c.Name] {
			out = append(out, c.Name)
		}
	}
	return out
}

// ---- workloads

// k8sWorkload is an object of any applied kind as `kubectl get KIND -o json`
// shows it: its spec with Kubernetes' defaults filled in (replicas 1, …)
// and its status in the kind's shape; a Service with what was allocated
// for it, an EndpointSlice with its content at the top level.
func k8sWorkload(w *projections.Workload) any {
	out := k8sWorkloadObject(w)
	switch w.Object.Kind {
	case manifest.KindService:
		return k8sService(out, w.Status)
	case manifest.KindEndpointSlice:
		return k8sEndpointSlice(out)
	}
	return out
}

// k8sWorkloadObject is k8sWorkload's apiVersion, kind, metadata, spec and
// status, before any kind's own shape.
func k8sWorkloadObject(w *projections.Workload) k8sObject {
	m := w.Object.Metadata
	meta := k8sMeta{Name: w.Name, Namespace: w.Namespace, UID: w.UID, Generation: w.Generation,
		Labels: m.Labels, Annotations: workloadAnnotations(w), CreationTimestamp: k8sTime(w.CreatedAt)}
	if w.Owner != nil {
		meta.OwnerReferences = []k8sOwnerRef{ownerRef(w.Owner)}
	}
	o := w.Object
	o.Defaults()
	out := k8sObject{APIVersion: o.APIVersion, Kind: o.Kind, Metadata: meta, Spec: o.Spec}
	if k := o.Info(); k != nil && k.K8sStatus != nil {
		out.Status = k.K8sStatus(o, w.Status)
	}
	return out
}

// workloadAnnotations are w's annotations as Kubernetes shows them: a
// Deployment's with its current revision (deployment.kubernetes.io/revision),
// which its controller writes there.
func workloadAnnotations(w *projections.Workload) map[string]string {
	m := w.Object.Metadata.Annotations
	if w.Kind != "deployment" || w.Status.Revision == 0 {
		return m
	}
	m = maps.Clone(m)
	if m == nil {
		m = map[string]string{}
	}
	m[manifest.RevisionAnnotation] = strconv.FormatInt(w.Status.Revision, 10)
	return m
}

// ownerRef is a controller's owner reference as Kubernetes writes it.
func ownerRef(o *events.OwnerRef) k8sOwnerRef {
	ref := k8sOwnerRef{Kind: kindTitle(o.Kind), Name: o.Name, UID: o.UID, Controller: true}
	if k, ok := resourceKinds[o.Kind]; ok {
		ref.APIVersion = k.apiVersion()
	}
	return ref
}

// ---- nodes

type k8sNodeSpec struct {
	PodCIDR       string           `json:"podCIDR,omitempty"`
	PodCIDRs      []string         `json:"podCIDRs,omitempty"`
	Taints        []manifest.Taint `json:"taints,omitempty"`
	Unschedulable bool             `json:"unschedulable,omitempty"`
}

type k8sAddress struct {
	Type    string `json:"type"`
	Address string `json:"address"`
}

type k8sNodeInfo struct {
	ContainerRuntimeVersion string `json:"containerRuntimeVersion"`
	KubeletVersion          string `json:"kubeletVersion"`
}

type k8sNodeStatus struct {
	Addresses   []k8sAddress      `json:"addresses"`
	Capacity    map[string]string `json:"capacity"`
	Allocatable map[string]string `json:"allocatable"`
	Conditions  []k8sCondition    `json:"conditions"`
	NodeInfo    k8sNodeInfo       `json:"nodeInfo"`
}

// k8sNode is a node as `kubectl get node -o json` shows it; its Ready
// condition depends on now.
func k8sNode(n *projections.Node, now time.Time) k8sObject {
	info := n.Info
	meta := k8sMeta{Name: info.Name, Labels: info.Labels, CreationTimestamp: k8sTime(n.RegisteredAt)}
	spec := k8sNodeSpec{PodCIDR: info.PodCIDR, Taints: n.Taints(), Unschedulable: n.Unschedulable}
	if info.PodCIDR != "" {
		spec.PodCIDRs = []string{info.PodCIDR}
	}
	addrs := []k8sAddress{}
	if info.Address != "" {
		addrs = append(addrs, k8sAddress{Type: "InternalIP", Address: info.Address})
	}
	addrs = append(addrs, k8sAddress{Type: "Hostname", Address: info.Name})
	status := k8sNodeStatus{Addresses: addrs, Capacity: resourceQuantities(info.Capacity),
		Allocatable: resourceQuantities(info.Allocatable), Conditions: []k8sCondition{nodeReadyCondition(n, now)},
		NodeInfo: k8sNodeInfo{ContainerRuntimeVersion: info.Runtime, KubeletVersion: info.Version}}
	return k8sObject{APIVersion: manifest.APICoreV1, Kind: "Node", Metadata: meta, Spec: spec, Status: status}
}

// nodeReadyCondition is the node's Ready condition. Once the health service
// has decided, it is the newest decision: True when Ready; Unknown when it
// was NotReady because the node fell silent (NodeStatusUnknown, as
// Kubernetes' node lifecycle controller says of a node whose kubelet stopped
// posting status); False for any other reason; with the decision's reason,
// message and time (its last transition). A node never decided (a cluster
// run without the health service) is judged by its heartbeat clock.
func nodeReadyCondition(n *projections.Node, now time.Time) k8sCondition {
	c := k8sCondition{Type: "Ready", Status: "True", Reason: "NodeAgentReady",
		Message: "node agent is posting heartbeats", LastHeartbeatTime: k8sTime(n.LastHeartbeat)}
	if s := n.State; s != nil {
		c.Reason, c.Message, c.LastTransitionTime = s.Reason, s.Message, k8sTime(s.Since)
		switch {
		case s.Ready:
			c.Status = "True"
		case s.Reason == nodeStatusUnknown:
			c.Status = "Unknown"
		default:
			c.Status = "False"
		}
		return c
	}
	if !nodeIsReady(n, now) {
		c.Status, c.Reason = "Unknown", nodeStatusUnknown
		c.Message = fmt.Sprintf("node agent stopped posting heartbeats (none for %s)", projections.NodeLostAfter)
	}
	return c
}

// nodeStatusUnknown is the reason of a node that stopped posting heartbeats.
const nodeStatusUnknown = "NodeStatusUnknown"

// nodeIsReady is Node.Ready (the health service's decision, else the
// heartbeat clock), with a node never heard from nor decided not ready.
func nodeIsReady(n *projections.Node, now time.Time) bool {
	if n.State == nil && n.LastHeartbeat.IsZero() {
		return false
	}
	return n.Ready(now)
}

// resourceQuantities renders base units (millicores, bytes, counts) as
// Kubernetes quantity strings; nil in, empty map out.
func resourceQuantities(m map[string]int64) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = resourceQuantity(k, v)
	}
	return out
}

func resourceQuantity(name string, v int64) string {
	switch name {
	case events.ResourceCPU:
		return cpuQuantity(v)
	case events.ResourceMemory:
		return memoryQuantity(v)
	}
	return strconv.FormatInt(v, 10)
}

// cpuQuantity renders millicores: "8", "500m", "1500m".
func cpuQuantity(milli int64) string {
	if milli%1000 == 0 {
		return strconv.FormatInt(milli/1000, 10)
	}
	return strconv.FormatInt(milli, 10) + "m"
}

// memoryQuantity renders bytes with the largest binary suffix that divides
// them exactly, as Kubernetes canonicalizes: 16Gi, 16318892Ki, 1000.
func memoryQuantity(b int64) string {
	if b == 0 {
		return "0"
	}
	for _, s := range []struct {
		suffix string
		mult   int64
	}{{"Ei", 1 << 60}, {"Pi", 1 << 50}, {"Ti", 1 << 40}, {"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}} {
		if b%s.mult == 0 {
			return strconv.FormatInt(b/s.mult, 10) + s.suffix
		}
	}
	return strconv.FormatInt(b, 10)
}

// ---- rendering

// canonicalTree re-reads v's JSON into maps, so every renderer sees keys in
// sorted order (as kubectl prints them) and numbers exactly.
func canonicalTree(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode object: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, fmt.Errorf("decode object: %w", err)
	}
	return tree, nil
}

// renderJSON is kubectl's -o json: keys sorted, four-space indent, newline-terminated.
func renderJSON(v any) ([]byte, error) {
	tree, err := canonicalTree(v)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "    ")
	if err := enc.Encode(tree); err != nil {
		return nil, fmt.Errorf("encode object: %w", err)
	}
	return buf.Bytes(), nil
}

// renderYAML is the same object as YAML, keys sorted, two-space indent.
func renderYAML(v any) ([]byte, error) {
	tree, err := canonicalTree(v)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(plainNumbers(tree)); err != nil {
		return nil, fmt.Errorf("encode object as yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode object as yaml: %w", err)
	}
	return buf.Bytes(), nil
}

// plainNumbers turns json.Number leaves into integers or floats, which yaml
// writes unquoted (a json.Number is a string to it) and JSONPath compares.
func plainNumbers(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = plainNumbers(e)
		}
	case []any:
		for i, e := range t {
			t[i] = plainNumbers(e)
		}
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		if f, err := t.Float64(); err == nil {
			return f
		}
		return t.String()
	}
	return v
}
