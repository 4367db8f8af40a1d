package swarm

import (
	"reflect"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/swarm"
)

func TestNewSecretVersion(t *testing.T) {
	v, err := NewSecretVersion("sw", "jwt_access_secret", []byte("hunter2"))
	if err != nil {
		t.Fatal(err)
	}
	// sha256("hunter2") = f52fbd32b2b3b86ff88ef6c490628285f482af15ddcb29541f94bcf526a3f6c7
	want := SecretVersion{Name: "sw_jwt_access_secret_f52fbd32b2b3", Project: "sw", Secret: "jwt_access_secret", Version: "f52fbd32b2b3"}
	if v != want {
		t.Fatalf("version %+v, want %+v", v, want)
	}
	again, _ := NewSecretVersion("sw", "jwt_access_secret", []byte("hunter2"))
	changed, _ := NewSecretVersion("sw", "jwt_access_secret", []byte("hunter3"))
	if again != v || changed.Name == v.Name || changed.Version == v.Version {
		t.Errorf("same value gives %s, changed value %s; from %s", again.Name, changed.Name, v.Name)
	}

	labels := v.Labels()
	wantLabels := map[string]string{LabelProject: "sw", LabelSecret: "jwt_access_secret", LabelSecretVersion: "f52fbd32b2b3"}
	if !reflect.DeepEqual(labels, wantLabels) {
		t.Errorf("labels %v, want %v", labels, wantLabels)
	}
	for k, l := range labels {
		if strings.Contains(k+l, "hunter2") {
			t.Errorf("label %s=%s holds the value", k, l)
		}
	}

	if _, err := NewSecretVersion(strings.Repeat("p", 30), strings.Repeat("s", 21), nil); err == nil || !strings.Contains(err.Error(), "longer than 64") {
		t.Errorf("a 65-character name: %v", err)
	}
	if _, err := NewSecretVersion(strings.Repeat("p", 30), strings.Repeat("s", 20), nil); err != nil {
		t.Errorf("a 64-character name: %v", err)
	}
}

func TestPrunable(t *testing.T) {
	v := func(project, secret, version string) SecretVersion {
		return SecretVersion{ID: "id-" + version, Name: project + "_" + secret + "_" + version, Project: project, Secret: secret, Version: version}
	}
	have := []SecretVersion{
		v("sw", "db_password", "cccccccccccc"), // current, not yet referenced
		v("sw", "db_password", "aaaaaaaaaaaa"), // used by a service
		v("sw", "db_password", "bbbbbbbbbbbb"), // old, unused
		v("sw", "jwt", "dddddddddddd"),         // old, unused
		v("other", "jwt", "eeeeeeeeeeee"),      // another project's
	}
	keep := map[string]bool{"sw_db_password_cccccccccccc": true, "sw_db_password_aaaaaaaaaaaa": true}
	got := Prunable("sw", have, keep)
	want := []SecretVersion{have[2], have[3]}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("prunable %+v, want %+v", got, want)
	}
	if got := Prunable("sw", have[:2], keep); len(got) != 0 {
		t.Errorf("kept versions pruned: %+v", got)
	}
}

func TestSecretVersionFrom(t *testing.T) {
	ver, _ := NewSecretVersion("sw", "jwt", []byte("x"))
	s := swarm.Secret{ID: "abc", Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: ver.Name, Labels: ver.Labels()}}}
	got, ok := secretVersionFrom(s)
	ver.ID = "abc"
	if !ok || got != ver {
		t.Errorf("read back %+v %v, want %+v", got, ok, ver)
	}
	s.Spec.Labels = map[string]string{LabelProject: "sw"}
	if _, ok := secretVersionFrom(s); ok {
		t.Error("a project secret without swdeploy's version labels taken for a version")
	}
}
