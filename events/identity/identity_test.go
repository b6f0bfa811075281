package identity_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/identity"
)

// cluster is an embedded server in operator mode with the log provisioned.
type cluster struct {
	set *identity.Set
	url string
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	set, err := identity.LoadOrCreate(filepath.Join(t.TempDir(), "identity"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := bus.StartServer(bus.ServerConfig{StoreDir: t.TempDir(), Listen: "127.0.0.1:-1",
		Auth: &bus.Auth{Operator: set.Operator(), SystemAccount: set.SystemKey, Accounts: set.Accounts()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	c := &cluster{set: set, url: srv.ClientURL()}
	cp := c.connect(t, identity.ControlPlane, identity.ControlPlanePermissions(), identity.ControlPlaneInbox, nil)
	if err := bus.Provision(context.Background(), cp.JS, 1); err != nil {
		t.Fatal(err)
	}
	return c
}

// connect connects as the named identity; violations (the server's async
// permission errors) go to errs.
func (c *cluster) connect(t *testing.T, name string, perms jwt.Permissions, inbox string, errs chan<- error) *bus.Conn {
	t.Helper()
	creds, err := c.set.Issue(name, perms)
	if err != nil {
		t.Fatal(err)
	}
	opts := []nats.Option{nats.UserCredentials(creds), nats.CustomInboxPrefix(inbox)}
	if errs != nil {
		opts = append(opts, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case errs <- err:
			default:
			}
		}))
	}
	conn, err := bus.Connect(c.url, name, opts...)
	if err != nil {
		t.Fatalf("connect as %s: %v", name, err)
	}
	t.Cleanup(conn.Close)
	return conn
}

func TestAnonymousConnectionIsRefused(t *testing.T) {
	c := startCluster(t)
	_, err := bus.Connect(c.url, "anonymous")
	if !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("anonymous connection: got %v, want an authorization violation", err)
	}
}

func TestWrongCredentialsAreRefused(t *testing.T) {
	c := startCluster(t)
	// A user signed by another cluster's account: well formed, not trusted.
	other, err := identity.LoadOrCreate(filepath.Join(t.TempDir(), "other"))
	if err != nil {
		t.Fatal(err)
	}
	creds, err := other.Issue(identity.Admin, identity.AdminPermissions())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Connect(c.url, "stranger", nats.UserCredentials(creds)); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("another cluster's credentials: got %v, want an authorization violation", err)
	}
	// This cluster's user JWT with another key's seed: the nonce's
	// signature does not match.
	good, err := c.set.Issue(identity.Admin, identity.AdminPermissions())
	if err != nil {
		t.Fatal(err)
	}
	token, err := jwt.ParseDecoratedJWT(mustRead(t, good))
	if err != nil {
		t.Fatal(err)
	}
	otherSeed, err := jwt.ParseDecoratedNKey(mustRead(t, creds))
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := otherSeed.Seed()
	if _, err := bus.Connect(c.url, "forger", nats.UserJWTAndSeed(token, string(seed))); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("a real JWT with a wrong seed: got %v, want an authorization violation", err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// violation waits for the server to deny subject: the permission error
// that names it (with suffix, when given, ending it).
func violation(t *testing.T, errs <-chan error, what, subject string, suffix ...string) {
	t.Helper()
	end := `"`
	if len(suffix) > 0 {
		end = suffix[0] + `"`
	}
	deadline := time.After(5 * time.Second)
	for {
		select {
		case err := <-errs:
			msg := err.Error()
			if i := strings.Index(msg, `"`+subject); errors.Is(err, nats.ErrPermissionViolation) && i >= 0 && strings.HasSuffix(msg[i+1:], end) {
				return
			}
		case <-deadline:
			t.Fatalf("%s: the server did not deny %q", what, subject)
		}
	}
}

// A node's credentials: every forbidden subject of the issue is denied by
// the server, and what the node does is allowed.
func TestNodeCredentialsAreConfinedByTheServer(t *testing.T) {
	c := startCluster(t)
	errs := make(chan error, 64)
	n1 := c.connect(t, identity.NodeName("n1"), identity.NodePermissions("n1"), identity.NodeInbox("n1"), errs)
	for _, tc := range []struct{ what, subject string }{
		{"a decision", events.PodDecisionSubject("default", "p")},
		{"a binding to itself", events.NodePodSubject("n1", "default", "p")},
		{"another node's observation", events.ObsNodeSubject("n2")},
		{"another node's heartbeat", events.HeartbeatSubject("n2")},
		{"another node's ingest", events.IngestSubject("n2")},
		{"an intent", events.IntentSubject("default", "pod", "p")},
		{"a lease or read model", "$KV.gantry_leases.scheduler"},
		{"a stream purge", "$JS.API.STREAM.PURGE." + events.StreamDecisions},
		{"a direct get of another node's decisions", "$JS.API.DIRECT.GET." + events.StreamDecisions + ".gantry.node.n2.>"},
		{"a consumer on another node's decisions", "$JS.API.CONSUMER.CREATE." + events.StreamDecisions + ".x.gantry.node.n2.>"},
		{"another node's durable consumer", "$JS.API.CONSUMER.CREATE." + events.StreamDecisions + ".node-n2.gantry.node.n2.>"},
		{"a consumer on the intents", "$JS.API.CONSUMER.CREATE." + events.StreamIntents + ".x"},
		{"a consumer on another node's reports", "$JS.API.CONSUMER.CREATE." + events.StreamObservations + ".x.gantry.obs.n2.pod.>"},
		{"another node's acks", "$JS.ACK." + events.StreamDecisions + ".node-n2.1.1.1.1.1"},
	} {
		if err := n1.NC.Publish(tc.subject, []byte("{}")); err != nil {
			t.Fatal(err)
		}
		_ = n1.NC.Flush()
		violation(t, errs, "publish "+tc.what, tc.subject)
	}
	for _, subject := range []string{"gantry.node.n2.>", "gantry.node.n2.rpc.logs", identity.NodeInbox("n2") + ".>", "_INBOX.>", events.SubjectDecisionAll} {
		if _, err := n1.NC.Subscribe(subject, func(*nats.Msg) {}); err != nil {
			t.Fatal(err)
		}
		_ = n1.NC.Flush()
		violation(t, errs, "subscribe", subject)
	}
	// The JetStream API answers the forbidden read with the violation
	// (the request is never delivered).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := n1.JS.OrderedConsumer(ctx, events.StreamDecisions, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"gantry.node.n2.>"}}); err == nil {
		t.Error("an ordered consumer on another node's decisions was made")
	}
	violation(t, errs, "an ordered consumer on another node's decisions", "$JS.API.CONSUMER.CREATE."+events.StreamDecisions+".", ".gantry.node.n2.>")

	// What it does is allowed: its heartbeat is stored, its durable made.
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := n1.JS.Publish(ctx, events.HeartbeatSubject("n1"), []byte("{}")); err != nil {
		t.Fatalf("its own heartbeat: %v", err)
	}
	if _, err := n1.JS.CreateOrUpdateConsumer(ctx, events.StreamDecisions, jetstream.ConsumerConfig{
		Durable: "node-n1", FilterSubject: events.NodeFilter("n1"), AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatalf("its own durable consumer: %v", err)
	}
}

// A user writes intents, never decisions nor a node's reports.
func TestAdminCannotForgeDecisionsOrReports(t *testing.T) {
	c := startCluster(t)
	errs := make(chan error, 64)
	admin := c.connect(t, identity.Admin, identity.AdminPermissions(), "_INBOX", errs)
	for _, subject := range []string{events.PodDecisionSubject("default", "p"), events.NodePodSubject("n1", "default", "p"),
		events.ObsNodeSubject("n1"), events.HeartbeatSubject("n1"), events.IngestSubject("n1"), "$KV.gantry_pods.x"} {
		if err := admin.NC.Publish(subject, []byte("{}")); err != nil {
			t.Fatal(err)
		}
		_ = admin.NC.Flush()
		violation(t, errs, "admin publish", subject)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := admin.JS.Publish(ctx, events.IntentSubject("default", "pod", "p"), []byte("{}")); err != nil {
		t.Fatalf("an intent: %v", err)
	}
}

// Seeds are kept 0600 and reused: a second start is the same cluster.
func TestIdentitiesAreKeptAndReused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "identity")
	a, err := identity.LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	path, err := a.Issue(identity.NodeName("n1"), identity.NodePermissions("n1"))
	if err != nil {
		t.Fatal(err)
	}
	first := mustRead(t, path)
	b, err := identity.LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if a.AccountKey != b.AccountKey || a.SystemKey != b.SystemKey || a.Operator().Subject != b.Operator().Subject {
		t.Fatal("a second load made new keys")
	}
	if _, err := b.Issue(identity.NodeName("n1"), identity.NodePermissions("n1")); err != nil {
		t.Fatal(err)
	}
	k1, _ := jwt.ParseDecoratedUserNKey(first)
	k2, _ := jwt.ParseDecoratedUserNKey(mustRead(t, path))
	p1, _ := k1.PublicKey()
	p2, _ := k2.PublicKey()
	if p1 != p2 {
		t.Fatal("a second issue made a new user key")
	}
	for _, f := range []string{"operator.nk", "account.nk", "system.nk", "creds/node-n1.creds"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", f, st.Mode().Perm())
		}
	}
}
