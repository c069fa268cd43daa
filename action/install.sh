#!/usr/bin/env bash
# Gets a trusted kapso-gate binary running for the GitHub Action (action.yml), in two halves:
#
# `install.sh` (the install step) puts the binary in place and writes its path and SHA-256 to
# $GITHUB_OUTPUT as `path` and `sha256` (or prints them when there is no $GITHUB_OUTPUT).
# Trust comes from the action ref the workflow pinned, not from the download: the release workflow
# commits action/release (the version, where its assets live and their SHA-256 sums) into the
# release commit that the version tags point at. Branches never carry that file, so:
#   - action/release present: pick the asset for RUNNER_OS/RUNNER_ARCH, take it from the runner's
#     tool cache when a cached copy still has the committed checksum, else download it (HTTPS
#     only, TLS 1.2 or later, bounded in time), verify it and only then move it into the cache;
#   - action/release absent (a branch, an untagged commit, `uses: ./`): build from source with cargo.
#
# `install.sh --exec` (the gate step) copies KAPSO_GATE_BINARY into a fresh private directory
# (mode 0700) under RUNNER_TEMP, hashes the copy, and execs it only when the hash is
# KAPSO_GATE_SHA256. A self-hosted runner's tool cache is shared between jobs: a binary swapped
# there after the install step verified it is refused, and nothing can swap the private copy
# between its check and the exec. (The runner empties RUNNER_TEMP after the job.) It runs in
# its own step so that the API key, which only the gate step has, never reaches curl or cargo.
#
# Environment: RUNNER_OS, RUNNER_ARCH, RUNNER_TOOL_CACHE, RUNNER_TEMP, GITHUB_OUTPUT and
# GITHUB_ACTION_PATH as the runner sets them; KAPSO_GATE_DOWNLOAD_URL replaces the release's
# download location (an HTTPS mirror, or a test server; the checksums still decide);
# KAPSO_GATE_CONNECT_TIMEOUT (seconds, default 10) bounds connecting to the download server,
# TLS handshake included; KAPSO_GATE_DOWNLOAD_TIMEOUT (seconds, default 120) bounds one download
# attempt, and the retries (at most 3, on timeouts and transient HTTP errors) start only within
# that many seconds of the first, so a silent server fails the step within twice that;
# KAPSO_GATE_CARGO replaces the cargo command of the source build.
# Runs under bash 3.2 (macOS), bash 5 (Linux) and Git Bash (Windows); needs curl, mktemp and
# sha256sum or shasum, which every GitHub-hosted runner has.
set -euo pipefail

log() { printf 'kapso-gate: %s\n' "$*" >&2; }
die() {
    # An ::error:: annotation (the runner reads commands on stderr too) shows on the run page; its
    # text comes from this script or from the committed release file, never from the network.
    printf '::error title=kapso-gate install::%s\n' "$*" >&2
    exit 1
}

action_path=${GITHUB_ACTION_PATH:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
release_file="$action_path/action/release"

# Git Bash on Windows gets C:\... paths from the runner; the POSIX form works everywhere in bash.
posix_path() {
    if [[ -n "$1" ]] && command -v cygpath >/dev/null 2>&1; then
        cygpath -u "$1"
    else
        printf '%s\n' "$1"
    fi
}

# Hands the binary at $1, whose SHA-256 is $2, to the gate step.
emit_binary() {
    if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
        printf 'path=%s\n' "$1" >>"$GITHUB_OUTPUT"
        printf 'sha256=%s\n' "$2" >>"$GITHUB_OUTPUT"
    else
        printf 'path=%s\nsha256=%s\n' "$1" "$2"
    fi
}

# A whole number of seconds from variable $1, or $2 when it is unset or empty.
seconds() {
    local value=${!1:-$2}
    [[ "$value" =~ ^[1-9][0-9]*$ ]] || die "$1 must be a whole number of seconds above 0, got '$value'"
    printf '%s\n' "$value"
}

# Downloads URL $1 to file $2. -q (first) ignores any .curlrc; only HTTPS, redirects included,
# with TLS 1.2 or later; every attempt is bounded and so are the retries, so a server that
# accepts and never answers fails the step instead of hanging the job.
# The timeouts are read (and checked) by install_release, before any download starts.
download() {
    curl -q --fail --location --silent --show-error \
        --proto '=https' --proto-redir '=https' --tlsv1.2 \
        --connect-timeout "$connect_timeout" --max-time "$download_timeout" \
        --retry 3 --retry-max-time "$download_timeout" \
        --output "$2" "$1"
}

# The SHA-256 of a file, read on stdin so that no file name (a Windows path) reaches the output.
sha256_of() {
    local out
    if command -v sha256sum >/dev/null 2>&1; then
        out=$(sha256sum <"$1")
    elif command -v shasum >/dev/null 2>&1; then
        out=$(shasum -a 256 <"$1")
    else
        die "neither sha256sum nor shasum is installed: cannot verify the download"
    fi
    printf '%s\n' "${out%% *}"
}

# Sets target to the Rust target of the runner, or fails naming what is released.
pick_target() {
    local os=${RUNNER_OS:-} arch=${RUNNER_ARCH:-}
    case "$os/$arch" in
        Linux/X64) target=x86_64-unknown-linux-musl ;;
        Linux/ARM64) target=aarch64-unknown-linux-musl ;;
        macOS/X64) target=x86_64-apple-darwin ;;
        macOS/ARM64) target=aarch64-apple-darwin ;;
        Windows/X64) target=x86_64-pc-windows-msvc ;;
        *)
            die "no released binary for RUNNER_OS='$os' RUNNER_ARCH='$arch'; released for Linux X64 and ARM64, macOS X64 and ARM64, Windows X64 (use a branch or commit of the action to build from source)"
            ;;
    esac
}

