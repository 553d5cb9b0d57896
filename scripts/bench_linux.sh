#!/usr/bin/env bash
# What counting every byte in the kernel costs: bulk TCP and UDP transfers
# (iperf3) to a peer host in a network namespace, with no nbi, with
# `nbi run --source linux` counting in the kernel (eBPF), and with it on
# its TCP-only fallback, taken in turns in one run; the programs' own cost
# per packet (the kernel's bpf_stats: run time / runs); and nbi's CPU in
# user space at that rate and at 1 Gbit/s. Root and Linux only (bash, like
# bench_wakes.sh).
#   scripts/bench_linux.sh [SECONDS]   (each transfer; default 10)
#   NBI_BENCH_ROUNDS=N                 (rounds of the three; default 3)
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$NBI_ROOT"
if [ "$(uname -s)" != Linux ] || [ "$(id -u)" -ne 0 ]; then
    log "bench_linux: needs Linux and root (a network namespace, eBPF)"
    exit 0
fi
secs=${1:-10}
ensure_build_deps
apt_install iperf3 iproute2 bpftool
log "building nbi (release)"
cargo build --release --locked -q -p nbi-cli

dir=$(mktemp -d)
ns="nbi-bench-$$"
host_if="nbbh$$"
peer_if="nbbp$$"
nbi_pid=
cleanup() {
    [ -n "$nbi_pid" ] && kill "$nbi_pid" 2>/dev/null && wait "$nbi_pid" 2>/dev/null
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
    sysctl -q kernel.bpf_stats_enabled="$stats_was" >/dev/null 2>&1 || true
    rm -rf "$dir"
}
stats_was=$(sysctl -n kernel.bpf_stats_enabled)
trap cleanup EXIT

# The peer: 198.18.0.0/15 is the benchmarking range.
ip netns add "$ns"
ip link add "$host_if" type veth peer name "$peer_if"
ip link set "$peer_if" netns "$ns"
ip addr add 198.18.250.1/30 dev "$host_if"
ip link set "$host_if" up
ip netns exec "$ns" ip addr add 198.18.250.2/30 dev "$peer_if"
ip netns exec "$ns" ip link set "$peer_if" up
ip netns exec "$ns" ip link set lo up
peer=198.18.250.2

# iperf3 as a client; prints the receiver's bits per second.
transfer() { # KIND (tcp|udp|tcp1g)
    # A server for one test (-1), inside the peer.
    ip netns exec "$ns" iperf3 -s -1 -B "$peer" >/dev/null 2>&1 &
    server=$!
    sleep 0.5
    case "$1" in
        tcp) args=() ;;
        udp) args=(-u -b 0 -l 1400) ;;
        tcp1g) args=(-b 1G) ;;
    esac
    iperf3 -c "$peer" -t "$secs" -J "${args[@]}" >"$dir/iperf.json"
    wait "$server" 2>/dev/null || true
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); e=j["end"]; s=e.get("sum_received") or e["sum"]; print(int(s["bits_per_second"]))' "$dir/iperf.json"
}

# CPU ticks (user + system) of a process.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

start_nbi() { # MODE (kernel|fallback)
    local env=()
    [ "$1" = fallback ] && env=(NBI_SOURCE__LINUX_KERNEL_COUNTERS=false)
    env "${env[@]}" NBI_DB="$dir/nbi-$1.sqlite" target/release/nbi run --source linux --interval 1 --no-detect \
        >"$dir/nbi-$1.log" 2>&1 &
    nbi_pid=$!
    for _ in $(seq 50); do
        grep -q 'linux source' "$dir/nbi-$1.log" 2>/dev/null && break
        sleep 0.1
    done
    sleep 1
}
stop_nbi() {
    kill "$nbi_pid" 2>/dev/null || true
    wait "$nbi_pid" 2>/dev/null || true
    nbi_pid=
}

hz=$(getconf CLK_TCK)
rounds=${NBI_BENCH_ROUNDS:-3}
ratios="$dir/ratios"
: >"$ratios"
for kind in tcp udp; do
    for round in $(seq "$rounds"); do
        # The three modes back to back, in a different order each round.
        case $((round % 3)) in
            1) order="none kernel fallback" ;;
            2) order="kernel fallback none" ;;
            0) order="fallback none kernel" ;;
        esac
        declare -A got=()
        for mode in $order; do
            if [ "$mode" = none ]; then
                got[$mode]=$(transfer "$kind")
                echo "$kind round $round, no nbi: $(awk -v b="${got[$mode]}" 'BEGIN {printf "%.2f", b / 1e9}') Gbit/s"
                continue
            fi
            start_nbi "$mode"
            before=$(cpu_ticks "$nbi_pid")
            got[$mode]=$(transfer "$kind")
            used=$(($(cpu_ticks "$nbi_pid") - before))
            stop_nbi
            echo "$kind round $round, nbi $mode: $(awk -v b="${got[$mode]}" 'BEGIN {printf "%.2f", b / 1e9}') Gbit/s, nbi $(awk -v t="$used" -v hz="$hz" -v s="$secs" 'BEGIN {printf "%.2f", 100 * t / hz / s}') % of a core"
        done
        for mode in kernel fallback; do
            echo "$kind $mode $(awk -v a="${got[$mode]}" -v b="${got[none]}" 'BEGIN {printf "%.4f", a / b}')" >>"$ratios"
        done
        unset got
    done
done
# The median over the rounds of (with nbi / without, in the same round).
for kind in tcp udp; do
    for mode in kernel fallback; do
        median=$(awk -v k="$kind" -v m="$mode" '$1 == k && $2 == m {print $3}' "$ratios" | sort -n |
            awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}')
        echo "$kind throughput with nbi ($mode) / without, median of $rounds rounds: $median"
    done
done

log "the programs' own cost per packet (bpf_stats), TCP at full speed"
sysctl -q kernel.bpf_stats_enabled=1
start_nbi kernel
transfer tcp >/dev/null
bpftool prog show -j | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    if p.get("name") in ("count_ingress", "count_egress", "sock_create", "sock_release") and p.get("run_cnt"):
        print("  %s: %.0f ns per run over %d runs" % (p["name"], p["run_time_ns"] / p["run_cnt"], p["run_cnt"]))
'
stop_nbi
sysctl -q kernel.bpf_stats_enabled="$stats_was"

log "nbi's CPU in user space at 1 Gbit/s of TCP (reads once a second)"
start_nbi kernel
before=$(cpu_ticks "$nbi_pid")
user_before=$(awk '{print $14}' "/proc/$nbi_pid/stat")
bps=$(transfer tcp1g)
user=$(($(awk '{print $14}' "/proc/$nbi_pid/stat") - user_before))
all=$(($(cpu_ticks "$nbi_pid") - before))
echo "1 Gbit/s target, $(awk -v b="$bps" 'BEGIN {printf "%.2f", b / 1e9}') Gbit/s carried: nbi user $(awk -v t="$user" -v hz="$hz" -v s="$secs" 'BEGIN {printf "%.2f", 100 * t / hz / s}') %, user+system $(awk -v t="$all" -v hz="$hz" -v s="$secs" 'BEGIN {printf "%.2f", 100 * t / hz / s}') % of a core"
stop_nbi
