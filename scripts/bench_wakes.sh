#!/usr/bin/env bash
# How often an idle `nbi run --source linux` wakes up: voluntary context
# switches per second, summed over its threads and per thread, read from
# /proc after it has settled. Each one is a wake from sleep (a battery's
# cost); the goal is at most 5 a second. Linux only (/proc): bash, like
# bench_app.sh.
#   scripts/bench_wakes.sh [SECONDS]   (default 30, after 10 s to settle)
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
NBI_DB="$dir/nbi.sqlite" target/release/nbi run --source linux --no-detect >"$dir/log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
sleep 10
# per_thread: "name switches" per thread, sorted by name.
per_thread() {
    for t in /proc/"$pid"/task/*; do
        printf '%s %s\n' "$(cat "$t/comm")" \
            "$(awk '$1 == "voluntary_ctxt_switches:" {print $2}' "$t/status")"
    done | sort
}
before=$(per_thread)
sleep "$secs"
after=$(per_thread)
total() { printf '%s\n' "$1" | awk '{s += $2} END {print s + 0}'; }
a=$(total "$before")
b=$(total "$after")
echo "idle nbi run --source linux, $secs s: $(awk -v d=$((b - a)) -v s="$secs" 'BEGIN {printf "%.2f", d / s}') wakes/s (voluntary context switches, all threads)"
printf '%s\n' "$after" | while read -r name n; do
    was=$(printf '%s\n' "$before" | awk -v k="$name" '$1 == k {print $2; exit}')
    echo "  $name: $(awk -v d=$((n - ${was:-0})) -v s="$secs" 'BEGIN {printf "%.2f", d / s}')/s"
done
