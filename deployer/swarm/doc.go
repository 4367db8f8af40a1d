// Package swarm holds the pieces of the swarm target that do not depend on
// the stack: which nodes of a swarm swdeploy can reach through their own
// engines (Discover), copying an image from the manager's engine to the
// nodes that lack it without a registry (Distribute), and secrets as
// immutable swarm secrets, one per value (SecretVersion, CreateSecrets,
// PruneSecrets).
//
// Decisions are pure functions on this package's types (MatchNodes,
// CheckManager, Prunable); the Docker SDK is reached only through Manager
// and NodeEngine, which *client.Client satisfies.
package swarm
