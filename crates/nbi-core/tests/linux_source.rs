//! The Linux source against real traffic: a local HTTP server in this test
//! process, the real `curl` as the client, 127.0.0.1 only. The bytes found
//! attributed to the app `curl` are checked against what was transferred.
#![cfg(target_os = "linux")]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nbi_core::counting::{CountingPolicy, SystemProcesses};
use nbi_core::source::linux::{capabilities, CaptureMode, LinuxConfig, LinuxSource};
use nbi_core::source::{SourceError, SourceState};
use nbi_core::Tick;

mod support;
use support::linux::{me, pct, per_tick, sum, Harness};

const MIB: u64 = 1024 * 1024;

/// The tests share this process (the server's app) and the app `curl`: one
/// at a time, so no test sees another's traffic.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn have_curl() -> bool {
    let ok = std::process::Command::new("curl")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        println!("SKIPPED: `curl` is not installed (Debian package curl); these tests drive the real curl");
    }
    ok
}

// ---------------------------------------------------------------- server

/// A tiny HTTP/1.1 server on 127.0.0.1: `GET /bytes/N` sends N bytes, a PUT
/// or POST body is read and counted; `?rate=R` paces either to R bytes/s, so
/// that a transfer lasts as long as intended (curl's own `--limit-rate` lets
/// a few MiB through in milliseconds on loopback).
struct Server {
    port: u16,
    uploaded: Arc<AtomicU64>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let uploaded = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&uploaded);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let counter = Arc::clone(&counter);
                std::thread::spawn(move || {
                    let _ = serve(stream, &counter);
                });
            }
        });
        Server { port, uploaded }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// Sleeps until `done` bytes are due at `rate` bytes/s since `started`.
fn pace(started: Instant, done: u64, rate: Option<u64>) {
    if let Some(rate) = rate {
        let due = started + Duration::from_secs_f64(done as f64 / rate as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
}

fn serve(stream: TcpStream, uploaded: &AtomicU64) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    let mut content_length = 0u64;
    let mut expect_continue = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            content_length = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("expect:") && lower.contains("100-continue") {
            expect_continue = true;
        }
    }
    let mut out = stream;
    let mut parts = request.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let rate: Option<u64> = query.strip_prefix("rate=").and_then(|r| r.parse().ok());
    let chunk = 64 * 1024;
    let started = Instant::now();
    if method == "GET" {
        let n: u64 = path
            .strip_prefix("/bytes/")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        write!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Length: {n}\r\nConnection: close\r\n\r\n"
        )?;
        let body = vec![b'x'; chunk];
        let mut sent = 0;
        while sent < n {
            let k = (n - sent).min(chunk as u64);
            out.write_all(&body[..k as usize])?;
            sent += k;
            pace(started, sent, rate);
        }
    } else {
        if expect_continue {
            out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        let mut buf = vec![0u8; chunk];
        let mut got = 0;
        while got < content_length {
            let want = (content_length - got).min(chunk as u64) as usize;
            let k = reader.read(&mut buf[..want])?;
            if k == 0 {
                break;
            }
            uploaded.fetch_add(k as u64, Ordering::Relaxed);
            got += k as u64;
            pace(started, got, rate);
        }
        out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")?;
    }
    out.flush()
}

// ---------------------------------------------------------------- client

/// Runs the real curl against 127.0.0.1 (proxies and ~/.curlrc ignored);
/// returns curl's own count of bytes moved and how long it took.
async fn curl(args: &[&str], url: &str, count: &str) -> (u64, Duration) {
    let started = Instant::now();
    let out = tokio::process::Command::new("curl")
        .arg("-q")
        .args(["-sS", "--noproxy", "*", "-o", "/dev/null", "-w", count])
        .args(args)
        .arg(url)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let moved = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse::<f64>()
        .unwrap() as u64;
    (moved, started.elapsed())
}

