package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
)

// verdictTimeout bounds how long a client waits for admission to answer.
const verdictTimeout = 30 * time.Second

func newApplyCmd(g *Globals) *cobra.Command {
	var files []string
	var namespace string
	c := &cobra.Command{
		Use:   "apply -f FILE|DIR|-",
		Short: "Ask for objects to exist as a manifest describes them; prints admission's verdict",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(files) == 0 {
				return errors.New("must specify -f FILE, a directory, or - for stdin")
			}
			docs, err := readDocuments(g.In, files)
			if err != nil {
				return err
			}
			var intents []intent
			failed := 0
			for _, d := range docs {
				it, err := applyIntent(d, namespace)
				if err != nil {
					fmt.Fprintf(g.ErrOut, "error: %s: %v\n", docLabel(d), err)
					failed++
					continue
				}
				intents = append(intents, it)
			}
			if len(intents) > 0 {
				conn, err := g.Connect("cli")
				if err != nil {
					return err
				}
				defer conn.Close()
				// A Secret's data is sealed to the cluster's key before it
				// is appended: the log never holds it in the clear.
				if err := sealSecrets(cmd.Context(), conn.JS, intents); err != nil {
					return err
				}
				failed += submit(cmd.Context(), g, conn, intents)
			}
			if failed > 0 {
				return ExitError{Code: 1, Err: fmt.Errorf("%d of %d object(s) not applied", failed, len(docs)), Reported: true}
			}
			return nil
		},
	}
	c.Flags().StringSliceVarP(&files, "filename", "f", nil, "manifest file, directory of manifests, or - for stdin")
	c.Flags().StringVarP(&namespace, "namespace", "n", "", "namespace for objects that do not name one")
	return c
}

// intent is one change a client is about to append.
type intent struct {
	kind, ns, name string
	op             string
	subject        string
	event          events.Event
	label          string
	// ignoreNotFound: a delete of an object that does not exist is not an
	// error and prints nothing (kubectl's --ignore-not-found).
	ignoreNotFound bool
	// done, when set, is kubectl's word for an accepted edit (scaled,
	// image updated); quietUnchanged: an unchanged verdict prints nothing.
	done           string
	quietUnchanged bool
}

func docLabel(d manifest.Document) string {
	src := d.Source
	if src == "" {
		src = "stdin"
	}
	return fmt.Sprintf("%s (document %d)", src, d.Index+1)
}

// applyIntent checks what the log needs to address the object (kind, name,
// namespace as subject tokens); everything else is admission's to judge, so a
// bad manifest is rejected with its reasons and stays in the log.
func applyIntent(d manifest.Document, ns string) (intent, error) {
	kind, err := manifestKind(d.APIVersion, d.Kind)
	if err != nil {
		return intent{}, err
	}
	if k, ok := manifest.KindOfToken(kind); ok && k.ClusterScoped {
		// A Namespace has none; admission refuses one that names one.
		if fe := manifest.ValidateName("metadata.name", d.Name); fe != nil {
			return intent{}, fe
		}
		return intent{kind: kind, ns: events.ClusterScope, name: d.Name, op: events.OpApply,
			subject: events.IntentSubject(events.ClusterScope, kind, d.Name),
			event:   &events.IntentApplied{Kind: kind, Namespace: events.ClusterScope, Name: d.Name, Object: d.JSON},
			label:   resourceLabel(d.APIVersion, kind, d.Name)}, nil
	}
	if d.Namespace != "" {
		if ns != "" && ns != d.Namespace {
			return intent{}, fmt.Errorf("metadata.namespace %q does not match --namespace %q", d.Namespace, ns)
		}
		ns = d.Namespace
	}
	if ns == "" {
		ns = manifest.DefaultNamespace
	}
	if fe := manifest.ValidateName("metadata.name", d.Name); fe != nil {
		return intent{}, fe
	}
	if fe := manifest.ValidateName("metadata.namespace", ns); fe != nil {
		return intent{}, fe
	}
	obj := d.JSON
	if d.Namespace == "" {
		obj, err = withNamespace(d.JSON, ns)
		if err != nil {
			return intent{}, err
		}
	}
	return intent{kind: kind, ns: ns, name: d.Name, op: events.OpApply,
		subject: events.IntentSubject(ns, kind, d.Name),
		event:   &events.IntentApplied{Kind: kind, Namespace: ns, Name: d.Name, Object: obj},
		label:   resourceLabel(d.APIVersion, kind, d.Name)}, nil
}

