# syntax=docker/dockerfile:1
#
# One image per binary, chosen by a build argument:
#
#   docker build --build-arg BINARY=profiles -t interloan/profiles:dev .
#
# BINARY is one of interloan (the CLI), profiles, mapping, harvester, requests, gateway,
# console; `make images` builds all seven. The binary is built by `make build-static`,
# the target that builds these same binaries outside Docker: the same packages with the
# same go.work build list as `make build` and the tests, static (CGO_ENABLED=0), with
# -trimpath.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
ARG BINARY
# The module and build caches survive between builds (BuildKit), so the seven images
# share one download and most of one compilation.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    case "${BINARY}" in \
      interloan) pkg=cmd/interloan ;; \
      profiles|mapping|harvester|requests|gateway|console) pkg=services/${BINARY}/cmd/${BINARY} ;; \
      *) echo "BINARY must be one of: interloan profiles mapping harvester requests gateway console (got '${BINARY}')" >&2; exit 1 ;; \
    esac && \
    make build-static BINARIES="${pkg}" STATIC_DIR=/out

# distroless/static rather than scratch: it carries the CA certificates the harvester
# needs to verify the external ILL systems over HTTPS, /etc/passwd for the nonroot user,
# and nothing else (no shell, no package manager). Time zones are compiled into the
# binaries (time/tzdata).
FROM gcr.io/distroless/static-debian12:nonroot
ARG BINARY
LABEL org.opencontainers.image.title="interloan-${BINARY}" \
      org.opencontainers.image.source="https://github.com/interloan/interloan"
COPY --from=build /out/${BINARY} /usr/local/bin/app
# Numeric, so the kubelet can verify runAsNonRoot without reading /etc/passwd.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/app"]
