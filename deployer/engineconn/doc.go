// Package engineconn connects to a Docker engine the way the docker CLI
// does: it resolves the address from --context, -H, DOCKER_HOST,
// DOCKER_CONTEXT and the docker CLI's config (contexts and TLS material
// included), dials it over a unix socket, TCP (with TLS) or ssh (running
// `docker system dial-stdio` on the remote host through the ssh client),
// negotiates the API version, and explains a failure in one line. Its
// Client satisfies deployer.Engine; the deployer never sees how it was
// reached.
package engineconn
