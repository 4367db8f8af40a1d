// Package swarm is the swarm target: the same desired state as the engine
// target (deployer.Desired), deployed as swarm services through one
// manager's engine, with the shared deployer.Plan and its reasons.
//
//   - Target (target.go): the manager, and the other nodes' engines matched
//     to their nodes by node ID (Discover, nodes.go).
//   - Observe (state.go): services and tasks, overlay networks, secret
//     versions, images on the manager and which nodes lack them, volumes
//     per node. Read-only.
//   - Reconcile (reconcile.go): pure; observed state, chosen secrets and
//     options in, the plan out: node pins for stateful services, networks,
//     image builds, copies or pushes, secret versions, service creates and
//     updates with their depends_on waits, orphans, old secret versions.
//   - Apply (apply.go, wait.go): carries a plan out and waits for each
//     rollout; a rollout the swarm rolls back is a *RolloutError.
//   - Status, Logs, Down (ops.go).
//
// The pieces: Distribute copies an image from the manager to the nodes
// that lack it without a registry (images.go); Push sends it to its
// registry with the docker CLI's credentials (registry.go,
// credentials.go); secrets are immutable swarm secrets, one per value
// (secrets.go); Translate makes the swarm service of a Compose service
// (service.go) and ToSwarm its SDK spec (servicespec.go).
//
// Decisions are pure functions on this package's types; the Docker SDK is
// reached only through Client, Manager and NodeEngine (engine.go), which
// *client.Client satisfies, and its service spec is made in one place.
package swarm
