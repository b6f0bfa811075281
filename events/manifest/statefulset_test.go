package manifest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestValidateStatefulSet(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(o *Object, s *StatefulSetSpec)
		want   []string
	}{
		{"good", func(*Object, *StatefulSetSpec) {}, nil},
		{"negative replicas", func(_ *Object, s *StatefulSetSpec) { s.Replicas = int32p(-1) }, []string{"spec.replicas: must be >= 0, got -1"}},
		{"no selector", func(_ *Object, s *StatefulSetSpec) { s.Selector = nil }, []string{"spec.selector: required"}},
		{"selector does not match", func(_ *Object, s *StatefulSetSpec) { s.Selector.MatchLabels["app"] = "db" },
			[]string{"spec.selector: does not match template labels"}},
		{"name too long for its pods", func(o *Object, _ *StatefulSetSpec) { o.Metadata.Name = strings.Repeat("a", 53) },
			[]string{`metadata.name: invalid value "` + strings.Repeat("a", 53) + `": a StatefulSet's name must be no more than 52 characters (its pods are named <name>-<ordinal>)`}},
		{"serviceName", func(_ *Object, s *StatefulSetSpec) { s.ServiceName = "Web_svc" },
			[]string{`spec.serviceName: invalid value "Web_svc": must consist of lower-case letters, digits and '-', and start and end with a letter or digit (e.g. "web-1")`}},
		{"podManagementPolicy", func(_ *Object, s *StatefulSetSpec) { s.PodManagementPolicy = "Random" },
			[]string{`spec.podManagementPolicy: unsupported value "Random": must be OrderedReady or Parallel`}},
		{"Parallel", func(_ *Object, s *StatefulSetSpec) { s.PodManagementPolicy = ParallelPodManagement }, nil},
		{"partition", func(_ *Object, s *StatefulSetSpec) {
			s.UpdateStrategy.RollingUpdate = &RollingUpdateStatefulSetStrategy{Partition: int32p(-2)}
		}, []string{"spec.updateStrategy.rollingUpdate.partition: must be >= 0, got -2"}},
		{"maxUnavailable", func(_ *Object, s *StatefulSetSpec) {
			one := FromInt(2)
			s.UpdateStrategy.RollingUpdate = &RollingUpdateStatefulSetStrategy{MaxUnavailable: &one}
		}, []string{"spec.updateStrategy.rollingUpdate.maxUnavailable: not supported: a StatefulSet's pods are updated one at a time"}},
		{"OnDelete with rollingUpdate", func(_ *Object, s *StatefulSetSpec) {
			s.UpdateStrategy = StatefulSetUpdateStrategy{Type: StatefulSetOnDelete, RollingUpdate: &RollingUpdateStatefulSetStrategy{}}
		}, []string{"spec.updateStrategy.rollingUpdate: may not be specified when updateStrategy type is OnDelete"}},
		{"strategy type", func(_ *Object, s *StatefulSetSpec) { s.UpdateStrategy.Type = "Recreate" },
			[]string{`spec.updateStrategy.type: unsupported value "Recreate": must be RollingUpdate or OnDelete`}},
		{"retention", func(_ *Object, s *StatefulSetSpec) {
			s.PersistentVolumeClaimRetentionPolicy = &StatefulSetPersistentVolumeClaimRetentionPolicy{WhenDeleted: "Keep", WhenScaled: "Drop"}
		}, []string{
			`spec.persistentVolumeClaimRetentionPolicy.whenDeleted: unsupported value "Keep": must be Retain or Delete`,
			`spec.persistentVolumeClaimRetentionPolicy.whenScaled: unsupported value "Drop": must be Retain or Delete`,
		}},
		{"ordinals", func(_ *Object, s *StatefulSetSpec) { s.Ordinals = &StatefulSetOrdinals{Start: -1} },
			[]string{"spec.ordinals.start: must be >= 0, got -1"}},
		{"claim templates", func(_ *Object, s *StatefulSetSpec) {
			s.VolumeClaimTemplates = append(s.VolumeClaimTemplates,
				PersistentVolumeClaimTemplate{Metadata: ClaimTemplateMeta{Name: "data"}},
				PersistentVolumeClaimTemplate{Metadata: ClaimTemplateMeta{Name: "Bad"}},
				PersistentVolumeClaimTemplate{Metadata: ClaimTemplateMeta{Name: "cache"}})
			s.Template.Spec.Volumes = []Volume{{Name: "cache", EmptyDir: &EmptyDirVolumeSource{}}}
		}, []string{
			`spec.volumeClaimTemplates[1].metadata.name: duplicate value "data"`,
			`spec.volumeClaimTemplates[2].metadata.name: invalid value "Bad": must consist of lower-case letters, digits and '-', and start and end with a letter or digit (e.g. "web-1")`,
			`spec.volumeClaimTemplates[3].metadata.name: invalid value "cache": the pod template has a volume of that name (the claim template gives the pods one)`,
		}},
		{"a mount of a claim template", func(_ *Object, s *StatefulSetSpec) {
			s.Template.Spec.Containers[0].VolumeMounts = []VolumeMount{{Name: "data", MountPath: "/data"}}
		}, nil},
		{"subdomain", func(_ *Object, s *StatefulSetSpec) { s.Template.Spec.Subdomain = "a.b" },
			[]string{`spec.template.spec.subdomain: invalid value "a.b": must consist of lower-case letters, digits and '-', and start and end with a letter or digit (e.g. "web-1")`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := StatefulSetSpec{Replicas: int32p(3), Selector: testSelector(), Template: testTemplate(""), ServiceName: "web",
				VolumeClaimTemplates: []PersistentVolumeClaimTemplate{{Metadata: ClaimTemplateMeta{Name: "data"},
					Spec: PersistentVolumeClaimSpec{AccessModes: []string{"ReadWriteOnce"}}}}}
			o := Object{APIVersion: APIAppsV1, Kind: KindStatefulSet, Metadata: ObjectMeta{Name: "web", Namespace: "default"}}
			tt.mutate(&o, &s)
			o.Spec = &s
			var errs FieldErrors
			validateStatefulSet(&errs, o)
			// The claim's own rules belong to the PersistentVolumeClaim kind;
			// only this kind's are checked here.
			var own FieldErrors
			for _, e := range errs {
				if !strings.Contains(e.Path, "].spec") {
					own = append(own, e)
				}
			}
			checkErrs(t, own, tt.want)
		})
	}
}

