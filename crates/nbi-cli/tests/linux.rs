//! `nbi run --source linux` against real traffic on 127.0.0.1: a local HTTP
//! server in this test serves known amounts to the real `curl`.
#![cfg(target_os = "linux")]

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::*;

/// Serves `size` bytes to every connection, HTTP/1.0 style, at about
/// `rate` bytes a second (curl's own `--limit-rate` does not slow a short
/// transfer reliably).
fn serve(size: usize, rate: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            std::thread::spawn(move || {
                let mut req = [0u8; 4096];
                let _ = conn.read(&mut req);
                let head = format!(
                    "HTTP/1.0 200 OK\r\nContent-Length: {size}\r\nContent-Type: application/octet-stream\r\n\r\n"
                );
                if conn.write_all(head.as_bytes()).is_err() {
                    return;
                }
                let chunk = vec![0x5au8; 64 * 1024];
                let start = std::time::Instant::now();
                let mut sent = 0;
                while sent < size {
                    let n = (size - sent).min(chunk.len());
                    if conn.write_all(&chunk[..n]).is_err() {
                        return;
                    }
                    sent += n;
                    let due = Duration::from_secs_f64(sent as f64 / rate as f64);
                    if let Some(wait) = due.checked_sub(start.elapsed()) {
                        std::thread::sleep(wait);
                    }
                }
            });
        }
    });
    port
}

fn have_curl() -> bool {
    Command::new("curl")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn curl(port: u16) {
    let status = Command::new("curl")
        .args(["-sS", "-o", "/dev/null"])
        .arg(format!("http://127.0.0.1:{port}/"))
        .status()
        .expect("run curl");
    assert!(status.success(), "curl failed: {status}");
}

/// Runs `nbi run --source linux` around `traffic` and returns curl's stored bytes in.
fn curl_bytes_in(interval: &str, traffic: impl FnOnce()) -> u64 {
    let sb = Sandbox::new();
    let child = sb
        .cmd()
        .env("NBI_SOURCE__MIN_PID", "0")
        .args(["run", "--source", "linux", "--interval", interval])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn nbi run");
    wait_for(Duration::from_secs(20), || {
        (sb.status()["run"]["source"]["state"] == "watching").then_some(())
    })
    .expect("the linux source is watching");
    traffic();
    signal(&child, libc::SIGTERM);
    let (status, stderr) = stderr_of(child);
    assert!(status.success(), "exit {status}: {stderr}");
    let totals = sb.totals_around_today(&[]);
    totals.get("curl").map(|t| t.0).unwrap_or(0)
}

const MIB: usize = 1024 * 1024;

// One test: two `nbi run`s at once would each count the other's curl.
#[test]
fn downloads_are_stored_for_curl() {
    if !have_curl() {
        eprintln!("skipped: curl is not installed (./scripts/test installs it)");
        return;
    }
    // 50 MiB at 5 MiB/s over 2 s ticks: within 5 %.
    let size = 50 * MIB;
    let port = serve(size, 5 * MIB);
    let got = curl_bytes_in("2", || {
        curl(port);
        // Let the source see the closed connection and finish its interval.
        std::thread::sleep(Duration::from_secs(3));
    });
    let ratio = got as f64 / size as f64;
    eprintln!(
        "50 MiB download: stored {got} bytes for curl ({:.2} %)",
        ratio * 100.0
    );
    assert!(
        (0.95..=1.05).contains(&ratio),
        "stored {got} of {size} ({ratio:.3})"
    );

    // 5 MiB in about 1 s, inside one 60 s interval (stored when nbi stops):
    // a short connection between two samples still counts, at least 90 %.
    let size = 5 * MIB;
    let port = serve(size, 5 * MIB);
    let got = curl_bytes_in("60", || {
        curl(port);
        std::thread::sleep(Duration::from_millis(500));
    });
    let ratio = got as f64 / size as f64;
    eprintln!(
        "5 MiB short download: stored {got} bytes for curl ({:.2} %)",
        ratio * 100.0
    );
    assert!(
        (0.90..=1.05).contains(&ratio),
        "stored {got} of {size} ({ratio:.3})"
    );
}
