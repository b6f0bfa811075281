package client

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
)

// configSources are kubectl's --from-literal and --from-file.
type configSources struct {
	literals, files []string
}

func (s *configSources) register(c *cobra.Command) {
	c.Flags().StringArrayVar(&s.literals, "from-literal", nil, "a key and its value: --from-literal=key=value (repeatable)")
	c.Flags().StringArrayVar(&s.files, "from-file", nil, "a file (key: its name, or --from-file=key=path) or a directory (each regular file in it) (repeatable)")
}

// read is the keys and values the sources give, in kubectl's words when
// one is wrong or given twice.
func (s configSources) read() (map[string][]byte, error) {
	out := map[string][]byte{}
	add := func(k string, v []byte) error {
		if _, dup := out[k]; dup {
			return fmt.Errorf("cannot add key %q, another key by that name already exists", k)
		}
		var errs manifest.FieldErrors
		manifest.ValidateConfigKey(&errs, "key", k)
		if len(errs) > 0 {
			return fmt.Errorf("%q is not a valid key name: %s", k, errs[0].Message)
		}
		out[k] = v
		return nil
	}
	for _, l := range s.literals {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("invalid literal source %s, expected key=value", l)
		}
		if err := add(k, []byte(v)); err != nil {
			return nil, err
		}
	}
	for _, f := range s.files {
		k, path, named := strings.Cut(f, "=")
		if !named {
			k, path = "", f
		}
		if path == "" {
			return nil, fmt.Errorf("invalid file source %s, expected [key=]path", f)
		}
		st, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("error reading %s: %w", path, err)
		}
		if st.IsDir() {
			if named {
				return nil, fmt.Errorf("cannot give a key name for a directory path: %s", f)
			}
			ents, err := os.ReadDir(path)
			if err != nil {
				return nil, err
			}
			for _, e := range ents {
				if !e.Type().IsRegular() {
					continue
				}
				b, err := os.ReadFile(filepath.Join(path, e.Name()))
				if err != nil {
					return nil, err
				}
				if err := add(e.Name(), b); err != nil {
					return nil, err
				}
			}
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("error reading %s: %w", path, err)
		}
		if k == "" {
			k = filepath.Base(path)
		}
		if err := add(k, b); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// newCreateConfigMapCmd is kubectl create configmap.
func newCreateConfigMapCmd(g *Globals) *cobra.Command {
	var src configSources
	var namespace string
	c := &cobra.Command{
		Use:     "configmap NAME [--from-literal=key=value] [--from-file=[key=]path]",
		Aliases: []string{"cm"},
		Short:   "Create a ConfigMap from literal values and files (kubectl create configmap)",
		Example: "  gantry create configmap app-config --from-literal=mode=prod --from-file=nginx.conf",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := src.read()
			if err != nil {
				return err
			}
			cm := manifest.ConfigMapSpec{}
			for k, v := range data {
				if utf8.Valid(v) {
					if cm.Data == nil {
						cm.Data = map[string]string{}
					}
					cm.Data[k] = string(v)
				} else {
					if cm.BinaryData == nil {
						cm.BinaryData = map[string][]byte{}
					}
					cm.BinaryData[k] = v
				}
			}
			return createObject(cmd, g, namespace, "configmap", manifest.KindConfigMap, args[0], &cm)
		},
	}
	src.register(c)
	c.Flags().StringVarP(&namespace, "namespace", "n", "", "namespace (default \"default\")")
	return c
}

