//! The kernel-side counters (eBPF) against real traffic: UDP, QUIC and TCP
//! from a peer host in a network namespace this test makes, and UDP and TCP
//! over loopback. Each figure is checked against what the two ends say they
//! moved, each way.
//!
//! Needs root (CI runs as root). Without it, without a build with the eBPF
//! programs, or without ngtcp2's QUIC programs, a test says why and
//! returns, unless `NBI_TEST_REQUIRE_SERVICES=1` (the test command sets it):
//! then it fails, so a run that could not count every byte is never green.
#![cfg(target_os = "linux")]

mod support;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::time::Duration;

use nbi_core::counting::{CountingPolicy, SystemProcesses};
use nbi_core::source::linux::{has_kernel_counters, CaptureMode, LinuxConfig};
use nbi_core::Tick;

use support::linux::{me, sum, Harness};
use support::netns::{self, Peer};

/// One test at a time: each counts this process's own sockets.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn required() -> bool {
    std::env::var("NBI_TEST_REQUIRE_SERVICES").as_deref() == Ok("1")
}

/// Whether this test can run here; says why not, or fails under the test
/// command.
fn can_run(programs: &[(&str, &str)]) -> bool {
    let mut why = Vec::new();
    if !has_kernel_counters() {
        why.push("this build has no eBPF programs (clang and libbpf-dev were missing)".to_string());
    }
    if let Err(e) = netns::available() {
        why.push(e);
    }
    for (program, package) in programs {
        let found = Command::new(program)
            .arg("--help")
            .output()
            .is_ok_and(|o| o.status.success() || !o.stdout.is_empty() || !o.stderr.is_empty());
        if !found {
            why.push(format!(
                "`{program}` is not installed (Debian package {package})"
            ));
        }
    }
    if why.is_empty() {
        return true;
    }
    let why = why.join("; ");
    assert!(!required(), "cannot run: {why}");
    println!("SKIPPED: {why}");
    false
}

/// The counting defaults a user has: loopback left out.
fn defaults() -> CountingPolicy {
    CountingPolicy::default()
}

fn with_loopback() -> CountingPolicy {
    CountingPolicy::new(
        true,
        SystemProcesses::Count,
        std::iter::empty::<&str>(),
        std::iter::empty::<&str>(),
    )
}

/// Starts the source and checks it counts in the kernel.
async fn start(counting: CountingPolicy, interval: Duration) -> Harness {
    let mut h = Harness::start(LinuxConfig::default(), interval, counting);
    h.watching().await;
    let status = h.status.borrow().clone();
    assert_eq!(
        status.mode,
        Some(CaptureMode::Kernel),
        "the kernel-side counters did not start: {:?}",
        status.mode_note
    );
    h
}

/// `got` is within `pct` % of `want`.
fn within(got: u64, want: u64, pct: f64) -> bool {
    (got as f64 - want as f64).abs() <= want as f64 * pct / 100.0
}

/// The app whose name starts with `prefix` and its bytes (in, out).
fn app_starting(ticks: &[Tick], prefix: &str) -> Option<(String, (u64, u64))> {
    let mut names: Vec<String> = ticks
        .iter()
        .flat_map(|t| t.apps.iter().map(|a| a.app.clone()))
        .filter(|a| a.starts_with(prefix))
        .collect();
    names.sort();
    names.dedup();
    assert!(names.len() <= 1, "one app, one name: {names:?}");
    let name = names.pop()?;
    let bytes = sum(ticks, &name);
    Some((name, bytes))
}