/// Downloads `n` bytes; with `rate` (bytes/s) both curl (`--limit-rate`)
/// and the server hold the transfer to that speed.
async fn download(server: &Server, n: u64, rate: Option<u64>) -> (u64, Duration) {
    let limit = rate.map(|r| r.to_string());
    let mut args = vec![];
    let mut path = format!("/bytes/{n}");
    if let Some(r) = &limit {
        args.extend(["--limit-rate", r.as_str()]);
        path.push_str(&format!("?rate={r}"));
    }
    let got = curl(&args, &server.url(&path), "%{size_download}").await;
    assert_eq!(got.0, n, "curl did not receive the whole body");
    got
}

fn poll_only() -> LinuxConfig {
    LinuxConfig {
        destroy_events: false,
        kernel_counters: false,
        ..LinuxConfig::default()
    }
}

fn check_ticks_are_well_formed(ticks: &[Tick], interval_s: u32) {
    for w in ticks.windows(2) {
        assert!(w[0].at < w[1].at, "tick times must increase: {ticks:?}");
    }
    for t in ticks {
        assert_eq!(t.host, "test");
        assert!(t.interval_s >= 1 && t.interval_s <= interval_s + interval_s / 2);
    }
}

// ---------------------------------------------------------------- tests

#[test]
fn capabilities_match_the_privileges() {
    let caps = capabilities();
    println!("capabilities: {caps:?}, mode: {}", caps.mode());
    assert!(
        caps.sock_diag,
        "sock_diag must work on any Linux this runs on"
    );
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        assert!(caps.all_processes, "root reads every fd table");
        assert_eq!(caps.mode(), CaptureMode::PollingWithDestroyEvents);
    }
    let src = LinuxSource::new(poll_only());
    assert_ne!(src.fallback_mode(), CaptureMode::PollingWithDestroyEvents);
}

/// 50 MiB at 5 MiB/s (≈ 10 s) over 2-second ticks: the sum over the ticks
/// is the download, within 5 %.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_download_is_counted_across_ticks() {
    if !have_curl() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let server = Server::start();
    let mut h = Harness::start(
        LinuxConfig::default(),
        Duration::from_secs(2),
        CountingPolicy::count_everything(),
    );
    h.watching().await;
    let size = 50 * MIB;
    let (_, took) = download(&server, size, Some(5 * MIB)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ticks = h.stop().await;
    check_ticks_are_well_formed(&ticks, 2);

    let (curl_in, _) = sum(&ticks, "curl");
    let (_, server_out) = sum(&ticks, &me());
    let spread = per_tick(&ticks, "curl")
        .iter()
        .filter(|(i, _)| *i > 0)
        .count();
    println!(
        "50 MiB in {took:?}: curl in {curl_in} ({:.2} %), server out {server_out} ({:.2} %), over {spread} ticks",
        pct(curl_in, size),
        pct(server_out, size)
    );
    assert!(
        (pct(curl_in, size) - 100.0).abs() <= 5.0,
        "curl's bytes in: {curl_in} of {size}"
    );
    assert!(
        (pct(server_out, size) - 100.0).abs() <= 5.0,
        "the server's bytes out must match what curl received: {server_out}"
    );
    assert!(
        spread >= 3,
        "a 10 s download over 2 s ticks spans several ticks: {spread}"
    );
}

