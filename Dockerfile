# syntax=docker/dockerfile:1
#
# The kapso-gate image. The GitHub Action (action.yml, `image: Dockerfile`) builds it on every
# workflow run; releases publish the same runtime layout, built from the released static
# binaries by ci/Dockerfile.prebuilt, to ghcr.io for every other CI system.

# ---- builder ------------------------------------------------------------------------------------
# An exact Rust version, so every run of the action compiles the same binary the project tested.
FROM rust:1.95.0-slim-trixie AS builder

# musl-tools: ring (rustls' crypto) compiles C for the musl target.
# ca-certificates: the CA bundle copied into the runtime image (the client verifies TLS against
# the system store). Versions follow the pinned base image, hence no apt pins.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .

# A static musl binary: it runs in `scratch`, and musl's built-in resolver needs no NSS files.
# Same target, flags and profile as ci/container-check.sh and the release binaries. /rootfs is
# the whole runtime filesystem; `--version` is the smoke test.
RUN set -eu; \
    target="$(uname -m)-unknown-linux-musl"; \
    rustup target add "$target"; \
    cargo build --release --locked --target "$target"; \
    mkdir -p /rootfs/usr/local/bin /rootfs/etc/ssl/certs; \
    cp "target/$target/release/kapso-gate" /rootfs/usr/local/bin/kapso-gate; \
    cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/ca-certificates.crt; \
    /rootfs/usr/local/bin/kapso-gate --version

# ---- runtime ------------------------------------------------------------------------------------
# ci/Dockerfile.prebuilt repeats this stage for prebuilt binaries; tests/action.rs keeps the two
# identical except for where /rootfs comes from.
FROM scratch AS runtime
COPY --from=builder /rootfs/ /
ARG VERSION=dev
ARG REVISION=unknown
ARG SOURCE=https://github.com/kapso-gate/kapso-gate
LABEL org.opencontainers.image.title="kapso-gate" \
      org.opencontainers.image.description="Run Kapso agent test cases as a CI gate: exit non-zero when any judge score is below the threshold" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}"
# No USER line, on purpose: GitHub runs Docker actions as the image's default user (root) and
# mounts the workspace and the file-command files ($GITHUB_OUTPUT, $GITHUB_STEP_SUMMARY) for
# root; its documentation says not to set USER in an action's Dockerfile. In other CI systems run
# the image as any user with `--user 65534:65534` and a report folder that user can write.
ENTRYPOINT ["/usr/local/bin/kapso-gate"]
