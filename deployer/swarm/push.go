package swarm

import (
	"context"
	"fmt"

	"github.com/docker/docker/api/types/registry"
)

// push pushes an image from the manager's engine to the registry its name
// carries, with the docker CLI's credentials for that registry, and returns
// it by digest.
func (t *Target) push(ctx context.Context, ref string) (string, error) {
	host, _ := RegistryHost(ref)
	auth, err := Credentials(ctx, host)
	if err != nil {
		return "", err
	}
	return Push(ctx, t.Client, ref, auth)
}

// pullAuth is the encoded credentials the nodes pull an image with: those
// of its registry, or none for an image they do not pull.
func pullAuth(ctx context.Context, image string) (string, error) {
	host, ok := RegistryHost(image)
	if !ok {
		return "", nil
	}
	auth, err := Credentials(ctx, host)
	if err != nil {
		return "", fmt.Errorf("credentials for %s: %w", host, err)
	}
	if auth == (registry.AuthConfig{}) {
		return "", nil
	}
	return registry.EncodeAuthConfig(auth)
}