/// A 5 MiB download of about one second that starts after one sample and
/// ends before the next (10-second ticks) is still counted. The server sends
/// at 5 MiB/s; with `curl_limit`, curl also reads at `--limit-rate 5M`,
/// otherwise it closes the connection the moment the last byte arrives (the
/// hard case without destroy notifications). Returns the percentage counted.
async fn short_download_between_ticks(cfg: LinuxConfig, label: &str, curl_limit: bool) -> f64 {
    let server = Server::start();
    let interval = Duration::from_secs(10);
    let mut h = Harness::start(cfg, interval, CountingPolicy::count_everything());
    h.watching().await;
    let size = 5 * MIB;
    let rate = 5 * MIB;
    let started = Instant::now();
    let (_, took) = if curl_limit {
        download(&server, size, Some(rate)).await
    } else {
        let url = server.url(&format!("/bytes/{size}?rate={rate}"));
        curl(&[], &url, "%{size_download}").await
    };
    let tick = h.next_tick(interval + Duration::from_secs(5)).await;
    assert!(
        took > Duration::from_millis(800) && started.elapsed() > took + Duration::from_millis(500),
        "the download must take about a second and end well before the tick that reports it ({took:?})"
    );
    let ticks = h.stop().await;
    check_ticks_are_well_formed(&ticks, 10);
    let (in_first, _) = per_tick(std::slice::from_ref(&tick), "curl")[0];
    let (curl_in, _) = sum(&ticks, "curl");
    let (_, server_out) = sum(&ticks, &me());
    println!(
        "{label}: 5 MiB in {took:?}: curl in {curl_in} ({:.2} %), server out {server_out} ({:.2} %), {in_first} in the first tick",
        pct(curl_in, size),
        pct(server_out, size),
    );
    assert_eq!(
        curl_in, in_first,
        "everything lands in the tick the download happened in"
    );
    assert!(
        curl_in <= size + size / 20 && server_out <= size + size / 20,
        "counted more than was sent: {curl_in}, {server_out}"
    );
    pct(curl_in, size)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_download_between_ticks_is_counted() {
    if !have_curl() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let pct = short_download_between_ticks(LinuxConfig::default(), "default mode", true).await;
    assert!(pct >= 90.0, "counted {pct:.2} % of a short download");
}

/// Without destroy notifications (a user without CAP_NET_ADMIN), what a
/// connection moves after the last poll that saw it is lost; polls come
/// five times faster while data moves, which keeps that under 10 % here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_download_between_ticks_is_counted_by_polling_alone() {
    if !have_curl() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let pct = short_download_between_ticks(poll_only(), "poll only", false).await;
    assert!(
        pct >= 90.0,
        "polling alone counted {pct:.2} % of a short download"
    );
}

/// An upload is bytes out for curl and bytes in for the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_is_counted_as_bytes_out() {
    if !have_curl() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let server = Server::start();
    let size = 4 * MIB;
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), vec![b'u'; size as usize]).unwrap();
    let mut h = Harness::start(
        LinuxConfig::default(),
        Duration::from_secs(2),
        CountingPolicy::count_everything(),
    );
    h.watching().await;
    let path = file.path().to_str().unwrap().to_string();
    let rate = (2 * MIB).to_string();
    let (sent, took) = curl(
        &["--limit-rate", &rate, "-T", &path],
        &server.url(&format!("/upload?rate={rate}")),
        "%{size_upload}",
    )
    .await;
    assert_eq!(sent, size);
    assert_eq!(server.uploaded.load(Ordering::Relaxed), size);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ticks = h.stop().await;
    let (curl_in, curl_out) = sum(&ticks, "curl");
    let (server_in, _) = sum(&ticks, &me());
    println!(
        "upload 4 MiB at 2 MiB/s in {took:?}: curl out {curl_out} ({:.2} %), server in {server_in}, curl in {curl_in}",
        pct(curl_out, size)
    );
    assert!(
        (pct(curl_out, size) - 100.0).abs() <= 5.0,
        "curl's bytes out: {curl_out}"
    );
    assert!(
        (pct(server_in, size) - 100.0).abs() <= 5.0,
        "server in: {server_in}"
    );
    assert!(
        curl_in < 64 * 1024,
        "an upload is not a download: {curl_in}"
    );
}

