# Roster's container image: one static roster binary on distroless, run as
# an unprivileged user, state in a volume (README, "Operate: container
# image"). Build:
#
#   docker build --build-arg VERSION=$(git describe --tags --always) \
#     --build-arg COMMIT=$(git rev-parse HEAD) \
#     --build-arg DATE=$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ) -t roster .
#
# The base images are named by tag; a release pipeline pins them by digest
# (--build-arg GO_IMAGE=golang:1.26-bookworm@sha256:...), which could not be
# resolved where this file was written (no registry access).
ARG GO_IMAGE=golang:1.26-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
ARG COMMIT=unknown
ARG DATE=unknown
ARG TARGETARCH
# Static (modernc's SQLite is pure Go), stripped, stamped with -X: a build
# context without .git has no VCS information for the toolchain to stamp.
RUN CGO_ENABLED=0 GOOS=linux GOARCH=${TARGETARCH} go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT} -X main.date=${DATE}" \
      -o /out/roster ./cmd/roster \
 && mkdir -p /out/data

FROM ${RUNTIME_IMAGE}
COPY --from=build /out/roster /usr/local/bin/roster
# The volume's first contents: an empty directory owned by nonroot, so a
# new named volume is writable by the process.
COPY --from=build --chown=65532:65532 /out/data /var/lib/roster
ENV ROSTER_DATA_DIR=/var/lib/roster \
    ROSTER_DOCUMENT_DIR=/var/lib/roster/documents \
    ROSTER_LISTEN=0.0.0.0:8080 \
    ROSTER_LOG_FORMAT=json
# nonroot in distroless; numeric, so that a runtime can check it is not 0.
USER 65532:65532
VOLUME ["/var/lib/roster"]
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/roster", "serve"]