func TestStatefulSetDefaults(t *testing.T) {
	s := StatefulSetSpec{Selector: testSelector(), Template: testTemplate(""),
		VolumeClaimTemplates: []PersistentVolumeClaimTemplate{{Metadata: ClaimTemplateMeta{Name: "data"}}}}.withDefaults()
	if s.ReplicaCount() != 1 || s.PodManagementPolicy != OrderedReadyPodManagement || s.UpdateStrategy.Type != StatefulSetRollingUpdate ||
		s.UpdateStrategy.RollingUpdate == nil || *s.UpdateStrategy.RollingUpdate.Partition != 0 || *s.RevisionHistoryLimit != 10 ||
		s.PersistentVolumeClaimRetentionPolicy.WhenDeleted != RetainClaim || s.PersistentVolumeClaimRetentionPolicy.WhenScaled != RetainClaim ||
		*s.VolumeClaimTemplates[0].Spec.VolumeMode != "Filesystem" || s.Template.Spec.RestartPolicy != RestartAlways {
		t.Errorf("defaults = %+v", s)
	}
	od := StatefulSetSpec{UpdateStrategy: StatefulSetUpdateStrategy{Type: StatefulSetOnDelete}}.withDefaults()
	if od.UpdateStrategy.RollingUpdate != nil {
		t.Errorf("OnDelete got a rollingUpdate: %+v", od.UpdateStrategy)
	}
	if got := ClaimName("data", "web", 2); got != "data-web-2" {
		t.Errorf("ClaimName = %q", got)
	}
}

func TestStatefulSetColumnsAndStatus(t *testing.T) {
	s := StatefulSetSpec{Replicas: int32p(3), Selector: testSelector(), Template: testTemplate("")}
	o := Object{APIVersion: APIAppsV1, Kind: KindStatefulSet, Metadata: ObjectMeta{Name: "web"}, Spec: &s}
	st := WorkloadStatus{Replicas: 3, ReadyReplicas: 2, UpdatedReplicas: 1}
	k := o.Info()
	if got := k.Columns[0].Cell(o, st, time.Time{}); got != "2/3" {
		t.Errorf("READY = %q", got)
	}
	if len(k.Columns) != 3 || k.Columns[1].Header != "CONTAINERS" || !k.Columns[1].Wide || k.Columns[2].Header != "IMAGES" {
		t.Errorf("columns = %+v", k.Columns)
	}
	ks := k.K8sStatus(o, st)
	if got := strings.ReplaceAll(strings.TrimSpace(mustJSON(t, ks)), " ", ""); !strings.Contains(got, `"currentReplicas":2,"updatedReplicas":1`) ||
		!strings.Contains(got, `"updateRevision":"web-`+TemplateHash(s.Template)+`"`) || strings.Contains(got, "currentRevision") {
		t.Errorf("status = %s", got)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