// manifestKind checks a document's apiVersion and kind are well formed and
// returns the kind's subject token. Whether Gantry supports the kind is
// admission's to judge: the intent of an unknown kind (ReplicaSet, Service)
// is appended and refused in the log, with its actor, like any other.
func manifestKind(apiVersion, kind string) (string, error) {
	token, fe := manifest.KindToken(apiVersion, kind)
	if fe != nil {
		return "", fe
	}
	return token, nil
}

// resourceLabel names an object as kubectl does in its messages: the kind's
// token, its API group when it has one, and the name (deployment.apps/hello,
// pod/web, replicaset.apps/rs).
func resourceLabel(apiVersion, token, name string) string {
	if group, _, ok := strings.Cut(apiVersion, "/"); ok {
		return token + "." + group + "/" + name
	}
	return token + "/" + name
}

// withNamespace sets metadata.namespace in a manifest that has none.
func withNamespace(raw json.RawMessage, ns string) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	var meta map[string]json.RawMessage
	if err := json.Unmarshal(m["metadata"], &meta); err != nil {
		return nil, fmt.Errorf("metadata: must be an object")
	}
	b, _ := json.Marshal(ns)
	meta["namespace"] = b
	mb, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	m["metadata"] = mb
	return json.Marshal(m)
}

// readDocuments reads every manifest document of the files, directories
// (*.yaml, *.yml, *.json, sorted) and stdin (-) given.
func readDocuments(stdin io.Reader, files []string) ([]manifest.Document, error) {
	var out []manifest.Document
	for _, f := range files {
		paths := []string{f}
		if f != "-" {
			st, err := os.Stat(f)
			if err != nil {
				return nil, fmt.Errorf("-f %s: %w", f, err)
			}
			if st.IsDir() {
				paths = nil
				entries, err := os.ReadDir(f)
				if err != nil {
					return nil, fmt.Errorf("-f %s: %w", f, err)
				}
				for _, e := range entries {
					ext := strings.ToLower(filepath.Ext(e.Name()))
					if !e.IsDir() && (ext == ".yaml" || ext == ".yml" || ext == ".json") {
						paths = append(paths, filepath.Join(f, e.Name()))
					}
				}
				sort.Strings(paths)
				if len(paths) == 0 {
					return nil, fmt.Errorf("-f %s: no .yaml, .yml or .json files in the directory", f)
				}
			}
		}
		for _, p := range paths {
			docs, err := readFile(stdin, p)
			if err != nil {
				return nil, err
			}
			out = append(out, docs...)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no objects passed to apply")
	}
	return out, nil
}

func readFile(stdin io.Reader, path string) ([]manifest.Document, error) {
	var r io.Reader = stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("-f %s: %w", path, err)
		}
		defer f.Close()
		r = f
	}
	docs, err := manifest.SplitDocuments(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", displayPath(path), err)
	}
	for i := range docs {
		docs[i].Source = displayPath(path)
	}
	return docs, nil
}

func displayPath(p string) string {
	if p == "-" {
		return "stdin"
	}
	return p
}

// submit appends the intents, waits for admission's verdict on each and
// prints it kubectl-style. It returns how many were not accepted.
func submit(ctx context.Context, g *Globals, conn *bus.Conn, intents []intent) int {
	verdicts, ids, failed, err := appendIntents(ctx, g, conn, intents)
	if ids == nil {
		return failed
	}
	for i, it := range intents {
		v, ok := verdicts[i]
		printWarnings(g, v)
		switch {
		case !ok && hasIndex(ids, i):
			fmt.Fprintf(g.ErrOut, "error: %s: submitted, but no verdict within %s (is the admission service running?)\n", it.label, verdictTimeout)
			failed++
		case !ok:
		case v.rejected != nil && v.rejected.Code == events.RejectNotFound && it.op == events.OpDelete:
			if !it.ignoreNotFound {
				fmt.Fprintf(g.ErrOut, "Error from server (NotFound): %s %q not found\n", resourcePlural(it.kind), it.name)
				failed++
			}
		case v.rejected != nil:
			fmt.Fprintf(g.ErrOut, "error: %s rejected:\n", it.label)
			for _, r := range v.rejected.Reasons {
				fmt.Fprintf(g.ErrOut, "  - %s\n", r)
			}
			failed++
		case v.cordoned != nil:
			word := "cordoned"
			if !v.cordoned.Unschedulable {
				word = "uncordoned"
			}
			fmt.Fprintf(g.Out, "%s %s\n", it.label, word)
		case it.quietUnchanged && v.accepted.Unchanged:
		case it.done != "":
			fmt.Fprintf(g.Out, "%s %s\n", it.label, it.done)
		default:
			fmt.Fprintf(g.Out, "%s %s\n", it.label, verb(it.op, v.accepted))
		}
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintf(g.ErrOut, "error: %v\n", err)
	}
	return failed
}

