# The Star Wars API image: a static Go binary on scratch, running as non-root.
#
#   docker build -t starwars-api .
#   docker build --build-arg GO_IMAGE=swdeploy-offline/golang:1.26 -t starwars-api .   # no registry
#
# Works with the classic builder (no BuildKit features).

# The build stage's image is a parameter so that machines without a registry
# can use the local stand-in that `make offline-images` builds.
ARG GO_IMAGE=golang:1.26

FROM ${GO_IMAGE} AS build
WORKDIR /src

# Modules first: this layer stays cached until go.mod or go.sum changes.
COPY go.mod go.sum ./
RUN go mod download

COPY api/ api/
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/starwars-api ./api/cmd/starwars-api

# scratch has no user database: give the numeric user a name for tools and
# libraries that look it up (os/user, logs).
RUN printf 'starwars:x:10001:10001:starwars:/nonexistent:/sbin/nologin\n' >/out/passwd \
	&& printf 'starwars:x:10001:\n' >/out/group

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/passwd /etc/passwd
COPY --from=build /out/group /etc/group
COPY --from=build /out/starwars-api /starwars-api

USER 10001:10001
EXPOSE 5003
# The stack's Compose file sets its own timings; these apply to a plain `docker run`.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
	CMD ["/starwars-api", "healthcheck"]
ENTRYPOINT ["/starwars-api"]
