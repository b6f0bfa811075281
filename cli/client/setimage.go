package client

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
)

// newSetCmd is kubectl's set as far as Gantry has it: set image.
func newSetCmd(g *Globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "set image",
		Short: "Set a field of an object (kubectl set): image",
	}
	c.AddCommand(newSetImageCmd(g))
	return c
}

func newSetImageCmd(g *Globals) *cobra.Command {
	var namespace string
	c := &cobra.Command{
		Use:   "image (TYPE/NAME | TYPE NAME) CONTAINER=IMAGE [CONTAINER=IMAGE...]",
		Short: "Update the image of containers in a pod template (kubectl set image); * names every container",
		Example: "  gantry set image deployment/web web=nginx:1.27\n" +
			"  gantry set image daemonset logger '*=fluent-bit:3.1'",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			objArgs, images, err := parseSetImageArgs(args)
			if err != nil {
				return err
			}
			rk, name, err := oneObject(objArgs)
			if err != nil {
				return err
			}
			if err := imageSettable(rk.info, rk.qualifiedPlural()); err != nil {
				return err
			}
			ns := orDefaultNamespace(namespace)
			return g.WithCluster(cmd, "cli", func(ctx context.Context, conn *bus.Conn) error {
				w, err := readWorkload(ctx, g, conn, rk, ns, name)
				if err != nil {
					return err
				}
				obj, err := setImages(w.Object, images)
				if err != nil {
					return err
				}
				label := resourceLabel(rk.apiVersion(), rk.kind, name)
				return submitEdit(ctx, g, conn, rk, ns, name, obj, label, "image updated", true)
			})
		},
	}
	c.Flags().StringVarP(&namespace, "namespace", "n", "", "namespace (default \"default\")")
	return c
}

// containerImage is one CONTAINER=IMAGE argument; container "*" is every
// container of the template.
type containerImage struct{ container, image string }

// parseSetImageArgs splits kubectl's arguments: those with "=" are images,
// the others name the object.
func parseSetImageArgs(args []string) (objArgs []string, images []containerImage, err error) {
	for _, a := range args {
		c, img, ok := strings.Cut(a, "=")
		if !ok {
			objArgs = append(objArgs, a)
			continue
		}
		if c == "" {
			return nil, nil, fmt.Errorf("%q: a container name is required before '=' (CONTAINER=IMAGE, or *=IMAGE for every container)", a)
		}
		if strings.TrimSpace(img) == "" {
			return nil, nil, fmt.Errorf("%q: image for container %q must not be empty", a, c)
		}
		images = append(images, containerImage{container: c, image: img})
	}
	switch {
	case len(objArgs) == 0:
		return nil, nil, errors.New("one or more resources must be specified as <resource> <name> or <resource>/<name>")
	case len(images) == 0:
		return nil, nil, errors.New("at least one image update is required")
	}
	return objArgs, images, nil
}

// imageSettable refuses, before anything is read, a kind whose images
// cannot change: one without a pod template, a Job (its template is
// immutable, as in Kubernetes), a Pod (admission refuses a pod's spec
// update).
func imageSettable(k *manifest.KindInfo, plural string) error {
	switch {
	case k != nil && k.Kind == manifest.KindJob:
		return fmt.Errorf("%s: spec.template: field is immutable: a Job's pod template cannot change; delete the Job and create it again, or set the image of its CronJob", plural)
	case k != nil && k.Kind == manifest.KindPod:
		return fmt.Errorf("%s: spec: pod updates may not change the spec; set the image of the pod's Deployment, or delete the pod and create it again", plural)
	case k == nil || k.Template == nil:
		var with []string
		for _, t := range kindTable {
			if t.info != nil && t.info.Template != nil && t.info.Kind != manifest.KindJob {
				with = append(with, t.qualifiedPlural())
			}
		}
		return fmt.Errorf("%s have no pod template: kinds whose image can be set: %s", plural, strings.Join(with, ", "))
	}
	return nil
}

// setImages is a copy of o with the images set in its pod template (the
// registry's Template: spec.template, a CronJob's
// spec.jobTemplate.spec.template), in the order given.
func setImages(o manifest.Object, images []containerImage) (manifest.Object, error) {
	k := o.Info()
	if k == nil {
		return manifest.Object{}, fmt.Errorf("kind %q is not supported", o.Kind)
	}
	if err := imageSettable(k, k.QuotaResource()); err != nil {
		return manifest.Object{}, err
	}
	out, err := editJSON(o, func(map[string]any) error { return nil }) // a deep copy
	if err != nil {
		return manifest.Object{}, err
	}
	cs := k.Template(out).Spec.Containers
	for _, ci := range images {
		if strings.TrimSpace(ci.image) == "" {
			return manifest.Object{}, fmt.Errorf("image for container %q must not be empty", ci.container)
		}
		found := false
		for i := range cs {
			if ci.container == "*" || cs[i].Name == ci.container {
				cs[i].Image = ci.image
				found = true
			}
		}
		if !found {
			names := make([]string, len(cs))
			for i, c := range cs {
				names[i] = c.Name
			}
			return manifest.Object{}, fmt.Errorf("unable to find container named %q in %s: its containers are %s",
				ci.container, k.TemplatePath, strings.Join(names, ", "))
		}
	}
	return out, nil
}
