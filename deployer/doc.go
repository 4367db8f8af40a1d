// Package deployer brings a Compose project to life on a Docker engine in
// three steps: observe what the engine runs (observe.go), reconcile it with
// what the project asks for into a plan (reconcile.go, a pure function), and
// execute that plan (apply.go, which decides nothing).
//
// Every object it creates carries the com.docker.compose.* labels, so docker
// compose sees a swdeploy stack, and objects without the project's label are
// never touched. It knows nothing of cobra or terminals: progress leaves as
// Events to a Reporter that the caller chooses.
package deployer
