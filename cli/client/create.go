package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
)

// newCreateCmd is kubectl's create as far as Gantry has it: create job NAME
// --from=cronjob/NAME, create secret and create configmap
// (create_config.go). Objects are otherwise made by apply.
func newCreateCmd(g *Globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "create (job|secret|configmap) NAME …",
		Short: "Create a Job from a CronJob, a Secret or a ConfigMap (kubectl create); other objects: gantry apply -f",
		Args:  cobra.ArbitraryArgs,
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("create: name what to create: gantry create job|secret|configmap NAME … (other objects: gantry apply -f FILE)")
			}
			return fmt.Errorf("create %s: not supported: gantry create has job, secret and configmap; apply a manifest instead (gantry apply -f FILE)", args[0])
		},
	}
	c.AddCommand(newCreateJobCmd(g), newCreateSecretCmd(g), newCreateConfigMapCmd(g))
	return c
}

func newCreateJobCmd(g *Globals) *cobra.Command {
	var from, namespace, image string
	c := &cobra.Command{
		Use:     "job NAME --from=cronjob/NAME",
		Short:   "Create a Job from a CronJob's job template, as the CronJob would when due",
		Example: "  gantry create job report-manual --from=cronjob/report",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			cronJob, err := createJobFrom(from, image)
			if err != nil {
				return err
			}
			if namespace == "" {
				namespace = manifest.DefaultNamespace
			}
			if fe := manifest.ValidateName("name", name); fe != nil {
				return fe
			}
			conn, err := g.Connect("cli")
			if err != nil {
				return err
			}
			defer conn.Close()
			ctx := cmd.Context()
			if err := awaitReadModel(ctx, conn.JS, g.ErrOut); err != nil {
				return err
			}
			kv, err := conn.JS.KeyValue(ctx, bus.BucketWorkloads)
			if err != nil {
				return fmt.Errorf("read model %s: %w", bus.BucketWorkloads, err)
			}
			r, err := getResource(ctx, kv, resourceKinds["cronjob"], namespace, cronJob)
			if err != nil {
				return err
			}
			var nf notFoundError
			if _, err := getResource(ctx, kv, resourceKinds["job"], namespace, name); err == nil {
				return fmt.Errorf("failed to create job: jobs.batch %q already exists", name)
			} else if !errors.As(err, &nf) {
				return err
			}
			job, err := jobFromCronJob(r.workload.Object, name)
			if err != nil {
				return err
			}
			b, err := json.Marshal(job)
			if err != nil {
				return fmt.Errorf("encode job %s: %w", name, err)
			}
			it := intent{kind: "job", ns: namespace, name: name, op: events.OpApply,
				subject: events.IntentSubject(namespace, "job", name),
				event:   &events.IntentApplied{Kind: "job", Namespace: namespace, Name: name, Object: b, Create: true},
				label:   resourceLabel(manifest.APIBatchV1, "job", name)}
			if failed := submit(ctx, g, conn, []intent{it}); failed > 0 {
				return ExitError{Code: 1, Err: fmt.Errorf("job %s not created", name), Reported: true}
			}
			return nil
		},
	}
	c.Flags().StringVar(&from, "from", "", "the object to make the Job from: cronjob/NAME")
	c.Flags().StringVar(&image, "image", "", "not supported: a Job of one image (apply a manifest instead)")
	c.Flags().StringVarP(&namespace, "namespace", "n", "", "namespace (default \"default\")")
	return c
}

// createJobFrom checks --from (and --image, which Gantry does not take) and
// returns the CronJob's name, with kubectl's messages.
func createJobFrom(from, image string) (string, error) {
	switch {
	case from == "" && image == "":
		return "", errors.New("either --image or --from must be specified")
	case from != "" && image != "":
		return "", errors.New("either --image or --from must be specified, not both")
	case image != "":
		return "", errors.New("--image is not supported: give --from=cronjob/NAME, or apply a Job manifest (gantry apply -f FILE)")
	}
	typ, name, ok := strings.Cut(from, "/")
	if !ok || name == "" {
		return "", fmt.Errorf("--from=%s: want TYPE/NAME, e.g. --from=cronjob/report", from)
	}
	if kind, err := kindOf(typ); err != nil || kind != "cronjob" {
		return "", errors.New("from must be of type cronjob")
	}
	return name, nil
}

// jobFromCronJob is the Job kubectl create job --from makes of a CronJob
// (manifest.JobFromCronJob: its job template, annotated as made by hand).
// kubectl also sets the CronJob as the Job's owner; in Gantry only
// controllers own, so the Job is the user's, and deleting the CronJob
// leaves it.
func jobFromCronJob(cj manifest.Object, name string) (manifest.Object, error) {
	if cj.CronJob() == nil {
		return manifest.Object{}, fmt.Errorf("%s/%s is a %s, not a CronJob", cj.Kind, cj.Metadata.Name, cj.Kind)
	}
	return manifest.JobFromCronJob(cj, name), nil
}
