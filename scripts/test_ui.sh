#!/bin/sh
# Builds the webview (ui/) and runs its tests: type check, unit tests (Vitest)
# and browser tests (real Chromium through playwright-core, Tauri IPC mocked).
# Installs what is missing and nothing twice; ends with one line
# "ui: N passed, M failed" and exits non-zero if anything failed.
set -eu
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$NBI_ROOT/ui"

# The browser tests drive Debian's chromium (never a downloaded build), or on
# macOS the installed Google Chrome; CHROMIUM overrides both.
ensure_chromium() {
    if [ -n "${CHROMIUM:-}" ]; then
        :
    elif is_macos; then
        CHROMIUM="/Applications/Google Chrome.app/Contents/MacOS/Google Chrome"
    else
        apt_install chromium
        CHROMIUM=/usr/bin/chromium
    fi
    if [ ! -x "$CHROMIUM" ]; then
        log "no Chromium at $CHROMIUM: install one or set CHROMIUM"
        exit 1
    fi
    export CHROMIUM
}

ensure_ui_node_modules
ensure_chromium
mkdir -p test-output

passed=0
failed=0

# step NAME CMD...: a build step; its failure counts as one failed test.
step() {
    step_name=$1
    shift
    log "$step_name"
    if ! "$@"; then
        log "$step_name failed"
        failed=$((failed + 1))
    fi
}

# The escape character that starts a color code.
esc=$(printf '\033')

# tests NAME LOG PASS_SED FAIL_SED CMD...: runs a test runner, keeps its
# output in LOG and adds up the counts that the sed expressions pick out of
# its summary. A runner that fails without reporting a failed test (it
# crashed, or did not start) still counts as one failure, and one that
# passes having run nothing counts as one too.
tests() {
    t_name=$1 t_out=$2 t_pass=$3 t_fail=$4
    shift 4
    log "$t_name"
    # The runner's status through a file: sh has no pipefail.
    { s=0; "$@" 2>&1 || s=$?; echo "$s" >"$t_out.status"; } | tee "$t_out"
    t_status=$(cat "$t_out.status")
    rm -f "$t_out.status"
    # Runners color their output when they think a person is watching.
    sed "s/$esc\[[0-9;]*m//g" "$t_out" >"$t_out.plain" && mv "$t_out.plain" "$t_out"
    p=$(sed -nE "$t_pass" "$t_out" | awk '{s+=$1} END {print s+0}')
    f=$(sed -nE "$t_fail" "$t_out" | awk '{s+=$1} END {print s+0}')
    if [ "$t_status" -ne 0 ] && [ "$f" -eq 0 ]; then
        log "$t_name exited with status $t_status"
        f=1
    fi
    if [ "$t_status" -eq 0 ] && [ "$p" -eq 0 ]; then
        log "$t_name ran no test"
        f=$((f + 1))
    fi
    passed=$((passed + p))
    failed=$((failed + f))
}

step "vite build" npm run build
step "tsc --noEmit" npx tsc --noEmit
# Vitest's summary: "Tests  2 failed | 89 passed (91)".
tests "unit tests (vitest)" test-output/unit.log \
    's/^ *Tests .*[^0-9]([0-9]+) passed.*/\1/p' \
    's/^ *Tests .*[^0-9]([0-9]+) failed.*/\1/p' \
    npm test
# node --test with the spec reporter: "ℹ pass 30", "ℹ fail 0" (TAP: "# pass 30").
tests "browser tests (chromium)" test-output/browser.log \
    's/^(ℹ|#) pass ([0-9]+)$/\2/p' \
    's/^(ℹ|#) fail ([0-9]+)$/\2/p' \
    npm run test:browser

echo "ui: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
