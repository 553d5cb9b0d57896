//! One file, four ways in — `run --source replay`, `replay`, `import` and
//! `watch | collect` — and the same totals from each: one counting policy
//! wherever ticks enter.

mod support;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};

use support::*;

type Totals = BTreeMap<String, (u64, u64)>;

/// Messages that meet every counting rule a file can meet: a tunnel
/// carrier (in full and in nettop's cut form), an excluded name, a name
/// with a trailing space, a redelivered message, two machines writing as
/// host "default" in the same second, and the hour a fall-back repeats
/// (Europe/Berlin, 25 Oct 2026) in naive local time.
const FILE: &str = r#"{"schema":1,"host":"laptop","timestamp":"2026-10-24T10:00:00Z","interval_s":60,"app_usage":{"Slack":{"in":1000,"out":100},"vpnagentd":{"in":5000,"out":5000},"Mail ":{"in":10,"out":1},"Mail":{"in":5,"out":1}}}
{"schema":1,"host":"laptop","timestamp":"2026-10-24T10:01:00Z","interval_s":60,"app_usage":{"WireGuardNetwor":{"in":9999,"out":9999},"Dropbox":{"in":77,"out":7},"Slack":{"in":1,"out":1}}}
{"schema":1,"host":"laptop","timestamp":"2026-10-24T10:00:00Z","interval_s":60,"app_usage":{"Slack":{"in":1000,"out":100},"vpnagentd":{"in":5000,"out":5000},"Mail ":{"in":10,"out":1},"Mail":{"in":5,"out":1}}}
{"timestamp": "2026-10-24T12:00:00", "app_usage": {"Zoom": {"in": 300, "out": 30}}}
{"timestamp": "2026-10-24T12:00:00", "app_usage": {"Zoom": {"in": 400, "out": 40}}}
{"timestamp": "2026-10-25T01:59:00", "app_usage": {"Spotify": {"in": 1, "out": 1}}}
{"timestamp": "2026-10-25T02:30:00", "app_usage": {"Spotify": {"in": 100, "out": 10}}}
{"timestamp": "2026-10-25T02:59:00", "app_usage": {"Spotify": {"in": 3, "out": 3}}}
{"timestamp": "2026-10-25T02:00:00", "app_usage": {"Spotify": {"in": 4, "out": 4}}}
{"timestamp": "2026-10-25T02:30:00", "app_usage": {"Spotify": {"in": 200, "out": 20}}}
{"timestamp": "2026-10-25T03:00:00", "app_usage": {"Spotify": {"in": 5, "out": 5}}}
"#;

/// What every way in must store, per (host, local day).
fn expected() -> BTreeMap<(&'static str, &'static str), Totals> {
    let t = |v: &[(&str, u64, u64)]| -> Totals {
        v.iter()
            .map(|(a, i, o)| (a.to_string(), (*i, *o)))
            .collect()
    };
    BTreeMap::from([
        (
            ("laptop", "2026-10-24"),
            t(&[("Slack", 1001, 101), ("Mail", 15, 2)]),
        ),
        (("laptop", "2026-10-25"), t(&[])),
        (("default", "2026-10-24"), t(&[("Zoom", 700, 70)])),
        (("default", "2026-10-25"), t(&[("Spotify", 313, 43)])),
    ])
}

fn sandbox() -> Sandbox {
    Sandbox::new()
}

fn with_rules(cmd: &mut Command) -> &mut Command {
    cmd.env("NBI_TIMEZONE", "Europe/Berlin")
        .env("NBI_SOURCE__EXCLUDE", "[Dropbox]")
}

fn stored(sb: &Sandbox) -> BTreeMap<(&'static str, &'static str), Totals> {
    expected()
        .keys()
        .map(|&(host, day)| {
            let out = succeed(
                with_rules(&mut sb.cmd()).args(["--host", host, "today", "--json", "--day", day]),
            );
            let v: serde_json::Value = serde_json::from_str(&out).expect("today --json");
            ((host, day), app_totals(&v))
        })
        .collect()
}

#[test]
fn every_way_in_counts_the_same() {
    let file_sb = sandbox();
    let file = file_sb.write("mixed.ndjson", FILE);
    let file = file.to_str().unwrap();
    let want = expected();

    let run = sandbox();
    succeed(with_rules(&mut run.cmd()).args([
        "run",
        "--source",
        "replay",
        "--replay-file",
        file,
        "--no-detect",
    ]));
    assert_eq!(stored(&run), want, "run --source replay");

    let replay = sandbox();
    succeed(with_rules(&mut replay.cmd()).args(["replay", file]));
    assert_eq!(stored(&replay), want, "replay");

    let import = sandbox();
    let said = succeed(with_rules(&mut import.cmd()).args(["import", file]));
    assert_eq!(stored(&import), want, "import");
    assert!(
        said.contains("1 already stored") && said.contains("1 added to a different tick"),
        "{said}"
    );
    let status = succeed(with_rules(&mut import.cmd()).args(["status"]));
    assert!(
        status.contains("1 ticks arrived for a host and second already stored"),
        "{status}"
    );

    let piped = sandbox();
    let mut watch = with_rules(&mut piped.cmd())
        .args(["watch", "--source", "replay", "--replay-file", file])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn watch");
    let collect = with_rules(&mut piped.cmd())
        .arg("collect")
        .stdin(watch.stdout.take().expect("watch's stdout"))
        .output()
        .expect("run collect");
    assert!(watch.wait().expect("wait for watch").success());
    assert!(
        collect.status.success(),
        "{}",
        String::from_utf8_lossy(&collect.stderr)
    );
    assert_eq!(stored(&piped), want, "watch | collect");
}
