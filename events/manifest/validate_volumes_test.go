package manifest

import (
	"reflect"
	"strings"
	"testing"
)

// A pod with every volume source, mount and env source Gantry supports, in
// the shape of Kubernetes' documentation's examples.
const volumesPodYAML = `apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: web
    image: gantry.local/hello:v1
    resources: {limits: {cpu: 500m, memory: 64Mi}}
    env:
    - {name: LEVEL, valueFrom: {configMapKeyRef: {name: app-config, key: log.level}}}
    - {name: PASSWORD, valueFrom: {secretKeyRef: {name: db, key: password, optional: true}}}
    - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: APP, valueFrom: {fieldRef: {fieldPath: "metadata.labels['app']"}}}
    - {name: MEM, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
    envFrom:
    - configMapRef: {name: app-config}
    - {prefix: DB_, secretRef: {name: db}}
    volumeMounts:
    - {name: cache, mountPath: /cache}
    - {name: shm, mountPath: /dev/shm}
    - {name: host, mountPath: /host/log, readOnly: true}
    - {name: config, mountPath: /etc/app}
    - {name: config, mountPath: /etc/app.conf, subPath: app.conf}
    - {name: creds, mountPath: /etc/creds}
    - {name: all, mountPath: /etc/all}
    - {name: info, mountPath: /etc/podinfo}
    - {name: data, mountPath: /data}
  volumes:
  - {name: cache, emptyDir: {}}
  - {name: shm, emptyDir: {medium: Memory, sizeLimit: 64Mi}}
  - {name: host, hostPath: {path: /var/log, type: Directory}}
  - name: config
    configMap: {name: app-config, items: [{key: app.conf, path: app.conf, mode: 0644}], defaultMode: 0444}
  - {name: creds, secret: {secretName: db, defaultMode: 0400, optional: false}}
  - name: all
    projected:
      sources:
      - configMap: {name: app-config, items: [{key: app.conf, path: config/app.conf}]}
      - secret: {name: db, items: [{key: password, path: secret/password}]}
      - downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]}
  - name: info
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: annotations, fieldRef: {fieldPath: metadata.annotations}}
      - {path: name, fieldRef: {fieldPath: metadata.name}}
      - {path: cpu_limit, resourceFieldRef: {containerName: web, resource: limits.cpu, divisor: 1m}}
  - {name: data, persistentVolumeClaim: {claimName: data-web-0}}
`

