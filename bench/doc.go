// Package bench is the harness behind `swbench bench` and `swbench
// reliability`: it deploys the stack with swdeploy and with docker compose on
// the local engine (the docker compose v2+ plugin when there is one, with
// docker-compose v1 beside it or in its place), measures, injects faults
// and writes the results as Markdown tables (bench/results/benchmarks.md,
// bench/results/reliability.md).
//
// Every number in those files is produced by a run of the harness; none is
// typed in. Every comparison runs side by side in the same run on the same
// engine. All traffic stays on this machine: loopback, container addresses
// and the host's own bridge addresses.
//
// Everything the harness creates carries its project names (swb...) and the
// label swbench=1, and is removed when it ends: containers, networks,
// volumes, the images it tags (swbench/...), the loopback MariaDB database
// and Redis keys it used, the processes it starts on the host (API,
// swapi-local, HAProxy) and its temporary files.
package bench
