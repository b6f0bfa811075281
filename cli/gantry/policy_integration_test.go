package main

import (
	"strings"
	"testing"
)

// The example through the CLI, with real NATS and the admission
// service: a policy and its binding applied, a Deployment with an image
// from elsewhere is refused with the policy's message, one from
// gantry.local/ is created; a Warn binding prints a warning and denies
// nothing; a policy that runs away is refused naming its field.
func TestAdmissionPolicyThroughTheCLI(t *testing.T) {
	_, gantry := admissionCluster(t)
	policy := writeManifest(t, "policy.yaml", `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: local-images
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups: ["apps"]
      apiVersions: ["v1"]
      operations: ["CREATE", "UPDATE"]
      resources: ["deployments"]
  validations:
  - expression: "object.spec.template.spec.containers.all(c, c.image.startsWith('gantry.local/'))"
    message: images must come from gantry.local/
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: local-images-binding
spec:
  policyName: local-images
  validationActions: [Deny]
`)
	if code, out, errOut := gantry("apply", "-f", policy); code != 0 ||
		out != "validatingadmissionpolicy.admissionregistration.k8s.io/local-images created\nvalidatingadmissionpolicybinding.admissionregistration.k8s.io/local-images-binding created\n" {
		t.Fatalf("apply the policy: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	deployment := func(name, image string) string {
		return writeManifest(t, name+".yaml", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: `+name+`
spec:
  replicas: 1
  selector:
    matchLabels: {app: `+name+`}
  template:
    metadata:
      labels: {app: `+name+`}
    spec:
      containers:
      - name: c
        image: `+image+`
`)
	}
	code, out, errOut := gantry("apply", "-f", deployment("web", "docker.io/nginx"))
	want := "error: deployment.apps/web rejected:\n  - ValidatingAdmissionPolicy 'local-images' with binding 'local-images-binding' denied request: images must come from gantry.local/\n"
	if code == 0 || errOut != want {
		t.Errorf("a foreign image: exit %d, stdout %q, stderr %q, want %q", code, out, errOut, want)
	}
	if code, out, errOut := gantry("apply", "-f", deployment("api", "gantry.local/api:1")); code != 0 || out != "deployment.apps/api created\n" {
		t.Errorf("a local image: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	// The binding changed to Warn: the same Deployment is created, warned.
	warn := writeManifest(t, "warn.yaml", `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: local-images-binding
spec:
  policyName: local-images
  validationActions: [Warn]
`)
	if code, _, errOut := gantry("apply", "-f", warn); code != 0 {
		t.Fatalf("apply Warn: exit %d, stderr %q", code, errOut)
	}
	code, out, errOut = gantry("apply", "-f", deployment("web", "docker.io/nginx"))
	if code != 0 || out != "deployment.apps/web created\n" ||
		errOut != "Warning: Validation failed for ValidatingAdmissionPolicy 'local-images' with binding 'local-images-binding': images must come from gantry.local/\n" {
		t.Errorf("warned: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	runaway := writeManifest(t, "runaway.yaml", `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: runaway
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: ["*"]
      apiVersions: ["*"]
      operations: ["*"]
      resources: ["*"]
  validations:
  - expression: "object.spec.template.spec.containers.all(a, object.spec.template.spec.containers.all(b, object.spec.template.spec.containers.all(c, a.image == c.image)))"
`)
	code, _, errOut = gantry("apply", "-f", runaway)
	if code == 0 || !strings.Contains(errOut, "  - spec.validations[0].expression: too expensive: the estimated cost ") {
		t.Errorf("a runaway policy: exit %d, stderr %q", code, errOut)
	}
}
