# Shared by the scripts: install what is missing, and nothing twice.
# POSIX sh (macOS's /bin/sh and /bin/bash 3.2, Debian's dash): no arrays, no
# `local`, no bash-only builtins. Sourced by the scripts in scripts/, so the
# clone is the directory above the running script ($0).
# shellcheck shell=sh

NBI_ROOT=$(cd "$(dirname "$0")/.." && pwd)
export NBI_ROOT

log() { printf '==> %s\n' "$*" >&2; }

is_debian() { [ -f /etc/debian_version ] && command -v apt-get >/dev/null 2>&1; }
is_macos() { [ "$(uname -s)" = Darwin ]; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# apt_install PKG...: installs the Debian packages that are not installed yet.
apt_install() {
    is_debian || return 0
    apt_missing=
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || apt_missing="$apt_missing $p"
    done
    [ -n "$apt_missing" ] || return 0
    log "installing Debian packages:$apt_missing"
    as_root dpkg --configure -a >/dev/null 2>&1 || true
    # apt-get update at most every 12 hours, or when the lists are gone (an
    # image that deleted them). The stamp sits in apt's own stamp directory,
    # which only root can write: a stamp in a shared place (/tmp, /var/tmp)
    # could be made by any user to keep root on stale lists.
    apt_stamp=/var/lib/apt/periodic/nbi-update-stamp
    if [ ! -f "$apt_stamp" ] || [ -n "$(find "$apt_stamp" -mmin +720 2>/dev/null)" ] ||
        ! find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' 2>/dev/null | grep -q .; then
        as_root apt-get update -qq
        as_root mkdir -p "${apt_stamp%/*}"
        as_root touch "$apt_stamp"
    fi
    # A private archive cache: the image's apt hook deletes .debs after each
    # run, which breaks an install that overlaps another apt run. It is made
    # afresh by root (mktemp: a new name no one else can have prepared) and
    # removed afterwards; readable by all so that apt can download as _apt.
    apt_cache=$(as_root mktemp -d)
    apt_status=0
    as_root chmod 755 "$apt_cache"
    as_root mkdir -p "$apt_cache/partial"
    # Package names are single words: the list splits on spaces.
    # shellcheck disable=SC2086
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o Dir::Cache::Archives="$apt_cache" $apt_missing || apt_status=$?
    as_root rm -rf "$apt_cache"
    return "$apt_status"
}

# brew_install FORMULA [HINT]: installs a Homebrew formula (macOS) that is not
# installed yet; without Homebrew, says what to install and fails.
brew_install() {
    if ! command -v brew >/dev/null 2>&1; then
        log "${2:-$1} is needed: install Homebrew (https://brew.sh), then: brew install $1"
        return 1
    fi
    brew list --versions "$1" >/dev/null 2>&1 && return 0
    log "installing $1 (Homebrew)"
    brew install "$1"
}

ensure_rust() {
    if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
        PATH="$HOME/.cargo/bin:$PATH"
        export PATH
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        log "installing the Rust toolchain (rustup)"
        curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt,clippy
        PATH="$HOME/.cargo/bin:$PATH"
        export PATH
        command -v cargo >/dev/null 2>&1 || { log "rustup did not install cargo"; exit 1; }
    fi
}

# What building nbi needs: a C compiler (bundled SQLite), pkg-config, and on
# Linux clang and libbpf's headers for the Linux source's eBPF programs
# (without them the build counts TCP only).
ensure_build_deps() {
    if is_debian; then
        apt_install ca-certificates curl build-essential pkg-config clang libbpf-dev
    elif is_macos; then
        xcode-select -p >/dev/null 2>&1 || { log "install the Xcode command line tools: xcode-select --install"; exit 1; }
    fi
    ensure_rust
}

# What the tests need besides the build: real curl for Linux traffic tests,
# python3 for the stand-in nettop, procps for process checks. macOS has
# curl, python3 (Xcode command line tools) and ps; InfluxDB comes from
# Homebrew when test_services.sh starts it.
ensure_test_deps() {
    ensure_build_deps
    if is_debian; then
        # curl: Linux source tests; python3: the stand-in nettop and UDP
        # peers; ngtcp2's QUIC client and server with ssl-cert's snakeoil
        # key: QUIC traffic; libcap2-bin (capsh): the source without its
        # capabilities; Xvfb, D-Bus and dunst: a real notification daemon;
        # python3-dbusmock: a mock NetworkManager on a private bus (the
        # network_manager test; Debian's python3 has it, pyenv's may not).
        apt_install curl python3 procps iproute2 util-linux ngtcp2-server ngtcp2-client \
            ssl-cert libcap2-bin xvfb xauth dbus dbus-x11 dunst influxdb python3-dbusmock
    fi
    ensure_tauri_deps
}

# What building the tray app (src-tauri) needs on Debian/Ubuntu: WebKitGTK,
# the tray (AppIndicator), xdo and rsvg. macOS needs only the Xcode command
# line tools.
ensure_tauri_build_deps() {
    ensure_build_deps
    is_debian || return 0
    apt_install libwebkit2gtk-4.1-dev build-essential libxdo-dev libssl-dev \
        libayatana-appindicator3-dev librsvg2-dev pkg-config
}

# ...and testing it headless: Xvfb, a D-Bus session, dunst (notifications),
# trayer (a tray host), xdotool (clicks), ImageMagick (screenshots), WebKit's
# WebDriver and tauri-driver. The end-to-end test runs on Linux only (macOS
# has no WebDriver for its web view): macOS needs nothing more.
NBI_TAURI_DRIVER_VERSION=2.1.0
ensure_tauri_deps() {
    ensure_tauri_build_deps
    is_macos && return 0
    if is_debian; then
        apt_install xvfb xauth dbus dbus-x11 dunst webkit2gtk-driver trayer xdotool \
            imagemagick fonts-dejavu-core libnotify-bin at-spi2-core
    fi
    # A tauri-driver already there is used as it is (it has no --version);
    # a new one is this version.
    if ! command -v tauri-driver >/dev/null 2>&1; then
        log "installing tauri-driver $NBI_TAURI_DRIVER_VERSION (WebDriver for the tray app's end-to-end test)"
        cargo install tauri-driver --version "$NBI_TAURI_DRIVER_VERSION" --locked
    fi
}

sha256() {
    if command -v sha256sum >/dev/null 2>&1; then sha256sum "$@"; else shasum -a 256 "$@"; fi
}

# verify_sha256 FILE EXPECTED: whether FILE's SHA-256 is EXPECTED; if not,
# says so, naming both hashes.
verify_sha256() {
    sha256_found=$(sha256 "$1" | cut -d ' ' -f 1)
    [ "$sha256_found" = "$2" ] && return 0
    log "${1##*/}: SHA-256 mismatch: expected $2, found $sha256_found; not using it"
    return 1
}

# bind_is_loopback: whether NBI_BIND (unset: 127.0.0.1) keeps the compose
# stack's ports (docker/compose.yaml) on this machine.
bind_is_loopback() {
    case "${NBI_BIND:-127.0.0.1}" in
        127.0.0.1 | localhost | ::1 | '[::1]') return 0 ;;
        *) return 1 ;;
    esac
}

