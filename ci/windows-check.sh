#!/usr/bin/env bash
# The Windows check (issue 12), run by .ci/run. Idempotent; needs root on a Debian machine:
#   1. installs Debian's mingw-w64 (and wine64 unless KAPSO_CI_NO_WINE=1) and the
#      x86_64-pc-windows-gnu Rust target;
#   2. cross-compiles the release binary for Windows, so the Windows-only code (Ctrl-C and
#      Ctrl-Break handling) compiles and links;
#   3. when wine is there, runs that .exe against kapso-sim on 127.0.0.1 with ci/smoke-test.sh:
#      --version, a passing gate (exit 0, a JUnit report written over an existing file) and a
#      failing one (exit 1).
# The released Windows binary is built natively with MSVC by the release workflow; this checks
# the same source on the GNU toolchain. Prints how long each part took.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly target=x86_64-pc-windows-gnu
readonly work=target/windows-check

step() { printf '\n==> %s\n' "$*"; }
fail() {
    echo "windows-check: FAILED: $*" >&2
    exit 1
}
elapsed() { echo "$((SECONDS - $1))s"; }

step "tools"
started=$SECONDS
missing=()
command -v x86_64-w64-mingw32-gcc >/dev/null || missing+=(mingw-w64)
if [[ "${KAPSO_CI_NO_WINE:-}" != 1 ]] && ! command -v wine64 >/dev/null && ! command -v wine >/dev/null; then
    missing+=(wine64)
fi
if ((${#missing[@]})); then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! rustup target list --installed | grep -qx "$target"; then
    rustup target add "$target"
fi
echo "tools: $(elapsed "$started")"

step "cross-compile the release binary for $target"
started=$SECONDS
cargo build --release --locked --target "$target"
exe="${CARGO_TARGET_DIR:-target}/$target/release/kapso-gate.exe"
[[ -s "$exe" ]] || fail "no $exe"
echo "built $exe ($(stat -c %s "$exe") bytes) in $(elapsed "$started")"

wine_cmd=""
if [[ "${KAPSO_CI_NO_WINE:-}" != 1 ]]; then
    wine_cmd=$(command -v wine64 || command -v wine || true)
    # Debian keeps the 64-bit loader out of PATH.
    [[ -z "$wine_cmd" && -x /usr/lib/wine/wine64 ]] && wine_cmd=/usr/lib/wine/wine64
fi
if [[ -z "$wine_cmd" ]]; then
    echo "windows-check: wine not available, the .exe was built but not run"
    exit 0
fi

step "run the .exe under wine against kapso-sim"
started=$SECONDS
mkdir -p "$work/bin"
export WINEPREFIX="$PWD/$work/wineprefix" WINEDEBUG=-all
# A copy, so a DLL placed beside it stays out of the build's target folder.
cp "$exe" "$work/bin/kapso-gate.exe"
exe="$work/bin/kapso-gate.exe"
wine_version=$("$wine_cmd" --version)
wine_major=${wine_version#wine-}
wine_major=${wine_major%%.*}
if [[ "$wine_major" =~ ^[0-9]+$ ]] && ((wine_major < 9)); then
    echo "$wine_version has no bcryptprimitives.dll: using ci/wine-processprng.c"
    x86_64-w64-mingw32-gcc -shared -O2 -o "$work/bin/bcryptprimitives.dll" ci/wine-processprng.c -ladvapi32
fi
# The first wine start creates the prefix (tens of seconds); the smoke test starts with --version.
bash ci/smoke-test.sh --wrapper "$wine_cmd" "$exe"
echo "wine runs: $(elapsed "$started")"

echo
echo "windows check: passed"
