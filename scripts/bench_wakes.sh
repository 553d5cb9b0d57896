#!/usr/bin/env bash
# How often an idle `nbi run --source linux` wakes up: voluntary context
# switches per second, summed over its threads and per thread, read from
# /proc after it has settled. Each one is a wake from sleep (a battery's
# cost). Measured twice: counting in the kernel (eBPF; needs root or the
# capabilities, else it falls back and says so), goal at most 1 a second;
# and on the TCP-only fallback (source.linux_kernel_counters = false), goal
# at most 5 a second. Linux only (/proc): bash, like bench_app.sh.
#   scripts/bench_wakes.sh [SECONDS]   (default 30 each, after 10 s to settle)
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$NBI_ROOT"
if [ "$(uname -s)" != Linux ]; then
    log "bench_wakes: reads /proc, so it measures on Linux only"
    exit 0
fi
secs=${1:-30}
ensure_build_deps
log "building nbi (release)"
cargo build --release --locked -q -p nbi-cli
dir=$(mktemp -d)
pid=
trap '[ -z "$pid" ] || { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }; rm -rf "$dir"' EXIT

# per_thread: "tid name switches" per thread.
per_thread() {
    for t in /proc/"$pid"/task/*; do
        # A thread may end while it is read: it is left out.
        printf '%s %s %s\n' "${t##*/}" "$(cat "$t/comm" 2>/dev/null)" \
            "$(awk '$1 == "voluntary_ctxt_switches:" {print $2}' "$t/status" 2>/dev/null)"
    done
}
# deltas BEFORE AFTER: "name switches" for each thread alive at both ends
# (one that ended or began meanwhile is left out).
deltas() {
    printf '%s\n' "$1" | awk -v after="$2" '
        BEGIN { n = split(after, lines, "\n"); for (i = 1; i <= n; i++) { split(lines[i], f, " "); if (f[1] != "") { was[f[1]] = f[3]; name[f[1]] = f[2] } } }
        $1 in was { print name[$1], was[$1] - $3 }'
}

measure() { # LABEL KERNEL_COUNTERS(true|false)
    NBI_SOURCE__LINUX_KERNEL_COUNTERS=$2 NBI_DB="$dir/nbi-$2.sqlite" \
        target/release/nbi run --source linux --no-detect >"$dir/log-$2" 2>&1 &
    pid=$!
    sleep 10
    before=$(per_thread)
    sleep "$secs"
    after=$(per_thread)
    d=$(deltas "$before" "$after")
    mode=$(grep -o 'mode=[a-z-]*' "$dir/log-$2" | head -n 1 || true)
    echo "idle nbi run --source linux, $1 (${mode:-mode unknown}), $secs s: $(printf '%s\n' "$d" | awk -v s="$secs" '{t += $2} END {printf "%.2f", t / s}') wakes/s (voluntary context switches, all threads)"
    printf '%s\n' "$d" | awk -v s="$secs" '{t[$1] += $2} END {for (k in t) printf "  %s: %.2f/s\n", k, t[k] / s}' | sort
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=
}

measure "counting in the kernel" true
measure "TCP-only fallback" false