# check_stack_secrets: the compose stack's secrets may be its published
# defaults (or unset) on loopback only; open to other machines, each must be
# a secret of one's own. Says which are not and fails.
check_stack_secrets() {
    bind_is_loopback && return 0
    stack_weak=
    for v in "NBI_INFLUX_TOKEN=${NBI_INFLUX_TOKEN:-}" "NBI_INFLUX_PASSWORD=${NBI_INFLUX_PASSWORD:-}" \
        "NBI_GRAFANA_PASSWORD=${NBI_GRAFANA_PASSWORD:-}"; do
        case "${v#*=}" in
            '' | nbi-dev-token-change-me | nbi-change-me) stack_weak="$stack_weak ${v%%=*}" ;;
        esac
    done
    [ -n "$stack_weak" ] || return 0
    log "NBI_BIND=$NBI_BIND opens Kafka, InfluxDB and Grafana to other machines, and these are unset or published defaults:$stack_weak"
    log "set each to a secret of your own first, e.g.:"
    for v in $stack_weak; do
        # shellcheck disable=SC2016 # the command to type, not to run here
        printf '    export %s=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d %s)\n' "$v" "' \\n'" >&2
    done
    return 1
}

# The webview's npm packages. npm ci wipes node_modules: it runs only when
# the lockfile changed since the last time.
ensure_ui_node_modules() {
    ensure_node
    (
        cd "$NBI_ROOT/ui" || exit 1
        stamp=node_modules/.nbi-lock.sha256
        want=$(sha256 package-lock.json package.json)
        if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
            exit 0
        fi
        log "npm ci (ui)"
        npm ci --no-audit --no-fund
        printf '%s\n' "$want" >"$stamp"
    )
}

