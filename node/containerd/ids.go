package containerd

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
)

// Labels on every container Gantry creates. They carry the pod's identity so
// a restarted agent knows what each container is.
const (
	labelPrefix       = "gantry.sh/"
	labelPodNamespace = labelPrefix + "pod.namespace"
	labelPodName      = labelPrefix + "pod.name"
	labelPodUID       = labelPrefix + "pod.uid"
	labelPodEpoch     = labelPrefix + "pod.epoch"
	labelContainer    = labelPrefix + "container.name"
	labelRestarts     = labelPrefix + "container.restarts"
	labelStartedAt    = labelPrefix + "container.started-at"
	// labelLastState is how the instance before the current one ended (JSON).
	labelLastState = labelPrefix + "container.last-state"
	labelPodIP     = labelPrefix + "pod.ip"
	labelNode      = labelPrefix + "node"
)

// maxIDLength is containerd's limit on identifiers.
const maxIDLength = 76

// idPattern is containerd's identifier grammar.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$`)

// containerID is the deterministic containerd id of container name of the pod
// uid: "<uid>_<name>" when that is a valid id, else a hash of both.
func containerID(uid, name string) string {
	id := uid + "_" + name
	if len(id) <= maxIDLength && idPattern.MatchString(uid) && idPattern.MatchString(name) {
		return id
	}
	return "g" + hashID(uid+"\x00"+name)
}

// sandboxID is the deterministic id of the pod uid's sandbox: its CNI
// container id, its directory name and the suffix of its netns.
func sandboxID(uid string) string {
	if len(uid) <= 48 && idPattern.MatchString(uid) {
		return uid
	}
	return "s" + hashID(uid)
}

func hashID(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:20])
}

// pathComponent makes s safe as one file name.
func pathComponent(s string) string {
	if s == "" {
		return "_"
	}
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	out := b.String()
	if out == "." || out == ".." {
		return "_"
	}
	return out
}
