#!/usr/bin/env bash
# The release tray app's idle footprint, as a person's machine would carry
# it: started on a demo database and watching this machine, on a private
# desktop (Xvfb, a D-Bus session, trayer as the tray host). After 60 s with
# the window closed, 60 s with it open and 60 s after closing it again, it
# reports over the next 30 s of each:
# CPU %, private memory (anonymous RSS) and total RSS, summed over the app
# and its WebKit processes; then the same for `nbi run` (the pipeline without
# the tray app) as the reference. Run by scripts/bench; alone:
# scripts/bench_app.sh.
# Linux only (bash; /proc, Xvfb, trayer, xdotool): on macOS it says so and
# exits 0. There WebKit's processes are XPC services started by launchd, not
# children of the app, no private desktop can host the tray, and `ps` has no
# private-memory figure: a number measured there would not be this one.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
if is_macos; then
    log "bench_app.sh: the tray app's footprint is measured on Linux only (/proc, Xvfb, trayer): skipped on macOS"
    exit 0
fi
cd "$NBI_ROOT"

SETTLE=${NBI_BENCH_SETTLE:-60}
MEASURE=${NBI_BENCH_MEASURE:-30}

if [ -z "${NBI_BENCH_APP_INNER:-}" ]; then
    ensure_build_deps
    ensure_tauri_deps
    ensure_ui_dist
    log "building the tray app and nbi (release)"
    cargo build --release --locked -p nbi-cli -p nbi-app
    export NBI_BENCH_APP_INNER=1
    exec dbus-run-session -- "$0" "$@"
fi

