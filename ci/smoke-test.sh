#!/usr/bin/env bash
# Smoke test of a built kapso-gate binary against kapso-sim on 127.0.0.1 (issue 12): --version,
# a passing gate (exit 0, a JUnit report written over an existing file) and a failing one (exit 1,
# a JSON report). Used by the release workflow on each of the five runners, and by
# ci/windows-check.sh for the Windows .exe under wine.
#   ci/smoke-test.sh [--wrapper CMD] BINARY [EXPECTED_VERSION]
# CMD runs the binary (wine). kapso-sim is built for the host with cargo. Runs in bash on Linux,
# macOS and Git Bash on Windows.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

wrapper=()
if [[ "${1:-}" == --wrapper ]]; then
    wrapper=("$2")
    shift 2
fi
binary=${1:?usage: ci/smoke-test.sh [--wrapper CMD] BINARY [EXPECTED_VERSION]}
expected_version=${2:-}
readonly work=target/smoke-test
readonly passing_ids='6f1c2a9e-1b7d-4c3a-9a51-2f0e8d4b7c10,b3e47d02-5a8f-4e61-8d2c-7c9a1f3e5b24'
readonly failing_suite=support-regressions

fail() {
    echo "smoke-test: FAILED: $*" >&2
    exit 1
}

mkdir -p "$work"
# "${wrapper[@]}" of an empty array trips `set -u` in bash 3.2 (macOS).
run_binary() {
    if ((${#wrapper[@]})); then
        "${wrapper[@]}" "$binary" "$@"
    else
        "$binary" "$@"
    fi
}

version=$(run_binary --version 2>/dev/null | tr -d '\r')
[[ "$version" == "kapso-gate "* ]] || fail "--version printed '$version'"
if [[ -n "$expected_version" && "$version" != "kapso-gate $expected_version" ]]; then
    fail "--version printed '$version', expected 'kapso-gate $expected_version'"
fi
echo "ok: $version"

cargo build --locked -p kapso-sim
sim_pid=""
cleanup() {
    if [[ -n "$sim_pid" ]]; then
        kill "$sim_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT
rm -f "$work/sim.log"
"${CARGO_TARGET_DIR:-target}/debug/kapso-sim" --scenario sim/scenarios/demo.json --port 0 >"$work/sim.log" 2>&1 &
sim_pid=$!
sim_url=""
for _ in $(seq 150); do
    sim_url=$(sed -n 's/^listening on //p' "$work/sim.log" | tr -d '\r')
    [[ -n "$sim_url" ]] && break
    sleep 0.2
done
[[ -n "$sim_url" ]] || fail "kapso-sim did not start: $(cat "$work/sim.log")"

reports="$work/reports"
rm -rf "$reports"
mkdir -p "$reports"
# An existing report: the atomic write must replace it (a rename over an existing file, which
# Windows refuses unless asked to replace).
echo stale >"$reports/pass.xml"
last="$work/last-run.log"
# Runs the binary with the demo key, the simulator and the given NAME=value settings; prints the
# exit status.
gate() {
    local status=0
    (
        export KAPSO_API_KEY=sim-demo-key KAPSO_BASE_URL="$sim_url" KAPSO_POLL_INTERVAL=200ms KAPSO_TIMEOUT=2m
        for setting in "$@"; do
            export "${setting?}"
        done
        run_binary
    ) >"$last" 2>&1 || status=$?
    echo "$status"
}

status=$(gate KAPSO_TEST_CASE_IDS="$passing_ids" KAPSO_JUNIT="$reports/pass.xml")
[[ "$status" == 0 ]] || { cat "$last" >&2; fail "passing gate exited $status"; }
grep -q 'failures="0"' "$reports/pass.xml" || fail "the JUnit report did not replace the stale file"
# Reports have \n line endings on every OS.
if grep -q $'\r' "$reports/pass.xml"; then
    fail "CR characters in the JUnit report"
fi
echo "ok: passing gate (exit 0), JUnit report replaced the existing file, LF line endings"

status=$(gate KAPSO_TEST_SUITE_IDS="$failing_suite" KAPSO_JSON="$reports/fail.json")
[[ "$status" == 1 ]] || { cat "$last" >&2; fail "failing gate exited $status, expected 1"; }
grep -q '"verdict": *"failed"' "$reports/fail.json" || fail "no failed verdict in the JSON report"
if grep -q $'\r' "$reports/fail.json"; then
    fail "CR characters in the JSON report"
fi
echo "ok: failing gate (exit 1)"
echo "smoke test: passed"