# Reads the committed release file into version, base_url and the checksum of $1.
read_release() {
    local asset=$1 key value name
    version='' base_url='' expected=''
    while read -r key value name || [[ -n "$key" ]]; do
        case "$key" in
            version) version=$value ;;
            url) base_url=$value ;;
            sha256) [[ "$name" == "$asset" ]] && expected=$value ;;
        esac
    done <"$release_file"
    [[ "$version" =~ ^v[0-9]+\.[0-9]+\.[0-9]+ ]] || die "$release_file: no valid version line"
    [[ -n "$base_url" ]] || die "$release_file: no url line"
    [[ "$expected" =~ ^[0-9a-f]{64}$ ]] || die "release $version has no checksum for $asset"
}

install_release() {
    local target asset cache_root dir binary actual
    pick_target
    asset="kapso-gate-$target"
    [[ "$target" == *windows* ]] && asset="$asset.exe"
    read_release "$asset"
    base_url=${KAPSO_GATE_DOWNLOAD_URL:-$base_url}
    connect_timeout=$(seconds KAPSO_GATE_CONNECT_TIMEOUT 10)
    download_timeout=$(seconds KAPSO_GATE_DOWNLOAD_TIMEOUT 120)

    cache_root=$(posix_path "${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}}")
    # The layout of @actions/tool-cache: <tool>/<version>/<arch>, completed by <arch>.complete.
    dir="$cache_root/kapso-gate/${version#v}/${RUNNER_ARCH}"
    binary="$dir/kapso-gate"
    [[ "$asset" == *.exe ]] && binary="$binary.exe"

    if [[ -f "$dir.complete" && -f "$binary" ]]; then
        actual=$(sha256_of "$binary")
        if [[ "$actual" == "$expected" ]]; then
            log "kapso-gate $version ($target) from the tool cache: $binary"
            emit_binary "$binary" "$expected"
            return 0
        fi
        log "the cached $binary does not match the committed checksum; downloading again"
        rm -f "$dir.complete" "$binary"
    fi

    mkdir -p "$dir"
    # Global, for the EXIT trap: an interrupted download leaves nothing in the cache.
    partial="$dir/.download.$$"
    trap 'rm -f "$partial"' EXIT
    log "downloading $asset ($version) from $base_url"
    if ! download "$base_url/$asset" "$partial"; then
        rm -f "$partial"
        die "could not download $base_url/$asset (release $version); KAPSO_GATE_DOWNLOAD_URL can point at an HTTPS mirror of the release assets"
    fi
    actual=$(sha256_of "$partial")
    if [[ "$actual" != "$expected" ]]; then
        rm -f "$partial"
        die "checksum mismatch for $asset ($version): expected $expected (committed in the action), got $actual; refusing to run it"
    fi
    chmod 0755 "$partial"
    mv -f "$partial" "$binary"
    : >"$dir.complete"
    log "kapso-gate $version ($target) verified (sha256 $actual) and cached: $binary"
    emit_binary "$binary" "$actual"
}

build_from_source() {
    local cargo=${KAPSO_GATE_CARGO:-cargo} target_dir binary
    target_dir=$(posix_path "${CARGO_TARGET_DIR:-$action_path/target}")
    binary="$target_dir/release/kapso-gate"
    case "${RUNNER_OS:-}" in Windows) binary="$binary.exe" ;; esac
    # A notice, so the run page says why this job spent minutes compiling.
    printf '::notice title=kapso-gate::this action ref has no release, building kapso-gate from source with cargo (pin a release tag such as @v1 to install a verified binary in seconds)\n'
    log "no action/release in $action_path: building from source"
    command -v "$cargo" >/dev/null 2>&1 || die "building from source needs cargo ('$cargo' not found); install Rust, or use a released version of the action"
    "$cargo" build --release --locked --manifest-path "$action_path/Cargo.toml" --target-dir "$target_dir" \
        || die "the source build failed"
    [[ -x "$binary" ]] || die "the source build left no $binary"
    log "built $binary"
    emit_binary "$binary" "$(sha256_of "$binary")"
}

# The gate step: run a private copy of the installed binary, checked just before it runs.
exec_verified() {
    local binary expected private copy actual
    binary=$(posix_path "${KAPSO_GATE_BINARY:-}")
    expected=${KAPSO_GATE_SHA256:-}
    [[ -n "$binary" && -f "$binary" ]] || die "no installed binary at '$binary' (did the install step run?)"
    [[ "$expected" =~ ^[0-9a-f]{64}$ ]] || die "the install step gave no SHA-256 for $binary; refusing to run it"
    private=$(mktemp -d "$(posix_path "${RUNNER_TEMP:-${TMPDIR:-/tmp}}")/kapso-gate.XXXXXXXX") \
        || die "cannot create a private directory under RUNNER_TEMP"
    chmod 0700 "$private"
    copy="$private/${binary##*/}"
    cp "$binary" "$copy" || die "cannot copy $binary"
    actual=$(sha256_of "$copy")
    if [[ "$actual" != "$expected" ]]; then
        rm -rf "$private"
        die "$binary changed after the install step verified it: expected sha256 $expected, got $actual; refusing to run it"
    fi
    chmod 0700 "$copy"
    unset KAPSO_GATE_BINARY KAPSO_GATE_SHA256
    exec "$copy"
}

if [[ "${1:-}" == --exec ]]; then
    exec_verified
elif [[ -f "$release_file" ]]; then
    install_release
else
    build_from_source
fi
