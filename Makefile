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

# Bring the stack up on this engine. Hosts without a registry use the
# stand-in images; `go run . up` alone uses the real ones.
up: offline-images
	go run . --env-file stack/offline.env up

# Every test tier: unit, integration (MariaDB, Redis on loopback) and end to
# end (the real Docker engine).
test: ci-deps services offline-images
	go vet ./...
	go test -count=1 -timeout 45m ./...
