//! `nbi run` with the nettop source, on Linux, through a stand-in `nettop`
//! that replays real captures.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use nbi_core::counting::CountingPolicy;
use nbi_core::source::nettop::parse::{parse_str, ParseOptions};
use support::*;

fn stand_in() -> PathBuf {
    repo_root().join("crates/nbi-core/tests/support/bin/nettop")
}

fn fixture(name: &str) -> PathBuf {
    repo_root()
        .join("crates/nbi-core/tests/fixtures/nettop")
        .join(name)
}

/// `nbi run --source nettop` on the stand-in replaying `capture`.
fn spawn_run(sb: &Sandbox, capture: &Path, envs: &[(&str, &str)]) -> Child {
    let mut cmd = sb.cmd();
    cmd.env("NBI_SOURCE__NETTOP", stand_in())
        .env("NBI_SOURCE__MIN_PID", "0")
        .env("NBI_FAKE_NETTOP_CAPTURE", capture);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.args(["run", "--source", "nettop", "--interval", "1"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn nbi run")
}

/// Totals of the first `k` delta blocks of a capture replayed in a loop,
/// left out as the default counting policy leaves them out.
fn expected_totals(capture: &Path, k: usize) -> BTreeMap<String, (u64, u64)> {
    let text = std::fs::read_to_string(capture).unwrap();
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("SOURCE:") && !l.starts_with("NOTE:"))
        .map(|l| format!("{l}\n"))
        .collect();
    let (blocks, errors) = parse_str(
        &text,
        ParseOptions {
            drop_first_block: true,
        },
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert!(!blocks.is_empty());
    let mut totals = BTreeMap::new();
    for block in blocks.iter().cycle().take(k) {
        for row in &block.rows {
            if CountingPolicy::default().judge_name(&row.name).is_err() {
                continue;
            }
            let e = totals.entry(row.name.clone()).or_insert((0, 0));
            e.0 += row.bytes_in;
            e.1 += row.bytes_out;
        }
    }
    totals.retain(|_, (i, o)| *i + *o > 0);
    totals
}

/// Everything stored, over all days (stamps of a sped-up replay may run ahead).
fn stored_totals(sb: &Sandbox) -> BTreeMap<String, (u64, u64)> {
    sb.totals_around_today(&[])
}

fn replay_and_check(capture: &Path) {
    let sb = Sandbox::new();
    let child = spawn_run(&sb, capture, &[("NBI_FAKE_NETTOP_SPEEDUP", "4")]);
    wait_for(Duration::from_secs(30), || {
        (sb.status()["store"]["ticks"].as_u64().unwrap_or(0) >= 8).then_some(())
    })
    .unwrap_or_else(|| panic!("no ticks stored from {}", capture.display()));
    signal(&child, libc::SIGTERM);
    let (status, stderr) = stderr_of(child);
    assert!(status.success(), "exit {status}: {stderr}");
    let k = sb.status()["store"]["ticks"].as_u64().unwrap() as usize;
    assert_eq!(
        stored_totals(&sb),
        expected_totals(capture, k),
        "{}: {k} ticks should hold exactly the first {k} delta blocks",
        capture.display()
    );
}

#[test]
fn run_stores_exactly_the_delta_blocks_of_a_replayed_capture() {
    replay_and_check(&fixture("source-replay.csv"));
}

#[test]
fn run_stores_exactly_the_delta_blocks_of_the_real_corpus() {
    let dir = std::env::var_os("NBI_CORPUS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/corpus/nettop"));
    // The -d captures with more than one delta block.
    let capture = dir.join("01-neticle-P-d-x-J-L3.csv");
    if !capture.exists() {
        eprintln!("skipped: corpus not found at {}", dir.display());
        return;
    }
    replay_and_check(&capture);
}

#[cfg(target_os = "linux")]
#[test]
fn kill_9_of_nbi_run_leaves_no_nettop() {
    let sb = Sandbox::new();
    // A slow replay: after its first sample the stand-in waits a minute, so
    // only our death can end it (it would die of SIGPIPE at its next write).
    let child = sb
        .cmd()
        .env("NBI_SOURCE__NETTOP", stand_in())
        .env("NBI_FAKE_NETTOP_CAPTURE", fixture("source-replay.csv"))
        .args(["run", "--source", "nettop", "--interval", "60"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let nettop = wait_for(Duration::from_secs(20), || {
        children(child.id()).into_iter().find(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.contains("nettop"))
        })
    })
    .expect("nbi run started nettop");
    assert!(pid_alive(nettop));
    signal(&child, libc::SIGKILL);
    let mut child = child;
    let _ = child.wait();
    let gone = wait_for(Duration::from_secs(10), || {
        (!pid_alive(nettop)).then_some(())
    });
    assert!(
        gone.is_some(),
        "nettop {nettop} outlived a kill -9 of nbi run"
    );
}

/// Runs the stand-in in a failure `mode`: the source must show as failing
/// with a restart in its reason, and SIGTERM must still exit 0.
fn failing_nettop_is_restarted(mode: &str) {
    let sb = Sandbox::new();
    let child = spawn_run(
        &sb,
        &fixture("source-replay.csv"),
        &[("NBI_FAKE_NETTOP_MODE", mode)],
    );
    let reason = wait_for(Duration::from_secs(30), || {
        let s = sb.status();
        (s["run"]["source"]["state"] == "failing").then(|| {
            s["run"]["source"]["reason"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
    })
    .unwrap_or_else(|| panic!("{mode}: the source never reported failing"));
    assert!(reason.contains("restart"), "{mode}: {reason}");
    let human = sb.ok(&["status"]);
    assert!(human.contains("not watching"), "{human}");
    signal(&child, libc::SIGTERM);
    let (status, stderr) = stderr_of(child);
    assert!(status.success(), "{mode}: exit {status}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_nettop_that_exits_at_once_shows_as_failing_and_sigterm_still_exits_zero() {
    failing_nettop_is_restarted("exit");
}

#[test]
fn a_hung_nettop_is_restarted() {
    failing_nettop_is_restarted("hang");
}

#[test]
fn a_nettop_printing_garbage_is_restarted() {
    failing_nettop_is_restarted("garbage");
}