work=$(mktemp -d)
pids=()
cleanup() {
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill "${pids[$i]}" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

display=
for n in $(seq 90 190); do
    if [ ! -e "/tmp/.X11-unix/X$n" ] && [ ! -e "/tmp/.X$n-lock" ]; then
        display=":$n"
        break
    fi
done
[ -n "$display" ] || { log "no free X display"; exit 1; }
Xvfb "$display" -screen 0 1024x768x24 -nolisten tcp >/dev/null 2>&1 &
pids+=($!)
export DISPLAY=$display
for _ in $(seq 100); do [ -e "/tmp/.X11-unix/X${display#:}" ] && break; sleep 0.1; done
trayer --edge top --align right --SetDockType true --widthtype request --height 32 >/dev/null 2>&1 &
pids+=($!)

# The app's files stay in the scratch directory.
export HOME=$work XDG_CONFIG_HOME=$work/config XDG_DATA_HOME=$work/data XDG_CACHE_HOME=$work/cache
for v in $(env | sed -n 's/^\(NBI_[A-Z_]*\)=.*/\1/p'); do
    [ "$v" = NBI_BENCH_APP_INNER ] || unset "$v"
done
printf 'host = "bench"\n' >"$work/config.toml"
export NBI_CONFIG=$work/config.toml NBI_DB=$work/demo.sqlite NBI_LOG=warn
target/release/nbi demo --days 30 --db "$NBI_DB" >/dev/null

app=target/release/nbi-app
"$app" >"$work/app.log" 2>&1 &
app_pid=$!
pids+=("$app_pid")

# measure PID SECONDS: "cpu% rss_anon_kib rss_kib processes" over the app's
# process tree (the app and the WebKit processes it starts).
measure() {
    python3 - "$1" "$2" <<'EOF'
import os, sys, time

root, seconds = int(sys.argv[1]), float(sys.argv[2])
tick = os.sysconf("SC_CLK_TCK")

def tree():
    parents = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    # The command may hold spaces: fields follow the last ')'.
                    parents[int(d)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    found, todo = {root}, [root]
    while todo:
        p = todo.pop()
        for child, parent in parents.items():
            if parent == p and child not in found:
                found.add(child)
                todo.append(child)
    return found

def threads(pids):
    """Nanoseconds on a CPU of every live thread, by (pid, tid)."""
    out = {}
    for p in pids:
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tids:
            try:
                with open(f"/proc/{p}/task/{t}/schedstat") as f:
                    out[(p, int(t))] = int(f.read().split()[0])
            except (OSError, IndexError, ValueError):
                pass
    return out

def ticks(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total

def memory(pids):
    anon = rss = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        anon += int(line.split()[1])
                    elif line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
        except OSError:
            pass
    return anon, rss

# CPU time from the scheduler's nanosecond counters of each thread, read
# every second so that a thread that ends loses at most its last second.
# The processes' clock-tick totals move in 10 ms steps, too coarse for a
# tenth of a percent over half a minute: used only without schedstat.
pids = tree()
t0 = time.monotonic()
first = threads(pids)
seen = dict(first)
start_ticks = ticks(pids)
while (left := seconds - (time.monotonic() - t0)) > 0:
    time.sleep(min(1.0, left))
    pids |= tree()
    seen.update(threads(pids))
elapsed = time.monotonic() - t0
if seen:
    used = sum(v - first.get(k, 0) for k, v in seen.items()) / 1e9
else:
    used = (ticks(pids) - start_ticks) / tick
final = tree()
anon, rss = memory(final)
names = []
for p in sorted(final):
    try:
        with open(f"/proc/{p}/comm") as f:
            names.append(f.read().strip())
    except OSError:
        pass
print(f"{100.0 * used / elapsed:.3f} {anon} {rss} {len(final)} {','.join(names)}")
EOF
}

report() {
    local label=$1 cpu anon rss n names
    read -r cpu anon rss n names <<<"$2"
    awk -v l="$label" -v c="$cpu" -v a="$anon" -v r="$rss" -v n="$names" 'BEGIN {
        printf "%-14s CPU %6.3f %%   private %6.1f MB   total RSS %6.1f MB   (%s)\n", l, c, a / 1024, r / 1024, n
    }'
}

alive() { kill -0 "$app_pid" 2>/dev/null || { log "the app exited:"; cat "$work/app.log" >&2; exit 1; }; }

log "window closed: ${SETTLE} s to settle, then ${MEASURE} s measured"
sleep "$SETTLE"
alive
closed=$(measure "$app_pid" "$MEASURE")

# A second launch asks the running app to open its window.
"$app" --show >/dev/null 2>&1 || true
log "window open: ${SETTLE} s to settle, then ${MEASURE} s measured"
sleep "$SETTLE"
alive
open=$(measure "$app_pid" "$MEASURE")

# Closed as a person closes it (the window manager's close request), the
# window and its webview are gone: what stays is what the app keeps.
close_window() {
    python3 - "$1" <<'EOF'
import ctypes, ctypes.util, sys

x = ctypes.cdll.LoadLibrary(ctypes.util.find_library("X11"))
x.XOpenDisplay.restype = ctypes.c_void_p
x.XOpenDisplay.argtypes = [ctypes.c_char_p]
x.XInternAtom.restype = ctypes.c_ulong
x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
x.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
x.XFlush.argtypes = [ctypes.c_void_p]

class ClientMessage(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                ("display", ctypes.c_void_p), ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                ("format", ctypes.c_int), ("data", ctypes.c_long * 5)]

class Event(ctypes.Union):
    _fields_ = [("client", ClientMessage), ("pad", ctypes.c_long * 24)]

display = x.XOpenDisplay(None)
window = int(sys.argv[1])
e = Event()
e.client.type = 33  # ClientMessage
e.client.window = window
e.client.message_type = x.XInternAtom(display, b"WM_PROTOCOLS", 0)
e.client.format = 32
e.client.data[0] = x.XInternAtom(display, b"WM_DELETE_WINDOW", 0)
x.XSendEvent(display, window, 0, 0, ctypes.byref(e))
x.XFlush(display)
EOF
}
window=$(xdotool search --onlyvisible --name "Network Behavior Intelligence" | head -1)
[ -n "$window" ] || { log "the window did not open"; exit 1; }
close_window "$window"
log "window closed again: ${SETTLE} s to settle, then ${MEASURE} s measured"
sleep "$SETTLE"
alive
again=$(measure "$app_pid" "$MEASURE")
kill "$app_pid"
wait "$app_pid" 2>/dev/null || true

# The reference, measured the same way in the same run: the same pipeline
# without the tray and window, as `nbi run` on the same database and source.
target/release/nbi run --db "$NBI_DB" >"$work/run.log" 2>&1 &
run_pid=$!
pids+=("$run_pid")
log "reference, nbi run: ${SETTLE} s to settle, then ${MEASURE} s measured"
sleep "$SETTLE"
kill -0 "$run_pid" 2>/dev/null || { log "nbi run exited:"; cat "$work/run.log" >&2; exit 1; }
reference=$(measure "$run_pid" "$MEASURE")

echo "tray app idle footprint (release, linux source, the app and its WebKit processes):"
report "window closed" "$closed"
report "window open" "$open"
report "closed again" "$again"
report "nbi run" "$reference"
read -r app_cpu app_anon _ <<<"$closed"
read -r ref_cpu ref_anon _ <<<"$reference"
awk -v ac="$app_cpu" -v rc="$ref_cpu" -v aa="$app_anon" -v ra="$ref_anon" 'BEGIN {
    printf "window closed against nbi run: CPU %s, private memory %.2fx\n",
        (rc > 0 ? sprintf("%.2fx", ac / rc) : "n/a (reference used none)"), aa / ra
}'