/// Echoes `n` datagrams of `size` bytes through the server at `to`, one at
/// a time, from a connected socket of this process; returns the payload
/// bytes (sent, received).
fn udp_echo_client(to: SocketAddr, n: usize, size: usize) -> (u64, u64) {
    let any: IpAddr = match to {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let sock = UdpSocket::bind((any, 0)).expect("bind a UDP socket");
    sock.connect(to).expect("connect the UDP socket");
    sock.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("a read timeout");
    let out = vec![0x42u8; size];
    let mut back = vec![0u8; 65536];
    let (mut sent, mut received) = (0u64, 0u64);
    for _ in 0..n {
        sent += sock.send(&out).expect("send a datagram") as u64;
        // A datagram lost on the link is not waited for twice.
        if let Ok(k) = sock.recv(&mut back) {
            received += k as u64;
        }
    }
    (sent, received)
}

async fn udp_echo_is_counted_each_way(v6: bool) {
    if !can_run(&[("python3", "python3")]) {
        return;
    }
    let _serial = SERIAL.lock().await;
    let peer = Peer::new();
    let server: IpAddr = if v6 {
        peer.addr6.into()
    } else {
        peer.addr.into()
    };
    let port = peer.udp_echo(server);
    let h = start(defaults(), Duration::from_secs(2)).await;
    let to = SocketAddr::new(server, port);
    let (sent, received) = tokio::task::spawn_blocking(move || udp_echo_client(to, 1000, 1200))
        .await
        .expect("the client");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ticks = h.stop().await;
    let (me_in, me_out) = sum(&ticks, &me());
    let family = if v6 { "IPv6" } else { "IPv4" };
    println!(
        "UDP echo over {family}, 1000 × 1200 B: sent {sent}, received {received}; counted out {me_out}, in {me_in}"
    );
    assert_eq!(sent, 1_200_000, "every datagram was sent");
    assert!(
        within(me_out, sent, 1.0),
        "bytes out over {family}: {me_out} of {sent}"
    );
    assert!(
        within(me_in, received, 1.0),
        "bytes in over {family}: {me_in} of {received}"
    );
    // The echo server runs in the peer's network namespace, on this
    // machine: its sockets are counted too, under its own app.
    let (name, (server_in, server_out)) =
        app_starting(&ticks, "python3").expect("the echo server in the namespace is counted");
    println!("{name} in the namespace: in {server_in}, out {server_out}");
    assert!(within(server_in, sent, 1.0), "{name} in: {server_in}");
    assert!(
        within(server_out, received, 1.0),
        "{name} out: {server_out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_echo_over_ipv4_is_counted_each_way() {
    udp_echo_is_counted_each_way(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_echo_over_ipv6_is_counted_each_way() {
    udp_echo_is_counted_each_way(true).await;
}

const SNAKEOIL_KEY: &str = "/etc/ssl/private/ssl-cert-snakeoil.key";
const SNAKEOIL_CERT: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";

/// Waits until something listens on UDP `port` inside the peer.
fn wait_for_udp_port(peer: &Peer, port: u16) {
    for _ in 0..100 {
        let out = Command::new("ip")
            .args(["netns", "exec", peer.name(), "ss", "-Hlun"])
            .output()
            .expect("run ss in the peer");
        if String::from_utf8_lossy(&out.stdout).contains(&format!(":{port} ")) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listens on UDP port {port} in the peer");
}

/// A QUIC (HTTP/3) download of 5,000,000 B from ngtcp2's server in the peer
/// is 5.00–5.30 MB of UDP payload in for `gtlsclient` (QUIC's framing and
/// TLS add a few per cent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quic_download_is_counted_for_the_client() {
    if !can_run(&[
        ("gtlsserver", "ngtcp2-server"),
        ("gtlsclient", "ngtcp2-client"),
    ]) {
        return;
    }
    for file in [SNAKEOIL_KEY, SNAKEOIL_CERT] {
        let there = std::path::Path::new(file).exists();
        assert!(
            there || !required(),
            "{file} is missing (Debian package ssl-cert)"
        );
        if !there {
            println!("SKIPPED: {file} is missing (Debian package ssl-cert)");
            return;
        }
    }
    let _serial = SERIAL.lock().await;
    let size = 5_000_000usize;
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("file"), vec![0x5au8; size]).unwrap();
    let saved = tempfile::tempdir().unwrap();
    let peer = Peer::new();
    // At veth speed the client's socket buffer overflows now and then, and
    // what QUIC sends again is counted again (it did arrive).
    peer.limit_rate(200);
    let addr = peer.addr.to_string();
    let port = 4433u16;
    peer.spawn(
        "gtlsserver",
        &[
            "-q",
            "-d",
            site.path().to_str().unwrap(),
            &addr,
            &port.to_string(),
            SNAKEOIL_KEY,
            SNAKEOIL_CERT,
        ],
    );
    wait_for_udp_port(&peer, port);
    let h = start(defaults(), Duration::from_secs(2)).await;
    let url = format!("https://{addr}:{port}/file");
    let out = tokio::process::Command::new("gtlsclient")
        .args(["-q", "--exit-on-all-streams-close", "--download"])
        .arg(saved.path())
        .args([&addr, &port.to_string(), &url])
        .output()
        .await
        .expect("run gtlsclient");
    assert!(
        out.status.success(),
        "gtlsclient failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = std::fs::metadata(saved.path().join("file"))
        .map(|m| m.len())
        .unwrap_or(0);
    assert_eq!(got, size as u64, "the whole file arrived");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ticks = h.stop().await;
    let (client_in, client_out) = sum(&ticks, "gtlsclient");
    println!(
        "QUIC download of {size} B: gtlsclient in {client_in} ({:.3} MB), out {client_out}",
        client_in as f64 / 1e6
    );
    assert!(
        (5_000_000..=5_300_000).contains(&client_in),
        "gtlsclient's bytes in: {client_in}"
    );
    let (server_in, server_out) = sum(&ticks, "gtlsserver");
    assert!(
        within(server_out, client_in, 1.0) && within(server_in, client_out, 1.0),
        "the server in the namespace sent what the client got: out {server_out}, in {server_in}"
    );
}

/// 5,000,000 B over TCP from the peer with no rate limit: done in a few
/// milliseconds, well inside one interval, and counted for curl to 1 %.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_tcp_download_is_counted_for_curl() {
    if !can_run(&[("curl", "curl")]) {
        return;
    }
    let _serial = SERIAL.lock().await;
    let size = 5_000_000usize;
    let peer = Peer::new();
    let port = peer.serve(size, usize::MAX / 2);
    let h = start(defaults(), Duration::from_secs(10)).await;
    let url = format!("http://{}:{port}/", peer.addr);
    let started = std::time::Instant::now();
    let out = tokio::process::Command::new("curl")
        .args(["-q", "-sS", "--noproxy", "*", "-o", "/dev/null"])
        .args(["-w", "%{size_download} %{size_header}"])
        .arg(&url)
        .output()
        .await
        .expect("run curl");
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    let moved: u64 = said
        .split_whitespace()
        .filter_map(|n| n.parse::<u64>().ok())
        .sum();
    let ticks = h.stop().await;
    let (curl_in, _) = sum(&ticks, "curl");
    println!("5,000,000 B over TCP in {took:?}: curl received {moved} (body and header), counted {curl_in}");
    assert!(
        within(curl_in, moved, 1.0),
        "curl's bytes in: {curl_in} of {moved}"
    );
}

/// Over loopback, in this process: a 1 MiB TCP upload and 100 UDP echoes.
/// Both ends are this process, so each byte is one out and one in.
fn loopback_traffic(v6: bool) -> u64 {
    let lo: IpAddr = if v6 {
        Ipv6Addr::LOCALHOST.into()
    } else {
        Ipv4Addr::LOCALHOST.into()
    };
    let tcp = TcpListener::bind((lo, 0)).expect("bind TCP");
    let to = tcp.local_addr().expect("addr");
    let size = 1 << 20;
    let reader = std::thread::spawn(move || {
        let (mut conn, _) = tcp.accept().expect("accept");
        let mut all = Vec::new();
        conn.read_to_end(&mut all).expect("read");
        all.len()
    });
    let mut conn = TcpStream::connect(to).expect("connect");
    conn.write_all(&vec![1u8; size]).expect("write");
    drop(conn);
    assert_eq!(reader.join().expect("reader"), size);

    let echo = UdpSocket::bind((lo, 0)).expect("bind UDP");
    let echo_at = echo.local_addr().expect("addr");
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((k, from)) = echo.recv_from(&mut buf) {
            let _ = echo.send_to(&buf[..k], from);
        }
    });
    let (sent, received) = udp_echo_client(echo_at, 100, 1200);
    assert_eq!((sent, received), (120_000, 120_000));
    (size as u64) + sent + received
}

/// UDP and TCP over loopback are left out by default and counted, each
/// way, with `include_loopback`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_counts_only_when_asked() {
    if !can_run(&[]) {
        return;
    }
    let _serial = SERIAL.lock().await;
    for v6 in [false, true] {
        let h = start(defaults(), Duration::from_secs(2)).await;
        let moved = tokio::task::spawn_blocking(move || loopback_traffic(v6))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let ticks = h.stop().await;
        assert_eq!(
            sum(&ticks, &me()),
            (0, 0),
            "loopback is not the network (v6: {v6})"
        );

        let h = start(with_loopback(), Duration::from_secs(2)).await;
        let moved_again = tokio::task::spawn_blocking(move || loopback_traffic(v6))
            .await
            .unwrap();
        assert_eq!(moved, moved_again);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let ticks = h.stop().await;
        let (me_in, me_out) = sum(&ticks, &me());
        println!(
            "over loopback (v6: {v6}): moved {moved} each way; counted in {me_in}, out {me_out}"
        );
        assert!(within(me_in, moved, 1.0), "in: {me_in} of {moved}");
        assert!(within(me_out, moved, 1.0), "out: {me_out} of {moved}");
    }
}

