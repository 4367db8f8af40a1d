package deployer

// Labels shared with docker compose, so that `docker compose -p NAME ps` and
// `logs` see a swdeploy stack.
const (
	LabelProject         = "com.docker.compose.project"
	LabelService         = "com.docker.compose.service"
	LabelConfigHash      = "com.docker.compose.config-hash"
	LabelContainerNumber = "com.docker.compose.container-number"
	LabelOneOff          = "com.docker.compose.oneoff"
	LabelNetwork         = "com.docker.compose.network"
	LabelVolume          = "com.docker.compose.volume"
	LabelImage           = "com.docker.compose.image"
	LabelVersion         = "com.docker.compose.version"
	LabelWorkingDir      = "com.docker.compose.project.working_dir"
	LabelConfigFiles     = "com.docker.compose.project.config_files"
	LabelDependsOn       = "com.docker.compose.depends_on"
)

// swdeploy's own labels.
const (
	// LabelConfigParts holds a short digest per part of the service's
	// configuration ("environment:1a2b3c4d,ports:..."), so that a plan can say
	// which part changed rather than only that the hash did.
	LabelConfigParts = "io.swdeploy.config-parts"
	// LabelBuildDigest on an image: the digest of the context, Dockerfile and
	// build args it was built from. Equal digests mean no build is needed.
	LabelBuildDigest = "io.swdeploy.build-digest"
	// LabelRole marks swdeploy's own helper objects (secret volumes and the
	// keeper image), which docker compose must not mistake for services.
	LabelRole = "io.swdeploy.role"
	// LabelSecretsOf names the service a secrets volume belongs to.
	LabelSecretsOf = "io.swdeploy.secrets-of"
	// LabelNetworkHash on a network: digest of its declared configuration.
	LabelNetworkHash = "io.swdeploy.network-hash"
)

// composeVersion is what we write into LabelVersion: the Compose
// specification level we follow, so that compose does not warn.
const composeVersion = "2.29.0"
