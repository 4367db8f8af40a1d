package e2e

import (
	"archive/tar"
	"context"
	"io"
	"testing"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/errdefs"
)

// TestRemovedSecretIsGone deploys a service with two secrets, removes one
// from its `secrets:` (by leaving out the override that adds it) and checks
// from the running container that its file is gone and the other is there.
func TestRemovedSecretIsGone(t *testing.T) {
	d := newDeployment(t)
	d.files = []string{"e2e/testdata/secrets-one.yaml", "e2e/testdata/secrets-two.yaml"}
	d.must("up")
	name := d.project + "-reader-1"
	for _, f := range []string{"kept_secret", "dropped_secret"} {
		if _, ok := readSecretFile(t, name, f); !ok {
			t.Fatalf("after the first up, /run/secrets/%s is missing", f)
		}
	}

	d.files = d.files[:1]
	d.must("up")
	if _, ok := readSecretFile(t, name, "kept_secret"); !ok {
		t.Fatal("the secret the service still reads is gone")
	}
	if b, ok := readSecretFile(t, name, "dropped_secret"); ok {
		t.Fatalf("the secret removed from the service is still readable in it (%d bytes)", len(b))
	}
	// The volume of the earlier set is gone with the container that used it.
	vols, err := engine.VolumeList(context.Background(), volume.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", "com.docker.compose.project="+d.project), filters.Arg("label", "io.swdeploy.secrets-of=reader"))})
	if err != nil {
		t.Fatal(err)
	}
	if len(vols.Volumes) != 1 {
		var names []string
		for _, v := range vols.Volumes {
			names = append(names, v.Name)
		}
		t.Fatalf("want one secrets volume for the service, got %v", names)
	}
}

// readSecretFile reads /run/secrets/NAME of a container through the
// archive API, as a process in it would find it.
func readSecretFile(t *testing.T, container, name string) ([]byte, bool) {
	t.Helper()
	rc, _, err := engine.CopyFromContainer(context.Background(), container, "/run/secrets/"+name)
	if errdefs.IsNotFound(err) {
		return nil, false
	}
	if err != nil {
		t.Fatalf("read /run/secrets/%s of %s: %v", name, container, err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	if _, err := tr.Next(); err != nil {
		t.Fatalf("read /run/secrets/%s of %s: %v", name, container, err)
	}
	b, err := io.ReadAll(tr)
	if err != nil {
		t.Fatal(err)
	}
	return b, true
}