/// Fifty processes, each living a few milliseconds and sending one datagram
/// from a socket of its own, all between two reads: every byte counted,
/// under the name the program has while it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_gone_before_the_read_are_still_counted() {
    if !can_run(&[("python3", "python3")]) {
        return;
    }
    let _serial = SERIAL.lock().await;
    let peer = Peer::new();
    let port = peer.udp_echo(peer.addr.into());
    let h = start(defaults(), Duration::from_secs(10)).await;
    let script = format!(
        "import socket\n\
         s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
         s.settimeout(2)\n\
         s.sendto(b'q'*512,('{}',{port}))\n\
         s.recvfrom(2048)\n",
        peer.addr
    );
    for _ in 0..50 {
        let ok = tokio::process::Command::new("python3")
            .args(["-c", &script])
            .status()
            .await
            .expect("run python3");
        assert!(ok.success(), "a client failed");
    }
    let ticks = h.stop().await;
    let counted: Vec<(String, (u64, u64))> = ticks
        .iter()
        .flat_map(|t| t.apps.iter().map(|a| a.app.clone()))
        .filter(|a| a.starts_with("python3"))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|a| {
            let b = sum(&ticks, &a);
            (a, b)
        })
        .collect();
    println!("50 short-lived clients, 512 B each way: {counted:?}");
    // The clients and the echo server are the same program: 25,600 B each
    // way for the clients, and as much the other way for the server.
    assert_eq!(counted.len(), 1, "one program, one app name: {counted:?}");
    let (_, (bytes_in, bytes_out)) = &counted[0];
    assert!(within(*bytes_in, 51_200, 1.0), "in: {bytes_in}");
    assert!(within(*bytes_out, 51_200, 1.0), "out: {bytes_out}");
}