/// The policy sees raw process names: excluding `curl` leaves the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filtered_processes_are_left_out() {
    if !have_curl() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let server = Server::start();
    // The server here is on loopback: count it, leave curl out by name.
    let counting = CountingPolicy::new(
        true,
        SystemProcesses::Count,
        std::iter::empty::<&str>(),
        ["curl"],
    );
    let mut h = Harness::start(LinuxConfig::default(), Duration::from_secs(1), counting);
    h.watching().await;
    download(&server, 2 * MIB, Some(4 * MIB)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ticks = h.stop().await;
    let apps: BTreeMap<_, _> = ticks
        .iter()
        .flat_map(|t| t.apps.iter().map(|a| (a.app.clone(), a.bytes_out)))
        .collect();
    assert!(!apps.contains_key("curl"), "curl is excluded: {apps:?}");
    let (_, server_out) = sum(&ticks, &me());
    assert!(
        server_out >= 2 * MIB,
        "the server is still counted: {server_out}"
    );
}

/// Stopping publishes the partial interval: nothing counted is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_publishes_the_partial_interval() {
    if !have_curl() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let server = Server::start();
    let mut h = Harness::start(
        LinuxConfig::default(),
        Duration::from_secs(60),
        CountingPolicy::count_everything(),
    );
    h.watching().await;
    let size = 3 * MIB;
    download(&server, size, Some(6 * MIB)).await;
    let ticks = h.stop().await;
    assert_eq!(ticks.len(), 1, "one partial tick: {ticks:?}");
    assert!(
        ticks[0].interval_s < 60,
        "it says it is partial: {}",
        ticks[0].interval_s
    );
    let (curl_in, _) = sum(&ticks, "curl");
    assert!(pct(curl_in, size) >= 95.0, "curl in: {curl_in}");
}

/// A connection that opens and closes between two polls is never seen in the
/// socket table, so its process is unknown; with destroy notifications its
/// bytes are still counted, under the configured name for unknown traffic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_shorter_than_a_poll_is_counted_as_unattributed() {
    if !have_curl() {
        return;
    }
    if !capabilities().destroy_events {
        println!("SKIPPED: needs TCP destroy notifications (CAP_NET_ADMIN)");
        return;
    }
    let _serial = SERIAL.lock().await;
    let server = Server::start();
    // The TCP path: the kernel-side counters would attribute it to curl.
    let cfg = LinuxConfig {
        poll: Duration::from_secs(2),
        unattributed_app: Some("(unknown)".to_string()),
        kernel_counters: false,
        ..LinuxConfig::default()
    };
    let mut h = Harness::start(
        cfg,
        Duration::from_secs(30),
        CountingPolicy::count_everything(),
    );
    h.watching().await;
    // Past the first poll after the baseline, which sets unknown sockets aside.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let size = 5 * MIB;
    let (_, took) = download(&server, size, None).await;
    let ticks = h.stop().await;
    let (curl_in, _) = sum(&ticks, "curl");
    let (unknown_in, unknown_out) = sum(&ticks, "(unknown)");
    let (_, server_out) = sum(&ticks, &me());
    println!(
        "5 MiB in {took:?} with 2 s polls: curl in {curl_in}, unknown in {unknown_in} out {unknown_out}, server out {server_out}"
    );
    assert!(
        took < Duration::from_secs(2),
        "the download should be faster than a poll: {took:?}"
    );
    let seen_in = curl_in + unknown_in;
    let seen_out = server_out + unknown_out;
    assert!(
        (pct(seen_in, size) - 100.0).abs() <= 5.0,
        "received bytes: {seen_in}"
    );
    assert!(
        (pct(seen_out, size) - 100.0).abs() <= 5.0,
        "sent bytes: {seen_out}"
    );
}

/// A bus that is gone ends the source with an error instead of counting
/// into the void.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_bus_stops_the_source_with_an_error() {
    let h = Harness::start(
        LinuxConfig::default(),
        Duration::from_secs(1),
        CountingPolicy::count_everything(),
    );
    let Harness {
        rx, status, task, ..
    } = h;
    drop(rx);
    let ended = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the source kept running without a bus")
        .unwrap();
    assert!(
        matches!(ended, Err(SourceError::Bus(_))),
        "expected a bus error, got {ended:?}"
    );
    assert_eq!(status.borrow().state, SourceState::Stopped);
}
