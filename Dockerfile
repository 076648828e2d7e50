# Vigil's container image: the static binary on an empty base, with CA
# certificates and time zones, running as an unprivileged user.
#
#   docker build -t vigil --build-arg VERSION=$(git describe --tags --always) \
#     --build-arg COMMIT=$(git rev-parse HEAD) --build-arg DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ) .
#   docker run -d -p 8080:8080 -v ./config.cfg:/etc/vigil/config.cfg:ro -v vigil-state:/var/lib/vigil vigil
#
# The config must listen on every address of the container
# ([server] inet = "0.0.0.0:8080"); the SQLite database goes to the volume
# at /var/lib/vigil, the working directory (the default path "./vigil.db").
# With podman, build with --format docker to keep the HEALTHCHECK.
#
# Without access to a registry, deploy/container/Containerfile.prebuilt
# builds the same final image from a binary and files of the host (see the
# README). Its final stage must stay the same as this one's
# (deploy/container_test.go checks it).

ARG GO_IMAGE=docker.io/library/golang:1.26-bookworm

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=0.1.0-dev
ARG COMMIT=unknown
ARG DATE=unknown
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT} -X main.date=${DATE}" \
      -o /rootfs/usr/local/bin/vigil ./cmd/vigil \
 && mkdir -p /rootfs/etc/ssl/certs /rootfs/usr/share /rootfs/etc/vigil /state \
 && cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/ \
 && cp -a /usr/share/zoneinfo /rootfs/usr/share/

# --- final stage: keep identical to Containerfile.prebuilt's ---
FROM scratch
COPY --from=build /rootfs/ /
COPY --from=build --chown=65532:65532 /state/ /var/lib/vigil/
USER 65532:65532
WORKDIR /var/lib/vigil
VOLUME /var/lib/vigil
EXPOSE 8080
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt ZONEINFO=/usr/share/zoneinfo
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/vigil", "healthcheck", "-c", "/etc/vigil/config.cfg"]
ENTRYPOINT ["/usr/local/bin/vigil"]
CMD ["-c", "/etc/vigil/config.cfg"]
