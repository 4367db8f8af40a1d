package bench

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// TestImagesFile: a project names an image of its own for every service of
// stack/compose.yaml that it builds, the API first; a service behind a
// profile (the local SWAPI of the swapi profile) is not deployed and gets
// none.
func TestImagesFile(t *testing.T) {
	p := &Project{h: &Harness{cfg: Config{Repo: ".."}, tmp: t.TempDir()}, Name: "swbtest"}
	if err := p.writeImagesFile(); err != nil {
		t.Fatal(err)
	}
	want := []string{"swbench/api:swbtest", "swbench/edge:swbtest"}
	if !slices.Equal(p.Images, want) || p.Image != want[0] {
		t.Errorf("images %v (API %s), want %v", p.Images, p.Image, want)
	}
	b, err := os.ReadFile(p.images)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "swapi") {
		t.Errorf("the images file names a swapi service:\n%s", b)
	}
}