// newCreateSecretCmd is kubectl create secret generic|tls|docker-registry.
func newCreateSecretCmd(g *Globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "secret (generic|tls|docker-registry) NAME …",
		Short: "Create a Secret; its data is sealed to the cluster's key before it reaches the log",
		Args:  cobra.NoArgs,
	}
	var namespace string
	c.PersistentFlags().StringVarP(&namespace, "namespace", "n", "", "namespace (default \"default\")")

	var src configSources
	var typ string
	generic := &cobra.Command{
		Use:     "generic NAME [--type=string] [--from-literal=key=value] [--from-file=[key=]path]",
		Short:   "Create a Secret from literal values and files",
		Example: "  gantry create secret generic db --from-literal=password=s3cret --from-file=ca.crt",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := src.read()
			if err != nil {
				return err
			}
			return createSecret(cmd, g, namespace, args[0], typ, data)
		},
	}
	src.register(generic)
	generic.Flags().StringVar(&typ, "type", "", "the Secret's type (default Opaque)")

	var cert, key string
	tls := &cobra.Command{
		Use:     "tls NAME --cert=path --key=path",
		Short:   "Create a TLS Secret from a certificate and its key",
		Example: "  gantry create secret tls web-tls --cert=tls.crt --key=tls.key",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cert == "" || key == "" {
				return fmt.Errorf("--cert and --key are both required")
			}
			c, err := os.ReadFile(cert)
			if err != nil {
				return fmt.Errorf("--cert: %w", err)
			}
			k, err := os.ReadFile(key)
			if err != nil {
				return fmt.Errorf("--key: %w", err)
			}
			return createSecret(cmd, g, namespace, args[0], manifest.SecretTypeTLS,
				map[string][]byte{manifest.SecretKeyTLSCert: c, manifest.SecretKeyTLSKey: k})
		},
	}
	tls.Flags().StringVar(&cert, "cert", "", "path to the PEM certificate")
	tls.Flags().StringVar(&key, "key", "", "path to the PEM private key")

	var server, user, password, email string
	registry := &cobra.Command{
		Use:     "docker-registry NAME --docker-username=user --docker-password=password [--docker-server=string] [--docker-email=string]",
		Short:   "Create a Secret for pulling images from a registry (kubernetes.io/dockerconfigjson)",
		Example: "  gantry create secret docker-registry regcred --docker-server=ghcr.io --docker-username=me --docker-password=$TOKEN",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if user == "" || password == "" {
				return fmt.Errorf("--docker-username and --docker-password are required")
			}
			cfg, err := dockerConfigJSON(server, user, password, email)
			if err != nil {
				return err
			}
			return createSecret(cmd, g, namespace, args[0], manifest.SecretTypeDockerConfigJSON,
				map[string][]byte{manifest.SecretKeyDockerConfigJSON: cfg})
		},
	}
	registry.Flags().StringVar(&server, "docker-server", "https://index.docker.io/v1/", "the registry's address")
	registry.Flags().StringVar(&user, "docker-username", "", "user name for the registry")
	registry.Flags().StringVar(&password, "docker-password", "", "password for the registry")
	registry.Flags().StringVar(&email, "docker-email", "", "email for the registry")

	c.AddCommand(generic, tls, registry)
	return c
}

// dockerConfigJSON is the .dockerconfigjson kubectl writes.
func dockerConfigJSON(server, user, password, email string) ([]byte, error) {
	type entry struct {
		Username string `json:"username"`
		Password string `json:"password"`
		Email    string `json:"email,omitempty"`
		Auth     string `json:"auth"`
	}
	return json.Marshal(map[string]map[string]entry{"auths": {server: {Username: user, Password: password, Email: email,
		Auth: base64.StdEncoding.EncodeToString([]byte(user + ":" + password))}}})
}

// createSecret checks the Secret's data as admission will, seals it and
// appends it.
func createSecret(cmd *cobra.Command, g *Globals, ns, name, typ string, data map[string][]byte) error {
	if typ == "" {
		typ = manifest.SecretTypeOpaque
	}
	if errs := manifest.ValidateSecretData(typ, data); len(errs) > 0 {
		return errs
	}
	conn, err := g.Connect("cli")
	if err != nil {
		return err
	}
	defer conn.Close()
	key, err := clusterKey(cmd.Context(), conn.JS)
	if err != nil {
		return err
	}
	spec := manifest.SecretSpec{Type: typ}
	if len(data) > 0 {
		sd, err := sealData(data, key)
		if err != nil {
			return err
		}
		spec.Sealed = &sd
	}
	return appendCreate(cmd, g, conn, ns, "secret", manifest.KindSecret, name, &spec)
}

// createObject appends the intent to create an object made from the
// command line (a ConfigMap).
func createObject(cmd *cobra.Command, g *Globals, ns, token, kind, name string, spec any) error {
	conn, err := g.Connect("cli")
	if err != nil {
		return err
	}
	defer conn.Close()
	return appendCreate(cmd, g, conn, ns, token, kind, name, spec)
}

// appendCreate appends the intent to create the object (refused if it
// exists, as kubectl create is) and prints admission's verdict.
func appendCreate(cmd *cobra.Command, g *Globals, conn *bus.Conn, ns, token, kind, name string, spec any) error {
	if ns == "" {
		ns = manifest.DefaultNamespace
	}
	if fe := manifest.ValidateName("name", name); fe != nil {
		return fe
	}
	b, err := json.Marshal(manifest.Object{APIVersion: manifest.APICoreV1, Kind: kind,
		Metadata: manifest.ObjectMeta{Name: name, Namespace: ns}, Spec: spec})
	if err != nil {
		return fmt.Errorf("encode %s %s: %w", token, name, err)
	}
	it := intent{kind: token, ns: ns, name: name, op: events.OpApply,
		subject: events.IntentSubject(ns, token, name),
		event:   &events.IntentApplied{Kind: token, Namespace: ns, Name: name, Object: b, Create: true},
		label:   resourceLabel(manifest.APICoreV1, token, name)}
	if failed := submit(cmd.Context(), g, conn, []intent{it}); failed > 0 {
		return ExitError{Code: 1, Err: fmt.Errorf("%s %s not created", token, name), Reported: true}
	}
	return nil
}