func TestValidateVolumes(t *testing.T) {
	const v, c0 = "spec.volumes", "spec.containers[0]."
	tests := []struct {
		name   string
		mutate func(s *PodSpec)
		want   []string
	}{
		{"every source, mount and env source, good", func(s *PodSpec) {}, nil},
		{"a volume without a source, one with two, a bad and a duplicate name", func(s *PodSpec) {
			s.Volumes[0].EmptyDir = nil
			s.Volumes[1].HostPath = &HostPathVolumeSource{Path: "/tmp"}
			s.Volumes[2].Name = "Host_1"
			s.Volumes[3].Name = "cache"
		}, []string{
			v + "[0]: must specify one volume source (emptyDir, hostPath, configMap, secret, projected, downwardAPI or persistentVolumeClaim)",
			v + "[1]: may not specify more than one volume source, got emptyDir, hostPath",
			v + `[2].name: invalid value "Host_1": must consist of lower-case letters, digits and '-', and start and end with a letter or digit (e.g. "web-1")`,
			v + `[3].name: duplicate name "cache" (also spec.volumes[0])`,
			c0 + `volumeMounts[2].name: not found: "host" is not a volume of the pod`,
			c0 + `volumeMounts[3].name: not found: "config" is not a volume of the pod`,
			c0 + `volumeMounts[4].name: not found: "config" is not a volume of the pod`,
		}},
		{"emptyDir's medium and size, hostPath's path and type", func(s *PodSpec) {
			s.Volumes[1].EmptyDir.Medium = "HugePages"
			q := MustQuantity("-1")
			s.Volumes[1].EmptyDir.SizeLimit = &q
			s.Volumes[2].HostPath.Path = "var/log"
			s.Volumes[2].HostPath.Type = strp("Dir")
		}, []string{
			v + `[1].emptyDir.medium: unsupported value "HugePages": must be "" or Memory`,
			v + `[1].emptyDir.sizeLimit: invalid value "-1": must not be negative`,
			v + `[2].hostPath.path: invalid value "var/log": must be an absolute path`,
			v + `[2].hostPath.type: unsupported value "Dir": must be one of DirectoryOrCreate, Directory, FileOrCreate, File, Socket, CharDevice, BlockDevice`,
		}},
		{"configMap and secret names, keys, paths and modes", func(s *PodSpec) {
			cm := s.Volumes[3].ConfigMap
			cm.Name = "app.config"
			cm.Items = []KeyToPath{{Key: "..x", Path: "/etc/passwd"}, {Key: "a", Path: "../up", Mode: int32p(0o1777)}, {Key: "b", Path: "a/../../b"}}
			cm.DefaultMode = int32p(-1)
			s.Volumes[4].Secret.SecretName = ""
		}, []string{
			v + `[3].configMap.name: invalid value "app.config": must not contain dots (a name is a NATS subject token)`,
			v + `[3].configMap.items[0].key: invalid value "..x": must not be '.' or '..' or start with '..'`,
			v + `[3].configMap.items[0].path: invalid value "/etc/passwd": must be a relative path`,
			v + `[3].configMap.items[1].path: invalid value "../up": must not start with '..'`,
			v + `[3].configMap.items[1].mode: invalid value 1023: must be a file mode between 0 and 0777 (511)`,
			v + `[3].configMap.items[2].path: invalid value "a/../../b": must not contain '..'`,
			v + `[3].configMap.defaultMode: invalid value -1: must be a file mode between 0 and 0777 (511)`,
			v + `[4].secret.secretName: required`,
		}},
		{"projected sources: exactly one each, one file once", func(s *PodSpec) {
			src := s.Volumes[5].Projected.Sources
			src[0].Secret = &SecretProjection{Name: "db"}
			src[1].Secret.Items[0].Path = "config/app.conf"
			s.Volumes[5].Projected.Sources = append(src, VolumeProjection{})
		}, []string{
			v + "[5].projected.sources[0]: may not specify more than one source",
			v + `[5].projected.sources[1].secret.items[0].path: duplicate path "config/app.conf" (also spec.volumes[5].projected.sources[0].configMap.items[0].path)`,
			v + "[5].projected.sources[3]: must specify one source (configMap, secret or downwardAPI)",
		}},
		{"downwardAPI's fields and resources", func(s *PodSpec) {
			items := s.Volumes[6].DownwardAPI.Items
			items[0].FieldRef.FieldPath = "status.podIP"
			items[1].FieldRef.FieldPath = "metadata.labels['bad key']"
			items[2].ResourceFieldRef = &ResourceFieldSelector{Resource: "limits.cpu"}
			items[3].ResourceFieldRef.ContainerName = "db"
			items[3].ResourceFieldRef.Resource = "limits.gpu"
		}, []string{
			v + `[6].downwardAPI.items[0].fieldRef.fieldPath: unsupported value "status.podIP": must be one of metadata.name, metadata.namespace, metadata.uid, metadata.labels, metadata.annotations, metadata.labels['<KEY>'], metadata.annotations['<KEY>']`,
			v + `[6].downwardAPI.items[1].fieldRef.fieldPath: invalid key "bad key": name part must consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit (e.g. "app.kubernetes.io/name")`,
			v + "[6].downwardAPI.items[2]: may not specify both fieldRef and resourceFieldRef",
			v + `[6].downwardAPI.items[3].resourceFieldRef.containerName: invalid value "db": must be a container of the pod`,
			v + `[6].downwardAPI.items[3].resourceFieldRef.resource: unsupported value "limits.gpu": must be one of limits.cpu, limits.memory, limits.ephemeral-storage, requests.cpu, requests.memory, requests.ephemeral-storage`,
		}},
		{"a claim's name", func(s *PodSpec) { s.Volumes[7].PersistentVolumeClaim.ClaimName = "" },
			[]string{v + "[7].persistentVolumeClaim.claimName: required"}},
		{"mounts: a volume of the pod, an absolute and unique path, a subPath inside the volume", func(s *PodSpec) {
			m := s.Containers[0].VolumeMounts
			m[0].Name = "nope"
			m[1].MountPath = "dev/shm"
			m[2].MountPath = "/cache/"
			m[4].SubPath = "../../etc/shadow"
			m[5].SubPath = "/etc"
		}, []string{
			c0 + `volumeMounts[0].name: not found: "nope" is not a volume of the pod`,
			c0 + `volumeMounts[1].mountPath: invalid value "dev/shm": must be an absolute path`,
			c0 + `volumeMounts[2].mountPath: duplicate mount path "/cache/" (also spec.containers[0].volumeMounts[0])`,
			c0 + `volumeMounts[4].subPath: invalid value "../../etc/shadow": must not start with '..'`,
			c0 + `volumeMounts[5].subPath: invalid value "/etc": must be a relative path`,
		}},
		{"env sources: exactly one, keys and names valid, fields env may read", func(s *PodSpec) {
			e := s.Containers[0].Env
			e[0].ValueFrom.SecretKeyRef = &SecretKeySelector{Name: "db", Key: "k"}
			e[1].ValueFrom.SecretKeyRef.Key = "a b"
			e[2].ValueFrom.FieldRef.FieldPath = "metadata.labels"
			e[3].Value = "1.2.3.4"
			e[4].ValueFrom = &EnvVarSource{}
			e[5].ValueFrom.ResourceFieldRef.ContainerName = "other"
		}, []string{
			c0 + "env[0].valueFrom: may not specify more than one of fieldRef, resourceFieldRef, configMapKeyRef or secretKeyRef, got configMapKeyRef, secretKeyRef",
			c0 + `env[1].valueFrom.secretKeyRef.key: invalid value "a b": must consist of letters, digits, '-', '_' or '.'`,
			c0 + `env[2].valueFrom.fieldRef.fieldPath: unsupported value "metadata.labels": must be one of metadata.name, metadata.namespace, metadata.uid, spec.nodeName, spec.serviceAccountName, status.podIP, status.hostIP, metadata.labels['<KEY>'], metadata.annotations['<KEY>']`,
			c0 + "env[3].valueFrom: may not be specified when value is not empty",
			c0 + "env[4].valueFrom: must specify one of fieldRef, resourceFieldRef, configMapKeyRef or secretKeyRef",
			c0 + `env[5].valueFrom.resourceFieldRef.containerName: invalid value "other": must be a container of the pod`,
		}},
		{"envFrom: exactly one ref, a valid prefix", func(s *PodSpec) {
			f := s.Containers[0].EnvFrom
			f[0].SecretRef = &SecretEnvSource{Name: "db"}
			f[1].Prefix = "1DB_"
			s.Containers[0].EnvFrom = append(f, EnvFromSource{Prefix: "X_"})
		}, []string{
			c0 + "envFrom[0]: may not specify both configMapRef and secretRef",
			c0 + `envFrom[1].prefix: invalid value "1DB_": must consist of letters, digits, '_', '-' or '.', and must not start with a digit`,
			c0 + "envFrom[2]: must specify one of configMapRef or secretRef",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := mustDecode(t, volumesPodYAML)
			tt.mutate(o.Pod())
			got := Validate(o)
			if !reflect.DeepEqual(got.Strings(), tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got.Strings(), "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

// The decoder takes the fields (they were refused before issue 17) and the
// paths name the template's fields in a workload.
func TestValidateVolumesInATemplate(t *testing.T) {
	o := mustDecode(t, goodDeploymentYAML)
	s := &o.Deployment().Template.Spec
	s.Volumes = []Volume{{Name: "c", EmptyDir: &EmptyDirVolumeSource{}}}
	s.Containers[0].VolumeMounts = []VolumeMount{{Name: "c", MountPath: "/c", SubPath: "a/../.."}}
	want := []string{`spec.template.spec.containers[0].volumeMounts[0].subPath: invalid value "a/../..": must not contain '..'`}
	if got := Validate(o).Strings(); !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
