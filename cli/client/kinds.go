package client

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
)

// resourceKind is what the CLI knows of one kind: the names users type for
// it, how kubectl prints it, and where its read-model records live. Every
// kind a manifest may carry comes from manifest.Kinds(); the CLI adds only
// Node, which no manifest creates.
type resourceKind struct {
	kind       string   // lower-case, as in subjects and read models: pod
	title      string   // Kubernetes' kind: Pod
	plural     string   // pods
	shortNames []string // po
	group      string   // API group, "" for the core group
	version    string
	namespaced bool
	bucket     string // the read-model bucket of its records
	// info is the kind's entry in manifest's registry: its columns,
	// describe fields and Kubernetes status (nil for Node).
	info *manifest.KindInfo
}

// workload reports a kind whose records are workloads (every kind a
// manifest creates, but Pod, whose `get` lists the pods read model).
func (k resourceKind) workload() bool { return k.info != nil && k.bucket == bus.BucketWorkloads }

// kindTable is every kind the CLI knows, in `kubectl api-resources` order
// (core group first, then by group and name). kindOf, `get` with no
// argument and `api-resources` all read it.
var kindTable = func() []resourceKind {
	t := []resourceKind{{kind: "node", title: "Node", plural: "nodes", shortNames: []string{"no"},
		version: "v1", bucket: bus.BucketNodes}}
	for _, k := range manifest.Kinds() {
		group, version, grouped := strings.Cut(k.APIVersion, "/")
		if !grouped {
			group, version = "", group
		}
		rk := resourceKind{kind: k.Token, title: k.Kind, plural: k.Plural, shortNames: k.ShortNames,
			group: group, version: version, namespaced: !k.ClusterScoped, bucket: bus.BucketWorkloads, info: k}
		if k.Token == "pod" {
			rk.bucket = bus.BucketPods
		}
		t = append(t, rk)
	}
	sort.SliceStable(t, func(i, j int) bool {
		if (t[i].group == "") != (t[j].group == "") {
			return t[i].group == ""
		}
		if t[i].group != t[j].group {
			return t[i].group < t[j].group
		}
		return t[i].plural < t[j].plural
	})
	return t
}()

// resourceKinds indexes kindTable by kind.
var resourceKinds = func() map[string]resourceKind {
	m := make(map[string]resourceKind, len(kindTable))
	for _, k := range kindTable {
		m[k.kind] = k
	}
	return m
}()

// apiVersion is the kind's apiVersion: v1, apps/v1.
func (k resourceKind) apiVersion() string {
	if k.group == "" {
		return k.version
	}
	return k.group + "/" + k.version
}

// qualifiedPlural is how kubectl names the resource in messages and in
// `api-resources -o name`: pods, deployments.apps.
func (k resourceKind) qualifiedPlural() string {
	if k.group == "" {
		return k.plural
	}
	return k.plural + "." + k.group
}

// names are what a user may type for the kind, lower-case: kind, plural,
// short names, and each qualified by the group (deployment.apps).
func (k resourceKind) names() []string {
	ns := append([]string{k.kind, k.plural}, k.shortNames...)
	if k.group != "" {
		ns = append(ns, k.kind+"."+k.group, k.plural+"."+k.group)
	}
	return ns
}

// kindOf maps what a user types (deployment, deployments, deploy,
// deployment.apps, Pod, po, nodes, …) to the lower-case kind used in
// subjects and read models. Every verb that takes a kind calls it.
func kindOf(s string) (string, error) {
	want := strings.ToLower(s)
	var known []string
	for _, k := range kindTable {
		for _, n := range k.names() {
			if n == want {
				return k.kind, nil
			}
		}
		if len(k.shortNames) == 0 {
			known = append(known, k.plural)
		} else {
			known = append(known, k.plural+" ("+strings.Join(k.shortNames, ",")+")")
		}
	}
	return "", fmt.Errorf("unknown resource type %q: want %s (see gantry api-resources)", s, strings.Join(known, ", "))
}

// displayKind is how kubectl names a kind in its messages and in -o name
// (deployment.apps/hello, pod/hello-abc12).
func displayKind(kind string) string {
	if k, ok := resourceKinds[kind]; ok && k.group != "" {
		return k.kind + "." + k.group
	}
	return kind
}

// kindAndName reads the `KIND NAME` or `KIND/NAME` arguments of a verb that
// acts on one object (describe); name is empty when none was given.
func kindAndName(args []string) (kind, name string, err error) {
	typ := args[0]
	if t, n, ok := strings.Cut(typ, "/"); ok {
		if len(args) > 1 {
			return "", "", fmt.Errorf("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form")
		}
		typ, name = t, n
	} else if len(args) > 1 {
		name = args[1]
	}
	kind, err = kindOf(typ)
	return kind, name, err
}

// ValidateNodeName checks a node name is a DNS-1123 label (it is a subject
// token in every node subject).
func ValidateNodeName(name string) error {
	if fe := manifest.ValidateName("node name", name); fe != nil {
		return fe
	}
	return nil
}
