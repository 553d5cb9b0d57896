#!/bin/sh
# Installs and starts, on 127.0.0.1, the real servers the tests use, or stops
# them again:  test_services.sh start|stop|env
#   InfluxDB 1.x (v1 API: Debian's influxdb, Homebrew's influxdb@1 on macOS)
#     on 127.0.0.1:18086
#   tansu (an Apache-Kafka-compatible broker, SQLite storage) on 127.0.0.1:19092
# `env` prints the variables the tests read, one per line: the servers'
# addresses, and the programs for tests that start (and stop) their own.
# Safe to run twice; stops only what it started (by pid file).
set -eu
# shellcheck source=lib.sh
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
    log "$2 did not start: $(tail -n 5 "$4")"
    return 1
}

influx_up() { curl -fsS -o /dev/null "$(influx_url)/ping" 2>/dev/null; }

# influxd_bin: an influxd of InfluxDB 1.x (its -config file is TOML; 2.x's
# influxd takes other flags): the one on PATH, else Homebrew's influxdb@1,
# which is keg-only (not linked onto PATH).
influxd_bin() {
    brew_influxd=
    if command -v brew >/dev/null 2>&1; then
        brew_influxd="$(brew --prefix)/opt/influxdb@1/bin/influxd"
    fi
    for i in "$(command -v influxd 2>/dev/null || true)" "$brew_influxd"; do
        if [ -n "$i" ] && [ -x "$i" ] && "$i" version 2>/dev/null | grep -q '^InfluxDB v1\.'; then
            echo "$i"
            return 0
        fi
    done
    return 1
}

install_influx() {
    influxd_bin >/dev/null && return 0
    if is_macos; then
        brew_install influxdb@1 "InfluxDB 1.x" || return 1
    else
        apt_install influxdb
    fi
    influxd_bin >/dev/null || { log "no influxd of InfluxDB 1.x is available"; return 1; }
}

start_influx() {
    if influx_up; then return 0; fi
    install_influx
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
    "$(influxd_bin)" -config "$dir/influxdb/influxdb.conf" > "$dir/influxdb/influxd.log" 2>&1 &
    echo $! > "$dir/influxdb/pid"
    await_up influx_up InfluxDB "$(influx_url)" "$dir/influxdb/influxd.log"
}

# stop_started NAME PROGRAM: stops the server this script started under
# $dir/NAME (by its pid file, and only if that pid still runs PROGRAM).
stop_started() {
    pidfile="$dir/$1/pid"
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null && ps -p "$pid" -o command= 2>/dev/null | grep -q "$2"; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$pidfile"
}

tansu_bin() {
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

# Whether something accepts connections on the broker's port (python3: the
# tests need it anyway, and sh has no sockets).
kafka_up() {
    python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' \
        "$kafka_port" 2>/dev/null
}

start_kafka() {
    install_tansu
    command -v python3 >/dev/null 2>&1 || apt_install python3
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
    start) start_influx; start_kafka ;;
    stop) stop_started tansu tansu; stop_started influxdb influxd ;;
    env)
        influx_up && echo "NBI_TEST_INFLUX_URL=$(influx_url)"
        kafka_up && echo "NBI_TEST_KAFKA=127.0.0.1:$kafka_port"
        influxd_bin >/dev/null && echo "NBI_TEST_INFLUXD=$(influxd_bin)"
        tansu_bin >/dev/null && echo "NBI_TEST_TANSU=$(tansu_bin)"
        true
        ;;
    *) echo "usage: $0 start|stop|env" >&2; exit 64 ;;
esac
