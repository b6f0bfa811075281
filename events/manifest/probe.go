package manifest

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// IntOrString is Kubernetes' intstr: a number or a string (a port by number
// or by name; later a surge by count or percentage).
type IntOrString struct {
	IsString bool
	Int      int32
	Str      string
}

// FromInt is an IntOrString holding n.
func FromInt(n int32) IntOrString { return IntOrString{Int: n} }

// FromString is an IntOrString holding s.
func FromString(s string) IntOrString { return IntOrString{IsString: true, Str: s} }

// String is the value as text.
func (v IntOrString) String() string {
	if v.IsString {
		return v.Str
	}
	return strconv.Itoa(int(v.Int))
}

// IsZero reports whether the value was left unset (omitzero).
func (v IntOrString) IsZero() bool { return !v.IsString && v.Int == 0 }

// MarshalJSON writes a number or a string.
func (v IntOrString) MarshalJSON() ([]byte, error) {
	if v.IsString {
		return json.Marshal(v.Str)
	}
	return json.Marshal(v.Int)
}

// UnmarshalJSON reads a number or a string.
func (v *IntOrString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*v = FromString(s)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("must be an integer or a string, got %s", b)
	}
	if n < -1<<31 || n > 1<<31-1 {
		return fmt.Errorf("must be an integer between %d and %d, got %d", -1<<31, 1<<31-1, n)
	}
	*v = FromInt(int32(n))
	return nil
}

// Probe is v1 Probe: a check the node agent runs against a container. One
// handler (exec, httpGet, tcpSocket, grpc) is set.
type Probe struct {
	Exec      *ExecAction      `json:"exec,omitempty"`
	HTTPGet   *HTTPGetAction   `json:"httpGet,omitempty"`
	TCPSocket *TCPSocketAction `json:"tcpSocket,omitempty"`
	GRPC      *GRPCAction      `json:"grpc,omitempty"`

	InitialDelaySeconds int32 `json:"initialDelaySeconds,omitempty"`
	// TimeoutSeconds (default 1), PeriodSeconds (default 10),
	// SuccessThreshold (default 1; 1 for liveness and startup) and
	// FailureThreshold (default 3) as in Kubernetes.
	TimeoutSeconds   int32 `json:"timeoutSeconds,omitempty"`
	PeriodSeconds    int32 `json:"periodSeconds,omitempty"`
	SuccessThreshold int32 `json:"successThreshold,omitempty"`
	FailureThreshold int32 `json:"failureThreshold,omitempty"`
	// TerminationGracePeriodSeconds overrides the pod's for a kill caused
	// by this probe (liveness and startup only).
	TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds,omitempty"`
}

// ExecAction runs a command in the container; exit 0 is success.
type ExecAction struct {
	Command []string `json:"command,omitempty"`
}

// HTTPGetAction is a GET to the pod: a status from 200 to 399 is success,
// and, with CEL, the expression must also hold over the response.
type HTTPGetAction struct {
	Path        string       `json:"path,omitempty"`
	Port        IntOrString  `json:"port"`
	Host        string       `json:"host,omitempty"`
	Scheme      string       `json:"scheme,omitempty"` // HTTP (default) or HTTPS
	HTTPHeaders []HTTPHeader `json:"httpHeaders,omitempty"`
	// CEL is Gantry's addition: a boolean expression over the response
	// (response.status, response.headers, response.body, response.json),
	// compiled and cost-checked at admission, e.g.
	// `response.status == 200 && response.json.queue_depth < 1000`.
	CEL string `json:"cel,omitempty"`
}

// HTTPHeader is one header a probe sends.
type HTTPHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// TCPSocketAction succeeds when a TCP connection opens.
type TCPSocketAction struct {
	Port IntOrString `json:"port"`
	Host string      `json:"host,omitempty"`
}

// GRPCAction calls the gRPC health checking protocol's Check.
type GRPCAction struct {
	Port    int32   `json:"port"`
	Service *string `json:"service,omitempty"`
}

// Lifecycle is v1 Lifecycle: hooks run after a container starts and before
// it is stopped.
type Lifecycle struct {
	PostStart *LifecycleHandler `json:"postStart,omitempty"`
	PreStop   *LifecycleHandler `json:"preStop,omitempty"`
}

// LifecycleHandler is one hook: exec, httpGet or sleep (tcpSocket is
// deprecated in Kubernetes and refused here).
type LifecycleHandler struct {
	Exec    *ExecAction    `json:"exec,omitempty"`
	HTTPGet *HTTPGetAction `json:"httpGet,omitempty"`
	Sleep   *SleepAction   `json:"sleep,omitempty"`
}

// SleepAction pauses for Seconds.
type SleepAction struct {
	Seconds int64 `json:"seconds"`
}

// Probe defaults, as Kubernetes'.
const (
	DefaultProbePeriodSeconds    = 10
	DefaultProbeTimeoutSeconds   = 1
	DefaultProbeSuccessThreshold = 1
	DefaultProbeFailureThreshold = 3
	// DefaultTerminationGracePeriodSeconds is a pod's grace period when it
	// names none.
	DefaultTerminationGracePeriodSeconds = 30
	// MaxGracePeriodSeconds bounds any grace period (a day).
	MaxGracePeriodSeconds = 24 * 60 * 60
)

// WithDefaults returns the probe with Kubernetes' defaults filled in.
func (p Probe) WithDefaults() Probe {
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = DefaultProbePeriodSeconds
	}
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = DefaultProbeTimeoutSeconds
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = DefaultProbeSuccessThreshold
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = DefaultProbeFailureThreshold
	}
	return p
}

// GracePeriodSeconds is the pod's termination grace period (default 30 s).
func (s PodSpec) GracePeriodSeconds() int64 {
	if s.TerminationGracePeriodSeconds != nil {
		return *s.TerminationGracePeriodSeconds
	}
	return DefaultTerminationGracePeriodSeconds
}