// appendIntents appends the intents and waits for admission's verdict on
// each (by index); ids are the intents appended (by envelope id), failed
// those that could not be (said on g.ErrOut). ids is nil when nothing
// could be tried.
func appendIntents(ctx context.Context, g *Globals, conn *bus.Conn, intents []intent) (verdicts map[int]verdict, ids map[string]int, failed int, err error) {
	start, err := bus.LastSeq(ctx, conn.JS, events.StreamDecisions)
	if err != nil {
		fmt.Fprintf(g.ErrOut, "error: %v\n", err)
		return nil, nil, len(intents), err
	}
	sg, err := g.Signer()
	if err != nil {
		fmt.Fprintf(g.ErrOut, "error: %v\n", err)
		return nil, nil, len(intents), err
	}
	who := sg.actor()
	ids = map[string]int{}
	for i, it := range intents {
		id := events.NewID()
		env, err := events.Seal(it.event, events.Meta{ID: id, Source: "cli", Subject: it.ns + "/" + it.name,
			Time: time.Now(), Actor: who})
		if err == nil && sg != nil {
			err = events.Sign(&env, sg.key) // admission verifies it (docs/security-signing.md)
		}
		if err == nil {
			_, err = bus.PublishOne(ctx, conn.JS, bus.Outgoing{Subject: it.subject, Envelope: env, MsgID: id})
		}
		if err != nil {
			// A full disk answers nothing, or "insufficient resources":
			// the embedded server's guard says which, and how full.
			fmt.Fprintf(g.ErrOut, "error: %s: %v\n", it.label, bus.Explain(ctx, conn.NC, err))
			failed++
			continue
		}
		ids[id] = i
	}
	verdicts, err = awaitVerdicts(ctx, conn.JS, start, ids)
	return verdicts, ids, failed, err
}

// printWarnings prints the warnings of admission policies bound with Warn,
// as kubectl prints an API server's.
func printWarnings(g *Globals, v verdict) {
	var ws []string
	switch {
	case v.accepted != nil:
		ws = v.accepted.Warnings
	case v.rejected != nil:
		ws = v.rejected.Warnings
	}
	for _, w := range ws {
		fmt.Fprintf(g.ErrOut, "Warning: %s\n", w)
	}
}

func hasIndex(ids map[string]int, i int) bool {
	for _, j := range ids {
		if j == i {
			return true
		}
	}
	return false
}

func verb(op string, a *events.AdmissionAccepted) string {
	switch {
	case op == events.OpDelete:
		return "deleted"
	case op == events.OpEvict:
		return "evicted"
	case a.Unchanged:
		return "unchanged"
	case a.Generation == 1:
		return "created"
	}
	return "configured"
}

type verdict struct {
	accepted *events.AdmissionAccepted
	rejected *events.AdmissionRejected
	cordoned *events.NodeCordoned
}

// awaitVerdicts reads admission verdicts stored after sequence start until
// every intent id has one, or verdictTimeout passes.
func awaitVerdicts(ctx context.Context, js jetstream.JetStream, start uint64, ids map[string]int) (map[int]verdict, error) {
	out := map[int]verdict{}
	if len(ids) == 0 {
		return out, nil
	}
	ctx, cancel := context.WithTimeout(ctx, verdictTimeout)
	defer cancel()
	// One consumer for the whole wait, deleted when done: nothing of this
	// command is left on the stream.
	r, err := bus.Read(ctx, js, events.StreamDecisions, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.SubjectAdmissionAll, events.SubjectNodeDecisionAll},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy, OptStartSeq: start + 1})
	if err != nil {
		return out, fmt.Errorf("wait for verdicts: %w", err)
	}
	defer r.Close()
	for len(out) < len(ids) {
		m, err := r.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			return out, fmt.Errorf("wait for verdicts: %w", err)
		}
		env, err := events.Parse(m.Data())
		if err != nil {
			continue
		}
		ev, err := env.Decode()
		if err != nil {
			continue
		}
		switch e := ev.(type) {
		case *events.AdmissionAccepted:
			if i, ok := ids[e.IntentID]; ok {
				out[i] = verdict{accepted: e}
			}
		case *events.AdmissionRejected:
			if i, ok := ids[e.IntentID]; ok {
				out[i] = verdict{rejected: e}
			}
		case *events.NodeCordoned:
			if i, ok := ids[e.IntentID]; ok {
				out[i] = verdict{cordoned: e}
			}
		}
	}
	return out, nil
}
