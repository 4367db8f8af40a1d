# Developer and CI entry points that are not `go` commands.
.PHONY: offline-images ci-deps services

# Local stand-ins for mysql:8.4, redis:7 and golang:1.26 on machines that
# cannot pull (see stack/offline.env). Idempotent: seconds when up to date.
offline-images:
	images/build.sh

# Checks the stand-ins against the stack's use of them and builds the API's
# Dockerfile on the Go stand-in with no network (a minute or two).
.PHONY: verify-offline-images
verify-offline-images: offline-images
	images/verify.sh

# Debian packages the whole test suite needs; installs only what is missing.
ci-deps:
	scripts/ci-deps.sh

# MariaDB and Redis on loopback for the API's integration tests.
services:
	scripts/services.sh

# The two commands of the README.
.PHONY: up test

# Bring the stack up on this engine with no registry and no internet: the
# stand-in images, and the local SWAPI of the swapi profile in place of
# swapi.dev. `go run . up` alone uses the real images and swapi.dev.
up: offline-images
	STARWARS_SWAPI_URL=http://swapi-local:8000/api/ go run . --env-file stack/offline.env --profile swapi up

# Every test tier: unit, integration (MariaDB, Redis on loopback) and end to
# end (the real Docker engine).
# The tests that drive the Docker engine (e2e, bench smoke) run one
# package at a time after the rest, so that they do not fight over the
# machine's two cores.
ENGINE_PKGS = ./e2e/... ./bench/...
test: ci-deps services offline-images
	go vet ./...
	go test -count=1 -timeout 20m $$(go list ./... | grep -v -e /e2e -e /bench)
	go test -count=1 -p 1 -timeout 60m $(ENGINE_PKGS)

# Figures (issue 6): each writes a Markdown file of tables into bench/results/
# (benchmarks.md, reliability.md; swarm.md for bench-swarm), produced by the
# command, never typed in. bench-swarm measures swdeploy on the three-node
# swarm lab of scripts/swarm-lab.sh (a cold up, an API rolling update under
# load beside swdeploy on one engine and `docker stack deploy`, a worker
# killed under load) in about ten minutes; it holds the lab's lock
# (/tmp/swlab.lock) throughout and leaves the lab down.
# Minutes to an hour on a 2-core machine; the variables below shorten them,
# e.g. `make bench RUNS=3 WRK_DURATION=10s`, and SMOKE=1 runs everything once
# briefly (what CI does through bench/smoke_test.go). COMPOSE picks the
# compose command to compare with (default: the `docker compose` v2+ plugin,
# else `docker-compose` v1); COMPOSE_V1 the docker-compose v1 shown as a
# second column beside a v2+ one (default: `docker-compose` when it is v1;
# none for no second column).
RUNS ?=
WRK_RUNS ?=
WRK_DURATION ?=
LOGIN_DURATION ?=
LOAD_DURATION ?=
FUZZ_TIME ?=
COMPOSE ?=
COMPOSE_V1 ?=
SMOKE ?=
SWBENCH_FLAGS = $(if $(RUNS),-runs $(RUNS)) $(if $(WRK_RUNS),-wrk-runs $(WRK_RUNS)) \
	$(if $(WRK_DURATION),-wrk-duration $(WRK_DURATION)) $(if $(LOGIN_DURATION),-login-duration $(LOGIN_DURATION)) \
	$(if $(LOAD_DURATION),-load-duration $(LOAD_DURATION)) $(if $(FUZZ_TIME),-fuzz-time $(FUZZ_TIME)) \
	$(if $(COMPOSE),-compose "$(COMPOSE)") $(if $(COMPOSE_V1),-compose-v1 "$(COMPOSE_V1)") $(if $(SMOKE),-smoke)
.PHONY: bench reliability bench-swarm

bench: ci-deps services offline-images
	go run ./bench/cmd/swbench bench $(SWBENCH_FLAGS)

reliability: ci-deps services offline-images
	go run ./bench/cmd/swbench reliability $(SWBENCH_FLAGS)

bench-swarm: offline-images
	go run ./bench/cmd/swbench swarm
