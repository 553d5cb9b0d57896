//! `nbi run --source linux` against real traffic: the real `curl`
//! downloads known amounts from a peer host in a network namespace this test
//! makes (the network), and from a server on 127.0.0.1 (loopback, left out
//! unless `source.include_loopback`).
#![cfg(target_os = "linux")]

mod support;

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::netns::{self, Peer};
use support::*;

fn have_curl() -> bool {
    Command::new("curl")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn curl(url: &str) {
    let status = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", url])
        .status()
        .expect("run curl");
    assert!(status.success(), "curl {url} failed: {status}");
}

/// A paced server of `size` bytes on 127.0.0.1; its URL.
fn serve_loopback(size: usize, rate: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || netns::serve_paced(listener, size, rate));
    format!("http://127.0.0.1:{port}/")
}

/// Runs `nbi run --source linux` around `traffic` and returns curl's stored bytes in.
fn curl_bytes_in(interval: &str, env: &[(&str, &str)], traffic: impl FnOnce()) -> u64 {
    run_around(&Sandbox::new(), None, interval, env, traffic).0
}

/// What a run said about itself once it was watching, and what it logged.
struct Said {
    status: serde_json::Value,
    /// `nbi status` while it ran.
    text: String,
    stderr: String,
}

/// Runs `nbi run --source linux` (through `wrapper`, if any) around
/// `traffic`; curl's stored bytes in, and what the run said.
fn run_around(
    sb: &Sandbox,
    wrapper: Option<&[&str]>,
    interval: &str,
    env: &[(&str, &str)],
    traffic: impl FnOnce(),
) -> (u64, Said) {
    let mut cmd = match wrapper {
        Some(w) => sb.cmd_via(w),
        None => sb.cmd(),
    };
    let child = cmd
        .envs(env.iter().copied())
        .args(["run", "--source", "linux", "--interval", interval])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn nbi run");
    let watching = wait_for(Duration::from_secs(20), || {
        let s = sb.status();
        (s["run"]["source"]["state"] == "watching").then_some(s)
    })
    .expect("the linux source is watching");
    let text = sb.ok(&["status"]);
    traffic();
    signal(&child, libc::SIGTERM);
    let (status, stderr) = stderr_of(child);
    assert!(status.success(), "exit {status}: {stderr}");
    let totals = sb.totals_around_today(&[]);
    let said = Said {
        status: watching,
        text,
        stderr,
    };
    (totals.get("curl").map(|t| t.0).unwrap_or(0), said)
}

fn have_capsh() -> bool {
    Command::new("capsh")
        .arg("--print")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

const MIB: usize = 1024 * 1024;

fn ratio_of(got: u64, size: usize, what: &str) -> f64 {
    let ratio = got as f64 / size as f64;
    eprintln!(
        "{what}: stored {got} bytes for curl ({:.2} %)",
        ratio * 100.0
    );
    ratio
}

// One test: two `nbi run`s at once would each count the other's curl.
#[test]
fn downloads_are_stored_for_curl_and_loopback_only_when_asked() {
    if !have_curl() {
        eprintln!("skipped: curl is not installed (./scripts/test installs it)");
        return;
    }
    if let Err(why) = netns::available() {
        eprintln!("skipped: {why}");
        return;
    }
    let peer = Peer::new();

    // 40 MiB at 8 MiB/s from the peer over 2 s ticks: within 5 %.
    let size = 40 * MIB;
    let url = format!("http://{}:{}/", peer.addr, peer.serve(size, 8 * MIB));
    let got = curl_bytes_in("2", &[], || {
        curl(&url);
        // Let the source see the closed connection and finish its interval.
        std::thread::sleep(Duration::from_secs(3));
    });
    let ratio = ratio_of(got, size, "40 MiB from a peer host");
    assert!(
        (0.95..=1.05).contains(&ratio),
        "stored {got} of {size} ({ratio:.3})"
    );

    // 5 MiB in about 1 s, inside one 60 s interval (stored when nbi stops):
    // a short connection between two samples still counts, at least 90 %.
    let size = 5 * MIB;
    let url = format!("http://{}:{}/", peer.addr, peer.serve(size, 5 * MIB));
    let got = curl_bytes_in("60", &[], || {
        curl(&url);
        std::thread::sleep(Duration::from_millis(500));
    });
    let ratio = ratio_of(got, size, "5 MiB short download from a peer host");
    assert!(
        (0.90..=1.05).contains(&ratio),
        "stored {got} of {size} ({ratio:.3})"
    );

    // 50 MiB from 127.0.0.1: nothing by default, all of it when loopback counts.
    let size = 50 * MIB;
    let url = serve_loopback(size, 25 * MIB);
    let got = curl_bytes_in("2", &[], || {
        curl(&url);
        std::thread::sleep(Duration::from_secs(3));
    });
    ratio_of(got, size, "50 MiB over loopback, by default");
    assert_eq!(got, 0, "loopback is not the network");
    let got = curl_bytes_in("2", &[("NBI_SOURCE__INCLUDE_LOOPBACK", "true")], || {
        curl(&url);
        std::thread::sleep(Duration::from_secs(3));
    });
    let ratio = ratio_of(got, size, "50 MiB over loopback, include_loopback = true");
    assert!(
        (0.95..=1.05).contains(&ratio),
        "stored {got} of {size} ({ratio:.3})"
    );

    // Without the capabilities eBPF needs (capsh drops them from the
    // bounding set; root keeps the rest), the source falls back to TCP's
    // counters, says so in its log and its status, and still counts.
    assert!(
        have_capsh() || std::env::var("NBI_TEST_REQUIRE_SERVICES").as_deref() != Ok("1"),
        "capsh is missing (Debian package libcap2-bin)"
    );
    if !have_capsh() {
        eprintln!("skipped the fallback: capsh is not installed (Debian package libcap2-bin)");
        return;
    }
    let size = 8 * MIB;
    let url = format!("http://{}:{}/", peer.addr, peer.serve(size, 8 * MIB));
    let capsh = [
        "capsh",
        "--drop=cap_bpf,cap_perfmon,cap_sys_admin",
        "--",
        "-c",
        "exec \"$0\" \"$@\"",
    ];
    let sb = Sandbox::new();
    let (got, said) = run_around(&sb, Some(&capsh), "2", &[], || {
        curl(&url);
        std::thread::sleep(Duration::from_secs(3));
    });
    let source = &said.status["run"]["source"];
    eprintln!("without the capabilities: {source}");
    assert_eq!(source["mode"], "polling-with-destroy-events", "{source}");
    let note = source["mode_note"].as_str().unwrap_or_default();
    assert!(
        note.starts_with("counting TCP only:") && note.contains("cap_bpf"),
        "the status says why: {note:?}"
    );
    assert!(
        said.stderr.contains("counting TCP only"),
        "the log says so: {}",
        said.stderr
    );
    assert!(
        said.text.contains("mode: polling-with-destroy-events")
            && said.text.contains("counting TCP only"),
        "`nbi status`: {}",
        said.text
    );
    let ratio = ratio_of(got, size, "8 MiB from a peer host, TCP only");
    assert!(
        (0.95..=1.05).contains(&ratio),
        "stored {got} of {size} ({ratio:.3})"
    );
}
