// Package swarm holds the pieces of the swarm target: which nodes of a
// swarm swdeploy can reach through their own engines (Discover), copying
// an image from the manager's engine to the nodes that lack it without a
// registry (Distribute), secrets as immutable swarm secrets, one per value
// (SecretVersion, CreateSecrets, PruneSecrets), the desired services as
// swarm services (Translate, Service.ToSwarm) and the project's services
// and tasks as the manager has them (ObserveServices).
//
// Decisions are pure functions on this package's types (MatchNodes,
// CheckManager, Prunable, Translate); the Docker SDK is reached only
// through Manager, NodeEngine and ServiceReader, which *client.Client
// satisfies, and its service spec is made in one place (Service.ToSwarm).
package swarm
