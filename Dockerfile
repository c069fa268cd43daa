# The kapso-gate image, built from source: for anyone who builds the image themselves, and for the
# image build check in CI. Releases publish the same runtime layout to ghcr.io, built from the
# released static binaries by ci/Dockerfile.prebuilt. (The GitHub Action no longer builds this
# file: it installs a released binary, see action.yml.)
#
# No `# syntax=` line: the engine's built-in frontend parses this file, so no floating
# docker/dockerfile image is pulled.

# ---- builder ------------------------------------------------------------------------------------
# An exact Rust version, pinned by digest so a rebuilt tag cannot change the compiler or the C
# toolchain under the same name. The digest stands for the multi-arch index of the tag on
# Docker Hub; it was recorded without pulling (the development machines reach no registry), and
# the CI image build checks it: a digest that does not match the registry's fails the pull.
# To update: pick the new tag, run
#   docker buildx imagetools inspect rust:<tag> --format '{{json .Manifest.Digest}}'
# and replace the tag and the digest together (tests/it/action.rs checks that both are present).
FROM rust:1.95.0-slim-trixie@sha256:e14e87345b4d5964ddcc3491d27ee046a0f23820f340c3c1e24da6880141f7c0 AS builder

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
# ci/Dockerfile.prebuilt repeats this stage for prebuilt binaries; tests/it/action.rs keeps the two
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
