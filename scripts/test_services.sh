#!/usr/bin/env bash
# Installs and starts, on 127.0.0.1, the real servers the tests use, or stops
# them again:  test_services.sh start|stop|env
#   InfluxDB (Debian's influxdb, v1 API) on 127.0.0.1:18086
#   tansu (an Apache-Kafka-compatible broker, SQLite storage) on 127.0.0.1:19092
# `env` prints the variables the tests read, one per line: the servers'
# addresses, and the programs for tests that start (and stop) their own.
# Safe to run twice; stops only what it started (by pid file).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dir="$NBI_ROOT/target/test-services"
influx_port=18086

influx_url() { echo "http://127.0.0.1:$influx_port"; }
kafka_port=19092
tansu_version=0.6.0

# await_up CHECK NAME ADDRESS LOG: waits up to 10 s for the server just
# started to pass CHECK; shows the end of its LOG when it does not.
await_up() {
    for _ in $(seq 1 100); do
        "$1" && { log "$2 is up at $3"; return 0; }
        sleep 0.1
    done
    log "$2 did not start: $(tail -5 "$4")"
    return 1
}

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
    await_up influx_up InfluxDB "$(influx_url)" "$dir/influxdb/influxd.log"
}

# stop_started NAME PROGRAM: stops the server this script started under
# $dir/NAME (by its pid file, and only if that pid is still PROGRAM).
stop_started() {
    local pidfile="$dir/$1/pid" pid
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null && grep -q "$2" "/proc/$pid/cmdline" 2>/dev/null; then
        kill "$pid"
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$pidfile"
}

tansu_bin() {
    local t
    for t in "$(command -v tansu 2>/dev/null || true)" "$HOME/.cargo/bin/tansu"; do
        if [ -n "$t" ] && [ -x "$t" ] && "$t" --version 2>/dev/null | grep -qx "tansu $tansu_version"; then
            echo "$t"
            return 0
        fi
    done
    return 1
}

# tansu builds from crates.io (about 25 minutes on 2 cores, once): the
# binary is reused while its version matches.
install_tansu() {
    tansu_bin >/dev/null && return 0
    ensure_build_deps
    log "building tansu $tansu_version (a Kafka-protocol broker; once, about 25 minutes)"
    cargo install tansu --version "$tansu_version" --locked --features libsql,dynostore --quiet
    tansu_bin >/dev/null || { log "tansu $tansu_version did not install"; return 1; }
}

kafka_up() { (exec 3<>"/dev/tcp/127.0.0.1/$kafka_port") 2>/dev/null; }

start_kafka() {
    install_tansu
    if kafka_up; then return 0; fi
    mkdir -p "$dir/tansu"
    # tansu reads the path after sqlite:// relative to its directory.
    (cd "$dir/tansu" && exec "$(tansu_bin)" broker \
        --listener-url "tcp://127.0.0.1:$kafka_port" \
        --advertised-listener-url "tcp://127.0.0.1:$kafka_port" \
        --storage-engine sqlite://tansu.db) > "$dir/tansu/tansu.log" 2>&1 &
    echo $! > "$dir/tansu/pid"
    await_up kafka_up tansu "127.0.0.1:$kafka_port" "$dir/tansu/tansu.log"
}


case "${1:-}" in
    start) start_influx && start_kafka ;;
    stop) stop_started tansu tansu; stop_started influxdb influxd ;;
    env)
        influx_up && echo "NBI_TEST_INFLUX_URL=$(influx_url)"
        kafka_up && echo "NBI_TEST_KAFKA=127.0.0.1:$kafka_port"
        command -v influxd >/dev/null 2>&1 && echo "NBI_TEST_INFLUXD=$(command -v influxd)"
        tansu_bin >/dev/null && echo "NBI_TEST_TANSU=$(tansu_bin)"
        true
        ;;
    *) echo "usage: $0 start|stop|env" >&2; exit 64 ;;
esac
