package swarm

import "github.com/distribution/reference"

// RegistryHost is the registry an image reference names, if it names one
// other than Docker Hub: such images are pushed there and pulled by the
// nodes; others are copied to the nodes.
func RegistryHost(ref string) (string, bool) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", false
	}
	host := reference.Domain(named)
	return host, host != "docker.io"
}