# The webview's build (ui/dist), which the tray app embeds when it compiles.
ensure_ui_dist() {
    ensure_ui_node_modules
    log "building the webview (ui/dist)"
    (cd "$NBI_ROOT/ui" && npm run build --silent)
}

# Node.js 20.19 or later with npm, for the webview (Vite 7). Debian's own
# nodejs may be older: then the official build from nodejs.org goes to
# /usr/local, checked against the SHA-256 below (from the release's
# SHASUMS256.txt) before root unpacks it. macOS: Homebrew.
NBI_NODE_VERSION=22.12.0
node_sha256() {
    case "$1" in
        node-v22.12.0-linux-x64.tar.xz) echo 22982235e1b71fa8850f82edd09cdae7e3f32df1764a9ec298c72d25ef2c164f ;;
        node-v22.12.0-linux-arm64.tar.xz) echo 8cfd5a8b9afae5a2e0bd86b0148ca31d2589c0ea669c2d0b11c132e35d90ed68 ;;
        *) return 1 ;;
    esac
}
node_ok() {
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 &&
        node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' 2>/dev/null
}

ensure_node() {
    node_ok && return 0
    if is_macos; then
        command -v brew >/dev/null 2>&1 || { log "install Node.js 20.19 or later (https://nodejs.org or Homebrew)"; exit 1; }
        brew install node
    elif is_debian; then
        apt_install nodejs npm xz-utils curl ca-certificates || true
        if ! node_ok; then
            case "$(uname -m)" in
                x86_64) node_arch=x64 ;;
                aarch64) node_arch=arm64 ;;
                *) log "no Node.js build for $(uname -m): install Node.js 20.19 or later"; exit 1 ;;
            esac
            node_file=node-v$NBI_NODE_VERSION-linux-$node_arch.tar.xz
            node_want=$(node_sha256 "$node_file") || { log "no SHA-256 for $node_file in lib.sh"; exit 1; }
            log "installing Node.js $NBI_NODE_VERSION from nodejs.org into /usr/local"
            node_tmp=$(mktemp -d)
            if ! curl --proto '=https' --tlsv1.2 -fsSL -o "$node_tmp/$node_file" \
                "https://nodejs.org/dist/v$NBI_NODE_VERSION/$node_file" ||
                ! verify_sha256 "$node_tmp/$node_file" "$node_want"; then
                rm -rf "$node_tmp"
                exit 1
            fi
            as_root tar -xJf "$node_tmp/$node_file" -C /usr/local --strip-components=1
            rm -rf "$node_tmp"
            hash -r
        fi
    fi
    node_ok || { log "Node.js 20.19 or later with npm is needed: found $(node --version 2>/dev/null || echo none)"; exit 1; }
}
