package swarm

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/client"
)

func TestRegistryHost(t *testing.T) {
	for _, c := range []struct {
		ref, host string
		ok        bool
	}{
		{"localhost:5000/x", "localhost:5000", true},
		{"10.213.0.12:5000/x", "10.213.0.12:5000", true},
		{"10.213.0.12:5000/team/app:v1", "10.213.0.12:5000", true},
		{"reg.example:443/x", "reg.example:443", true},
		{"reg.example/team/x:1", "reg.example", true},
		{"localhost/x", "localhost", true},
		{"starwars-api:latest", "", false},
		{"mysql:8.4", "", false},
		{"swdeploy-offline/mysql:8.4", "", false},
		{"docker.io/library/redis:7", "", false},
		{"index.docker.io/library/redis:7", "", false},
		{"sha256:0123", "", false},
		{"Not A Reference", "", false},
	} {
		host, ok := RegistryHost(c.ref)
		if host != c.host || ok != c.ok {
			t.Errorf("RegistryHost(%q) = %q, %v; want %q, %v", c.ref, host, ok, c.host, c.ok)
		}
	}
}

// fakePusher answers ImagePush with a canned JSON message stream and
// ImageInspect with a canned image.
type fakePusher struct {
	stream  string
	pushErr error
	image   image.InspectResponse
	pushed  string
	auth    registry.AuthConfig
}

func (f *fakePusher) ImagePush(_ context.Context, ref string, o image.PushOptions) (io.ReadCloser, error) {
	f.pushed = ref
	if a, err := registry.DecodeAuthConfig(o.RegistryAuth); err == nil {
		f.auth = *a
	}
	if f.pushErr != nil {
		return nil, f.pushErr
	}
	return io.NopCloser(strings.NewReader(f.stream)), nil
}

func (f *fakePusher) ImageInspect(context.Context, string, ...client.ImageInspectOption) (image.InspectResponse, error) {
	return f.image, nil
}

const pushDigest = "sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"

func TestPushReturnsTheDigestReference(t *testing.T) {
	f := &fakePusher{stream: `{"status":"The push refers to repository [10.213.0.12:5000/swdeploy-probe]"}
{"status":"Pushed","progressDetail":{},"id":"5f70bf18a086"}
{"status":"test: digest: ` + pushDigest + ` size: 528"}
{"progressDetail":{},"aux":{"Tag":"test","Digest":"` + pushDigest + `","Size":528}}
`}
	auth := registry.AuthConfig{Username: "u", Password: "p", ServerAddress: "10.213.0.12:5000"}
	got, err := Push(context.Background(), f, "10.213.0.12:5000/swdeploy-probe:test", auth)
	if err != nil {
		t.Fatal(err)
	}
	if want := "10.213.0.12:5000/swdeploy-probe@" + pushDigest; got != want {
		t.Errorf("pushed %q, want %q", got, want)
	}
	if f.pushed != "10.213.0.12:5000/swdeploy-probe:test" || f.auth != auth {
		t.Errorf("ImagePush(%q) with auth %+v, want the reference and %+v", f.pushed, f.auth, auth)
	}
}

// Without an aux digest in the stream, the image's repo digest for the
// pushed repository is the answer; another repository's is not.
func TestPushFallsBackToRepoDigests(t *testing.T) {
	f := &fakePusher{
		stream: `{"status":"Pushed","id":"5f70bf18a086"}` + "\n",
		image: image.InspectResponse{RepoDigests: []string{
			"10.213.0.12:5000/other@sha256:1111111111111111111111111111111111111111111111111111111111111111",
			"10.213.0.12:5000/swdeploy-probe@" + pushDigest,
		}},
	}
	got, err := Push(context.Background(), f, "10.213.0.12:5000/swdeploy-probe:test", registry.AuthConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "10.213.0.12:5000/swdeploy-probe@" + pushDigest; got != want {
		t.Errorf("pushed %q, want %q", got, want)
	}

	f.image.RepoDigests = f.image.RepoDigests[:1]
	if _, err := Push(context.Background(), f, "10.213.0.12:5000/swdeploy-probe:test", registry.AuthConfig{}); err == nil || !strings.Contains(err.Error(), "no digest") {
		t.Errorf("no digest for the repository: %v", err)
	}
}

func TestPushFailures(t *testing.T) {
	const ref = "10.213.0.12:5000/swdeploy-probe:test"
	for _, c := range []struct {
		name string
		f    *fakePusher
		auth registry.AuthConfig
		want []string
	}{
		{
			name: "anonymous and refused",
			f: &fakePusher{stream: `{"status":"The push refers to repository [10.213.0.12:5000/swdeploy-probe]"}
{"status":"Preparing","progressDetail":{},"id":"5f70bf18a086"}
{"errorDetail":{"message":"no basic auth credentials"},"error":"no basic auth credentials"}
`},
			want: []string{"registry 10.213.0.12:5000", "no basic auth credentials", "no credentials", "docker login 10.213.0.12:5000"},
		},
		{
			name: "wrong password",
			f:    &fakePusher{stream: `{"errorDetail":{"message":"unauthorized: authentication required"},"error":"unauthorized: authentication required"}` + "\n"},
			auth: registry.AuthConfig{Username: "u", Password: "wrong"},
			want: []string{"registry 10.213.0.12:5000", "unauthorized: authentication required", "as user u"},
		},
		{
			name: "a deprecated error field only",
			f:    &fakePusher{stream: `{"error":"An image does not exist locally with the tag: 10.213.0.12:5000/swdeploy-probe"}` + "\n"},
			want: []string{"registry 10.213.0.12:5000", "does not exist locally"},
		},
		{
			name: "the engine refuses the call",
			f:    &fakePusher{pushErr: errors.New("connection refused")},
			want: []string{"registry 10.213.0.12:5000", "connection refused"},
		},
		{
			name: "a broken stream",
			f:    &fakePusher{stream: `{"status":"Pushing"`},
			want: []string{"registry 10.213.0.12:5000", "unexpected EOF"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Push(context.Background(), c.f, ref, c.auth)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "wrong") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestPushRefusesWhatIsNoRegistryReference(t *testing.T) {
	for _, ref := range []string{"starwars-api:latest", "10.213.0.12:5000/x@" + pushDigest, "Bad Ref"} {
		f := &fakePusher{}
		if _, err := Push(context.Background(), f, ref, registry.AuthConfig{}); err == nil || f.pushed != "" {
			t.Errorf("Push(%q): %v, pushed %q; want an error and no push", ref, err, f.pushed)
		}
	}
}