/// curl's bytes to `to` over `ticks`, each way.
fn to_address(ticks: &[Tick], app: &str, to: IpAddr) -> (u64, u64) {
    ticks
        .iter()
        .flat_map(|t| t.apps.iter().filter(|a| a.app == app))
        .filter_map(|a| a.to.get(&to))
        .fold((0, 0), |(i, o), f| (i + f.bytes_in, o + f.bytes_out))
}

/// The source, counting in the kernel (checked) or polling TCP, at two
/// seconds a tick with the user's defaults.
async fn start_counting(kernel: bool) -> Harness {
    if kernel {
        return start(defaults(), Duration::from_secs(2)).await;
    }
    let cfg = LinuxConfig {
        kernel_counters: false,
        ..LinuxConfig::default()
    };
    let mut h = Harness::start(cfg, Duration::from_secs(2), defaults());
    h.watching().await;
    h
}

/// Downloads what `peer` serves on `port` with curl, to its end.
async fn curl_from(peer: &Peer, port: u16) {
    let out = tokio::process::Command::new("curl")
        .args(["-q", "-sS", "--noproxy", "*", "-o", "/dev/null"])
        .arg(format!("http://{}:{port}/", peer.addr))
        .output()
        .await
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// 40 MiB from the peer, by curl: the peer's address is curl's destination
/// with its bytes (±5 %), whether the kernel counts or TCP is polled, and
/// curl's destinations never add up to more than curl. Polled, the
/// transfer is paced over two seconds: a connection done between two polls
/// is the kernel path's to count (its process is never seen otherwise).
async fn download_names_the_peer(kernel: bool) {
    if !can_run(&[("curl", "curl")]) {
        return;
    }
    let _serial = SERIAL.lock().await;
    let size = 40 << 20;
    let peer = Peer::new();
    let rate = if kernel { usize::MAX / 2 } else { size / 2 };
    let port = peer.serve(size, rate);
    let h = start_counting(kernel).await;
    curl_from(&peer, port).await;
    // The polling path counts a connection by its counters: let it be read.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let ticks = h.stop().await;
    let (total_in, total_out) = sum(&ticks, "curl");
    let (to_in, to_out) = to_address(&ticks, "curl", IpAddr::V4(peer.addr));
    println!(
        "40 MiB ({}): curl in {total_in}, of it from {} {to_in} in, {to_out} out",
        if kernel { "kernel" } else { "polling" },
        peer.addr
    );
    assert!(
        within(to_in, size as u64, 5.0),
        "from the peer: {to_in} of {size}"
    );
    assert!(
        to_in <= total_in && to_out <= total_out,
        "destinations within the app's totals"
    );
    for t in &ticks {
        for a in &t.apps {
            let s = a.to_sum();
            assert!(
                s.bytes_in <= a.bytes_in && s.bytes_out <= a.bytes_out,
                "{a:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_names_its_peer_when_the_kernel_counts() {
    download_names_the_peer(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_names_its_peer_when_tcp_is_polled() {
    download_names_the_peer(false).await;
}

/// Two peer hosts on two links play two networks, one of them metered by
/// its owner: curl from each; each network's bytes are its peer's (±5 %),
/// and a plan of the metered networks sees 85 % of its limit used — its
/// own traffic only (every byte together would be past the limit) — and
/// warns once. Whether the kernel counts or TCP is polled (then each
/// socket's interface is its route's).
async fn two_links_are_two_networks(kernel: bool) {
    use nbi_core::network::report;
    use nbi_core::plan::{self, DataSize, PlanAlertBook, PlanConfig, PlanLevel, Plans};
    use nbi_core::store::{sqlite::SqliteStore, HostFilter, NetworkBook, TickWriter};
    use nbi_core::tick::NetworkId;

    if !can_run(&[("curl", "curl")]) {
        return;
    }
    let _serial = SERIAL.lock().await;
    let (home, hotspot) = (Peer::new(), Peer::new());
    let (home_size, hotspot_size) = (24usize << 20, 8usize << 20);
    // Polled, each transfer is paced over two seconds (see above).
    let pace = |size: usize| if kernel { usize::MAX / 2 } else { size / 2 };
    let home_port = home.serve(home_size, pace(home_size));
    let hotspot_port = hotspot.serve(hotspot_size, pace(hotspot_size));
    let h = start_counting(kernel).await;
    for (peer, port) in [(&home, home_port), (&hotspot, hotspot_port)] {
        curl_from(peer, port).await;
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    let ticks = h.stop().await;

    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
    store.write(&ticks).unwrap();
    let id = |p: &Peer| NetworkId::new(format!("if:{}", p.host_if)).unwrap();
    store
        .set_network_metered(&id(&hotspot), Some(true))
        .unwrap();
    let tz = chrono_tz::UTC;
    let day = ticks
        .first()
        .map(|t| t.at.date_naive())
        .expect("ticks were published");
    let host = HostFilter::All;
    let found = report::networks(
        &store,
        &host,
        day - chrono::Days::new(1),
        day + chrono::Days::new(1),
        tz,
    )
    .unwrap();
    let bytes_of = |p: &Peer| {
        found
            .networks
            .iter()
            .find(|n| n.id == id(p))
            .map_or(0, |n| n.bytes_in)
    };
    println!(
        "two networks ({}): {} got {} of {home_size}, {} got {} of {hotspot_size}",
        if kernel { "kernel" } else { "polling" },
        id(&home),
        bytes_of(&home),
        id(&hotspot),
        bytes_of(&hotspot)
    );
    assert!(within(bytes_of(&home), home_size as u64, 5.0), "{found:?}");
    assert!(
        within(bytes_of(&hotspot), hotspot_size as u64, 5.0),
        "{found:?}"
    );
    let metered: Vec<&NetworkId> = found
        .networks
        .iter()
        .filter(|n| n.metered)
        .map(|n| &n.id)
        .collect();
    assert_eq!(
        metered,
        vec![&id(&hotspot)],
        "only the owner's metered network"
    );

    // A plan of the metered networks, its limit such that the hotspot's
    // download is 85 % of it: a warning, not "reached" as all traffic
    // together would be.
    let limit = (hotspot_size as f64 / 0.85) as u64;
    let plans = Plans(vec![
        PlanConfig {
            name: "Phone".into(),
            limit: Some(DataSize(limit)),
            metered: true,
            billing_day: 1,
            ..PlanConfig::default()
        },
        PlanConfig {
            name: "Everything".into(),
            limit: Some(DataSize(limit)),
            ..PlanConfig::default()
        },
    ]);
    let usages = plan::usages(&store, &plans, &ticks[0].host, day, tz).unwrap();
    let phone = &usages[0];
    assert_eq!(phone.networks, vec![id(&hotspot)]);
    assert!(
        (0.80..1.0).contains(&phone.fraction()),
        "the hotspot's traffic alone: {phone:?}"
    );
    assert!(usages[1].fraction() > 1.0, "every network: {:?}", usages[1]);
    let mut sent = PlanAlertBook::default();
    assert_eq!(sent.due(phone), Some(PlanLevel::Warning));
    assert_eq!(sent.due(phone), None, "once per period");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_links_are_two_networks_when_the_kernel_counts() {
    two_links_are_two_networks(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_links_are_two_networks_when_tcp_is_polled() {
    two_links_are_two_networks(false).await;
}
