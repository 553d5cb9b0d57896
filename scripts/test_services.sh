#!/usr/bin/env bash
# Installs and starts, on 127.0.0.1, the real servers the tests use, or stops
# them again:  test_services.sh start|stop|env
#   InfluxDB (Debian's influxdb, v1 API) on 127.0.0.1:18086
# `env` prints the variables the tests read (NBI_TEST_INFLUX_URL).
# Safe to run twice; stops only what it started (by pid file).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dir="$NBI_ROOT/target/test-services"
influx_port=18086

influx_url() { echo "http://127.0.0.1:$influx_port"; }

influx_up() { curl -fsS -o /dev/null "$(influx_url)/ping" 2>/dev/null; }

start_influx() {
    if influx_up; then return 0; fi
    if ! command -v influxd >/dev/null 2>&1; then
        apt_install influxdb
    fi
    command -v influxd >/dev/null 2>&1 || { log "influxd is not available"; return 1; }
    mkdir -p "$dir/influxdb"
    # The stock config listens on every interface: everything here is on loopback.
    cat > "$dir/influxdb/influxdb.conf" <<EOC
reporting-disabled = true
bind-address = "127.0.0.1:18088"
[meta]
  dir = "$dir/influxdb/meta"
[data]
  dir = "$dir/influxdb/data"
  wal-dir = "$dir/influxdb/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:$influx_port"
  log-enabled = false
  pprof-enabled = false
[ifql]
  enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
EOC
    influxd -config "$dir/influxdb/influxdb.conf" > "$dir/influxdb/influxd.log" 2>&1 &
    echo $! > "$dir/influxdb/pid"
    for _ in $(seq 1 100); do
        influx_up && { log "InfluxDB is up at $(influx_url)"; return 0; }
        sleep 0.1
    done
    log "InfluxDB did not start: $(tail -5 "$dir/influxdb/influxd.log")"
    return 1
}

stop_influx() {
    local pidfile="$dir/influxdb/pid"
    [ -f "$pidfile" ] || return 0
    local pid
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null && grep -q influxd "/proc/$pid/cmdline" 2>/dev/null; then
        kill "$pid"
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$pidfile"
}

case "${1:-}" in
    start) start_influx ;;
    stop) stop_influx ;;
    env) influx_up && echo "NBI_TEST_INFLUX_URL=$(influx_url)" ;;
    *) echo "usage: $0 start|stop|env" >&2; exit 64 ;;
esac
