package manifest

import (
	"reflect"
	"testing"
)

func TestConfigRefs(t *testing.T) {
	yes := true
	spec := PodSpec{
		Volumes: []Volume{
			{Name: "a", ConfigMap: &ConfigMapVolumeSource{Name: "web"}},
			{Name: "b", Secret: &SecretVolumeSource{SecretName: "tls", Optional: &yes}},
			{Name: "c", Projected: &ProjectedVolumeSource{Sources: []VolumeProjection{
				{ConfigMap: &ConfigMapProjection{Name: "extra"}}, {Secret: &SecretProjection{Name: "db"}}, {DownwardAPI: &DownwardAPIProjection{}}}}},
			{Name: "d", EmptyDir: &EmptyDirVolumeSource{}},
		},
		InitContainers: []Container{{Name: "init", EnvFrom: []EnvFromSource{{SecretRef: &SecretEnvSource{Name: "init-creds"}}}}},
		Containers: []Container{{Name: "app",
			EnvFrom: []EnvFromSource{{ConfigMapRef: &ConfigMapEnvSource{Name: "web"}}},
			Env: []EnvVar{
				{Name: "PLAIN", Value: "x"},
				{Name: "A", ValueFrom: &EnvVarSource{ConfigMapKeyRef: &ConfigMapKeySelector{Name: "settings", Key: "a"}}},
				{Name: "B", ValueFrom: &EnvVarSource{SecretKeyRef: &SecretKeySelector{Name: "db", Key: "password"}}},
				{Name: "C", ValueFrom: &EnvVarSource{FieldRef: &ObjectFieldSelector{FieldPath: "metadata.name"}}},
			}}},
	}
	want := []ConfigRef{
		{"configmap", "extra"}, {"configmap", "settings"}, {"configmap", "web"},
		{"secret", "db"}, {"secret", "init-creds"}, {"secret", "tls"},
	}
	if got := spec.ConfigRefs(); !reflect.DeepEqual(got, want) {
		t.Fatalf("ConfigRefs() = %v\nwant %v", got, want)
	}
	if got := (PodSpec{Containers: []Container{{Name: "x"}}}).ConfigRefs(); len(got) != 0 {
		t.Fatalf("a spec with no references: %v", got)
	}
}
