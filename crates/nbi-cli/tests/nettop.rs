//! `nbi run` with the nettop source, on Linux, through a stand-in `nettop`
//! that replays real captures.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use nbi_core::counting::CountingPolicy;
use nbi_core::source::nettop::parse::{parse_str, ParseOptions, ProcessRow};
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
    let mut totals = BTreeMap::new();
    each_counted_row(capture, k, |row| {
        let e = totals.entry(row.name.clone()).or_insert((0, 0));
        e.0 += row.bytes_in;
        e.1 += row.bytes_out;
    });
    totals.retain(|_, (i, o)| *i + *o > 0);
    totals
}

/// Hands `each` every process row of the first `k` delta blocks of a
/// capture replayed in a loop that the default counting policy counts.
fn each_counted_row(capture: &Path, k: usize, mut each: impl FnMut(&ProcessRow)) {
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
    for block in blocks.iter().cycle().take(k) {
        for row in &block.rows {
            if CountingPolicy::default().judge_name(&row.name).is_ok() {
                each(row);
            }
        }
    }
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

/// Per (app, address), the destinations of the first `k` delta blocks of a
/// capture replayed in a loop, as the default counting policy keeps them.
fn expected_destinations(capture: &Path, k: usize) -> BTreeMap<(String, String), (u64, u64)> {
    let mut out = BTreeMap::new();
    each_counted_row(capture, k, |row| {
        for (addr, f) in row.destinations() {
            let e = out
                .entry((row.name.clone(), addr.to_string()))
                .or_insert((0, 0));
            e.0 += f.bytes_in;
            e.1 += f.bytes_out;
        }
    });
    out
}

/// What `nbi destinations --json` holds around today (or `day`).
fn stored_destinations(
    sb: &Sandbox,
    from: &str,
    to: &str,
) -> BTreeMap<(String, String), (u64, u64)> {
    let out = sb.ok(&[
        "destinations",
        "--json",
        "--all-hosts",
        "--from",
        from,
        "--to",
        to,
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("destinations --json is JSON");
    let mut got = BTreeMap::new();
    for r in v["rows"].as_array().unwrap() {
        let key = (
            r["app"].as_str().unwrap().to_string(),
            r["address"].as_str().unwrap().to_string(),
        );
        let e = got.entry(key).or_insert((0, 0));
        e.0 += r["bytes_in"].as_u64().unwrap();
        e.1 += r["bytes_out"].as_u64().unwrap();
    }
    got
}

/// The socket rows of the fixture, by hand: what each destination got.
fn fixture_destinations() -> BTreeMap<(String, String), (u64, u64)> {
    [
        ("Safari", "17.253.144.10", 160_000, 8_500),
        ("Safari", "2606:4700::6810:84e5", 20_000, 2_000),
        ("Safari", "192.168.1.1", 4_000, 500),
        ("Google Chrome H", "142.250.74.110", 250_000, 30_000),
        (
            "Google Chrome H",
            "2a00:1450:4001:82b::200e",
            90_000,
            12_000,
        ),
        ("mDNSResponder", "224.0.0.251", 4_000, 1_000),
    ]
    .into_iter()
    .map(|(a, d, i, o)| ((a.to_string(), d.to_string()), (i, o)))
    .collect()
}

/// Per network, the socket rows of the first `k` delta blocks of a
/// capture replayed in a loop, each interface named as nbi names it when
/// it cannot ask the OS (a capture read back, nettop's stand-in on Linux).
fn expected_networks(capture: &Path, k: usize) -> BTreeMap<String, (u64, u64)> {
    let mut out = BTreeMap::new();
    each_counted_row(capture, k, |row| {
        let nets = row.networks(|i| nbi_core::network::by_interface_name(i).map(|s| s.id));
        for (net, f) in nets {
            let e = out.entry(net.to_string()).or_insert((0, 0));
            e.0 += f.bytes_in;
            e.1 += f.bytes_out;
        }
    });
    out
}

/// What `nbi networks --json` says of the days `from..=to`.
fn stored_networks(sb: &Sandbox, from: &str, to: &str) -> BTreeMap<String, (u64, u64)> {
    let out = sb.ok(&[
        "networks",
        "--json",
        "--all-hosts",
        "--from",
        from,
        "--to",
        to,
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("networks --json is JSON");
    v["networks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["id"].as_str().unwrap().to_string(),
                (
                    n["bytes_in"].as_u64().unwrap(),
                    n["bytes_out"].as_u64().unwrap(),
                ),
            )
        })
        .collect()
}

/// The fixture's socket rows by interface, by hand: Wi-Fi (en0) for
/// Safari, Chrome's QUIC listener and mDNS; Chrome through the VPN
/// (utun3); zoom over the carrier's cellular link (pdp_ip0). The VPN
/// client's own rows are the carrier's, left out.
fn fixture_networks() -> BTreeMap<String, (u64, u64)> {
    [
        ("if:en0", 328_000, 44_000),
        ("vpn:utun3", 250_000, 30_000),
        ("cell:pdp_ip0", 700_000, 650_000),
    ]
    .into_iter()
    .map(|(n, i, o)| (n.to_string(), (i, o)))
    .collect()
}

#[test]
fn every_door_keeps_exact_per_network_totals_of_socket_rows() {
    let capture = fixture("destinations.csv");
    assert_eq!(expected_networks(&capture, 3), fixture_networks());
    let file = capture.to_str().unwrap();
    let (from, to) = ("2026-03-01", "2026-03-03");
    // import
    let sb = Sandbox::new();
    sb.ok(&["import", file, "--date", "2026-03-02"]);
    assert_eq!(stored_networks(&sb, from, to), fixture_networks(), "import");
    // `today --network` and `history --network`: that network's apps only.
    let cell = sb.day_totals("2026-03-02", &["--all-hosts", "--network", "cell:pdp_ip0"]);
    assert_eq!(
        cell,
        [("zoom.us".to_string(), (700_000, 650_000))].into(),
        "today --network"
    );
    let h: serde_json::Value = serde_json::from_str(&sb.ok(&[
        "history",
        "--json",
        "--all-hosts",
        "--from",
        from,
        "--to",
        to,
        "--network",
        "vpn:utun3",
    ]))
    .unwrap();
    let rows = h["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{h}");
    assert_eq!(
        (&rows[0]["app"], &rows[0]["bytes_in"], &rows[0]["bytes_out"]),
        (
            &serde_json::json!("Google Chrome H"),
            &serde_json::json!(250_000),
            &serde_json::json!(30_000)
        )
    );
    // `history --by network`: each network's bytes, which here add up to
    // every byte of the day (no row for "network not known").
    let h: serde_json::Value = serde_json::from_str(&sb.ok(&[
        "history",
        "--json",
        "--all-hosts",
        "--from",
        from,
        "--to",
        to,
        "--by",
        "network",
    ]))
    .unwrap();
    let mut by_network: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for r in h["rows"].as_array().unwrap() {
        assert_eq!(r["period"], "2026-03-02");
        let key = r["network"].as_str().unwrap_or("unknown").to_string();
        by_network.insert(
            key,
            (
                r["bytes_in"].as_u64().unwrap(),
                r["bytes_out"].as_u64().unwrap(),
            ),
        );
    }
    let totals = sb.day_totals("2026-03-02", &["--all-hosts"]);
    let all = totals.values().fold((0, 0), |a, t| (a.0 + t.0, a.1 + t.1));
    let known = fixture_networks()
        .values()
        .fold((0, 0), |a, t| (a.0 + t.0, a.1 + t.1));
    assert_eq!(all, known, "every counted byte has its socket row");
    assert_eq!(by_network, fixture_networks(), "history --by network");
    // The owner names a network and says it is metered; both hold.
    sb.ok(&["networks", "name", "cell:pdp_ip0", "Phone"]);
    sb.ok(&["networks", "metered", "cell:pdp_ip0", "off"]);
    let v: serde_json::Value = serde_json::from_str(&sb.ok(&[
        "networks",
        "--json",
        "--all-hosts",
        "--from",
        from,
        "--to",
        to,
    ]))
    .unwrap();
    let cell = v["networks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == "cell:pdp_ip0")
        .unwrap();
    assert_eq!(
        (&cell["name"], &cell["metered"]),
        (&serde_json::json!("Phone"), &serde_json::json!(false))
    );
    // The sample printed at 09:02 is the minute that started at 09:01.
    assert_eq!(cell["first_seen"], "2026-03-02T09:01:00Z");
    assert_eq!(cell["last_seen"], "2026-03-02T09:02:00Z");
    // an NDJSON export imported again, and one network's export alone
    let out = sb.path("export.ndjson");
    sb.ok(&[
        "export",
        "--from",
        from,
        "--to",
        to,
        "--format",
        "ndjson",
        "--out",
        out.to_str().unwrap(),
    ]);
    let again = Sandbox::new();
    again.ok(&["import", out.to_str().unwrap()]);
    assert_eq!(
        stored_networks(&again, from, to),
        fixture_networks(),
        "export, import"
    );
    let csv = sb.ok(&["export", "--from", from, "--to", to, "--network", "if:en0"]);
    let mut en0 = (0u64, 0u64);
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        en0.0 += f[f.len() - 2].parse::<u64>().unwrap();
        en0.1 += f[f.len() - 1].parse::<u64>().unwrap();
    }
    assert_eq!(en0, fixture_networks()["if:en0"], "export --network");
    // replay
    let sb = Sandbox::new();
    sb.ok(&["replay", file, "--speed", "0", "--date", "2026-03-02"]);
    assert_eq!(stored_networks(&sb, from, to), fixture_networks(), "replay");
}

#[test]
fn import_and_replay_of_socket_rows_keep_exact_destinations() {
    let capture = fixture("destinations.csv");
    assert_eq!(expected_destinations(&capture, 3), fixture_destinations());
    // import
    let sb = Sandbox::new();
    let file = capture.to_str().unwrap();
    sb.ok(&["import", file, "--date", "2026-03-02"]);
    assert_eq!(
        stored_destinations(&sb, "2026-03-01", "2026-03-03"),
        fixture_destinations(),
        "import: unconnected sockets (*:*) and the carrier's tunnel are no destination"
    );
    let totals = sb.day_totals("2026-03-02", &["--all-hosts"]);
    assert_eq!(
        totals.get("Safari"),
        Some(&(184_000, 11_000)),
        "totals as the process rows say"
    );
    assert_eq!(
        totals.get("zoom.us"),
        Some(&(700_000, 650_000)),
        "an app with no remote end"
    );
    assert!(!totals.contains_key("vpnagentd"), "the carrier is left out");
    // Reverse DNS names found beside a run are shown; off, none are.
    std::fs::write(
        sb.path("nbi.sqlite.names.json"),
        r#"{"names":{"17.253.144.10":{"name":"edge-1.example.net","at":4102444800}}}"#,
    )
    .unwrap();
    let host_of = |out: String| -> Vec<Option<String>> {
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["address"] == "17.253.144.10")
            .map(|r| r["host"].as_str().map(str::to_string))
            .collect()
    };
    let args = [
        "destinations",
        "--json",
        "--all-hosts",
        "--from",
        "2026-03-02",
        "--to",
        "2026-03-02",
    ];
    assert_eq!(
        host_of(sb.ok(&args)),
        vec![Some("edge-1.example.net".to_string())]
    );
    let off = succeed(
        sb.cmd()
            .env("NBI_DESTINATIONS__REVERSE_DNS", "false")
            .args(args),
    );
    assert_eq!(host_of(off), vec![None]);
    // an NDJSON export imported again gives the same destinations
    let out = sb.path("export.ndjson");
    sb.ok(&[
        "export",
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-03",
        "--format",
        "ndjson",
        "--out",
        out.to_str().unwrap(),
    ]);
    let again = Sandbox::new();
    again.ok(&["import", out.to_str().unwrap()]);
    assert_eq!(
        stored_destinations(&again, "2026-03-01", "2026-03-03"),
        fixture_destinations()
    );
    // replay
    let sb = Sandbox::new();
    sb.ok(&["replay", file, "--speed", "0", "--date", "2026-03-02"]);
    assert_eq!(
        stored_destinations(&sb, "2026-03-01", "2026-03-03"),
        fixture_destinations(),
        "replay"
    );
}

#[test]
fn run_keeps_exactly_the_destinations_of_the_socket_rows() {
    let capture = fixture("destinations.csv");
    let sb = Sandbox::new();
    let child = spawn_run(&sb, &capture, &[("NBI_FAKE_NETTOP_SPEEDUP", "4")]);
    wait_for(Duration::from_secs(30), || {
        (sb.status()["store"]["ticks"].as_u64().unwrap_or(0) >= 5).then_some(())
    })
    .expect("no ticks stored");
    signal(&child, libc::SIGTERM);
    let (status, stderr) = stderr_of(child);
    assert!(status.success(), "exit {status}: {stderr}");
    let k = sb.status()["store"]["ticks"].as_u64().unwrap() as usize;
    let today = chrono::Utc::now().date_naive();
    let (from, to) = (today.pred_opt().unwrap(), today.succ_opt().unwrap());
    assert_eq!(
        stored_destinations(&sb, &from.to_string(), &to.to_string()),
        expected_destinations(&capture, k),
        "{k} ticks hold exactly the destinations of the first {k} delta blocks"
    );
    assert_eq!(stored_totals(&sb), expected_totals(&capture, k));
    assert_eq!(
        stored_networks(&sb, &from.to_string(), &to.to_string()),
        expected_networks(&capture, k),
        "{k} ticks hold exactly the networks of the first {k} delta blocks"
    );
}
