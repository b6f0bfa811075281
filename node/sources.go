package node

// ConfigRef names a ConfigMap or a Secret a pod uses; Kind is the kind's
// token (configmap, secret).
type ConfigRef struct {
	Namespace string
	Kind      string
	Name      string
}

// ConfigObject is what the node has been given of one ConfigMap or Secret:
// whether it exists, its revision (the log sequence of its newest accepted
// version) and its data in the clear (a Secret's opened with the node's key;
// it lives only in the agent's memory and on tmpfs).
type ConfigObject struct {
	Exists   bool
	Revision uint64
	Data     map[string][]byte
}

// Configs is what the node knows of the ConfigMaps and Secrets of its pods:
// the deliveries on gantry.node.<self>.config.> fill it; volumes and env
// read it. known is false while the control plane has said nothing of ref to
// this node yet (the pod waits: ContainerCreating).
type Configs interface {
	Config(ref ConfigRef) (obj ConfigObject, known bool)
}

// Claims is what the node knows of the persistent volumes of its pods: the
// deliveries on gantry.node.<self>.volume.> fill it. Path is the directory
// on this node that holds the claim's volume; ok is false while the claim
// is not bound to a volume on this node (the pod waits).
type Claims interface {
	ClaimPath(namespace, claim string) (path string, ok bool)
}
