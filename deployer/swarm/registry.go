package swarm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/distribution/reference"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
)

// Pusher is the part of the Engine API that pushes an image from the
// manager's engine, with the SDK's signatures so that *client.Client
// satisfies it.
type Pusher interface {
	ImagePush(ctx context.Context, image string, options image.PushOptions) (io.ReadCloser, error)
	ImageInspect(ctx context.Context, ref string, opts ...client.ImageInspectOption) (image.InspectResponse, error)
}

var _ Pusher = (*client.Client)(nil)

// RegistryHost tells whether an image reference names a registry of its
// own (a host, with or without a port), and which. Short names such as
// mysql:8.4 or team/app mean Docker Hub, which is no registry to push to
// here.
func RegistryHost(ref string) (host string, ok bool) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", false
	}
	host = reference.Domain(named)
	if host == "docker.io" {
		return "", false
	}
	return host, true
}

// Push pushes an image, by a tagged reference on a registry host, from the
// engine (the manager's) to that registry with the credentials given (the
// zero AuthConfig is anonymous), and returns the pushed image by digest,
// name@sha256:..., which every node pulls as the same bytes. A failure
// names the registry and carries the registry's message.
func Push(ctx context.Context, p Pusher, ref string, auth registry.AuthConfig) (string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	host, ok := RegistryHost(ref)
	if !ok {
		return "", fmt.Errorf("push %s: the reference names no registry host (host:port/name:tag)", ref)
	}
	if _, digested := named.(reference.Digested); digested {
		return "", fmt.Errorf("push %s: a reference by digest cannot be pushed; name the image by tag", ref)
	}
	named = reference.TagNameOnly(named) // the engine pushes :latest for a bare name
	fail := func(err error) error {
		return fmt.Errorf("push %s to registry %s%s: %w", reference.FamiliarString(named), host, who(auth), err)
	}
	encoded, err := registry.EncodeAuthConfig(auth)
	if err != nil {
		return "", fail(err)
	}
	rc, err := p.ImagePush(ctx, reference.FamiliarString(named), image.PushOptions{RegistryAuth: encoded})
	if err != nil {
		return "", fail(err)
	}
	digest, err := readPushStream(rc)
	rc.Close()
	if err != nil {
		if isAuthFailure(err) && auth == (registry.AuthConfig{}) {
			err = fmt.Errorf("%w (no credentials for %s in the docker config: docker login %s)", err, host, host)
		}
		return "", fail(err)
	}
	if digest == "" {
		// Not announced in the stream: the engine records it as a repo
		// digest of the image once the push is done.
		if digest, err = repoDigest(ctx, p, named); err != nil {
			return "", fail(err)
		}
	}
	return named.Name() + "@" + digest, nil
}

// readPushStream reads the engine's JSON messages to the end and returns
// the pushed manifest's digest if the stream announces it, or the error
// that ends it.
func readPushStream(r io.Reader) (string, error) {
	dec := json.NewDecoder(r)
	var digest string
	for {
		var m jsonmessage.JSONMessage
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return digest, nil
		} else if err != nil {
			return "", fmt.Errorf("reading the engine's answer: %w", err)
		}
		switch {
		case m.Error != nil && m.Error.Message != "":
			return "", errors.New(m.Error.Message)
		case m.ErrorMessage != "": // deprecated, but an engine may send only this
			return "", errors.New(m.ErrorMessage)
		case m.Aux != nil:
			var res types.PushResult
			if json.Unmarshal(*m.Aux, &res) == nil && res.Digest != "" {
				digest = res.Digest
			}
		}
	}
}

// repoDigest is the image's digest in the named repository.
func repoDigest(ctx context.Context, p Pusher, named reference.Named) (string, error) {
	img, err := p.ImageInspect(ctx, reference.FamiliarString(named))
	if err != nil {
		return "", fmt.Errorf("inspect after the push: %w", err)
	}
	for _, rd := range img.RepoDigests {
		d, err := reference.ParseNormalizedNamed(rd)
		if err != nil || d.Name() != named.Name() {
			continue
		}
		if c, ok := d.(reference.Canonical); ok {
			return c.Digest().String(), nil
		}
	}
	return "", fmt.Errorf("no digest for %s among the image's repo digests %v after the push", named.Name(), img.RepoDigests)
}

func who(auth registry.AuthConfig) string {
	switch {
	case auth.Username != "":
		return " as user " + auth.Username
	case auth.IdentityToken != "" || auth.RegistryToken != "":
		return " with a token"
	}
	return " anonymously"
}

// isAuthFailure tells a registry's refusal of the credentials (or their
// absence) by the engine's wording, which has no code of its own.
func isAuthFailure(err error) bool {
	msg := strings.ToLower(err.Error())
	for _, s := range []string{"unauthorized", "authentication required", "no basic auth credentials", "denied"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
