//! The `nbi` command end to end: real binary, real SQLite files.

mod support;

use std::time::Duration;

use support::*;

const DAY: &str = "2026-07-11";

#[test]
fn import_is_exact_and_idempotent() {
    let sb = Sandbox::new();
    let (text, expected) = ndjson_ticks("testhost", 300);
    let file = sb.write("ticks.ndjson", &text);
    let out = sb.ok(&["import", file.to_str().unwrap()]);
    assert!(
        out.contains("imported 300 ticks") && out.contains("300 new"),
        "{out}"
    );
    assert_eq!(sb.day_totals(DAY, &[]), expected);
    let again = sb.ok(&["import", file.to_str().unwrap()]);
    assert!(again.contains("0 new, 300 already stored"), "{again}");
    assert_eq!(
        sb.day_totals(DAY, &[]),
        expected,
        "a second import adds nothing"
    );
    let status = sb.status();
    assert_eq!(status["store"]["ticks"], 300);
    assert_eq!(status["store"]["samples"], 600);
    assert_eq!(status["running"], false);
}

#[test]
fn today_json_is_ordered_by_total_and_other_hosts_are_apart() {
    let sb = Sandbox::new();
    let (mine, _) = ndjson_ticks("testhost", 10);
    let (theirs, _) = ndjson_ticks("otherhost", 10);
    let file = sb.write("ticks.ndjson", &format!("{mine}{theirs}"));
    sb.ok(&["import", file.to_str().unwrap()]);
    let text = sb.ok(&["today", "--json", "--day", DAY]);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let apps = v["apps"].as_array().unwrap();
    assert_eq!(apps[0]["app"], "Music", "largest first: {text}");
    let one = sb.day_totals(DAY, &[]);
    let all = sb.day_totals(DAY, &["--all-hosts"]);
    assert_eq!(all["Music"].0, 2 * one["Music"].0);
    let other = sb.day_totals(DAY, &["--host", "otherhost"]);
    assert_eq!(other, one);
    let human = sb.ok(&["today", "--day", DAY]);
    assert!(
        human.contains("Music") && human.contains("total"),
        "{human}"
    );
}

#[test]
fn run_with_a_replay_source_stores_every_tick_and_exits_when_done() {
    let sb = Sandbox::new();
    let (text, expected) = ndjson_ticks("testhost", 120);
    let file = sb.write("ticks.ndjson", &text);
    sb.ok(&[
        "run",
        "--source",
        "replay",
        "--replay-file",
        file.to_str().unwrap(),
    ]);
    assert_eq!(sb.day_totals(DAY, &[]), expected);
    let status = sb.status();
    assert_eq!(status["run"]["source"]["state"], "finished");
    assert_eq!(status["run"]["collector"]["ticks_written"], 120);
}

#[test]
fn watch_prints_the_ticks_and_collect_reads_them_back() {
    let sb = Sandbox::new();
    let (text, expected) = ndjson_ticks("testhost", 50);
    let file = sb.write("ticks.ndjson", &text);
    let printed = sb.ok(&[
        "watch",
        "--source",
        "replay",
        "--replay-file",
        file.to_str().unwrap(),
    ]);
    assert_eq!(printed.lines().count(), 50);
    let parse = |t: &str| -> Vec<serde_json::Value> {
        t.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    assert_eq!(
        parse(&printed),
        parse(&text),
        "watch prints the message JSON unchanged"
    );

    // Garbage lines between good ones are skipped, not fatal.
    let mixed = format!("not json\n{printed}{{\"timestamp\":\"never\",\"app_usage\":{{}}}}\n\n");
    let mut child = sb
        .cmd()
        .arg("collect")
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(mixed.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("stdin line 1: skipping, not a tick"),
        "{stderr}"
    );
    assert!(stderr.contains("stdin line 52:"), "{stderr}");
    assert!(stderr.contains("bad_lines=2"), "{stderr}");
    assert_eq!(sb.day_totals(DAY, &[]), expected);
}

#[test]
fn original_format_messages_are_read() {
    let sb = Sandbox::new();
    let file = sb.write(
        "orig.ndjson",
        "{\"timestamp\": \"2026-07-11T10:15:30.123456\", \"app_usage\": {\"Spotify\": {\"in\": 5, \"out\": 7}}}\n",
    );
    sb.ok(&["import", file.to_str().unwrap()]);
    assert_eq!(
        sb.day_totals(DAY, &["--host", "default"]).get("Spotify"),
        Some(&(5, 7))
    );
}

#[test]
fn sigterm_flushes_and_exits_zero() {
    let sb = Sandbox::new();
    let (text, _) = ndjson_ticks("testhost", 1000);
    let file = sb.write("ticks.ndjson", &text);
    // 600x: a tick every 100 ms.
    let child = sb.spawn(&[
        "run",
        "--source",
        "replay",
        "--replay-file",
        file.to_str().unwrap(),
        "--speed",
        "600",
    ]);
    wait_for(Duration::from_secs(20), || {
        let s = sb.status();
        (s["run"]["source"]["ticks"].as_u64().unwrap_or(0) >= 5).then_some(())
    })
    .expect("the replay started");
    signal(&child, libc::SIGTERM);
    let (status, stderr) = stderr_of(child);
    assert!(status.success(), "exit {status}: {stderr}");
    let s = sb.status();
    let published = s["run"]["source"]["ticks"].as_u64().unwrap();
    let stored = s["store"]["ticks"].as_u64().unwrap();
    assert_eq!(
        stored, published,
        "every tick the source published is stored"
    );
    assert!(stored < 1000, "stopped before the end");
    assert_eq!(s["run"]["source"]["state"], "stopped");
}

#[test]
fn kill_9_mid_run_then_restart_counts_nothing_twice() {
    let sb = Sandbox::new();
    let (text, expected) = ndjson_ticks("testhost", 400);
    let file = sb.write("ticks.ndjson", &text);
    let args = [
        "run",
        "--source",
        "replay",
        "--replay-file",
        file.to_str().unwrap(),
        "--speed",
        "1200",
    ];
    let mut child = sb.spawn(&args);
    wait_for(Duration::from_secs(20), || {
        let s = sb.status();
        (s["store"]["ticks"].as_u64().unwrap_or(0) >= 20).then_some(())
    })
    .expect("ticks are being stored");
    signal(&child, libc::SIGKILL);
    let _ = child.wait();
    let s = sb.status();
    assert_eq!(s["running"], false);
    let stored = s["store"]["ticks"].as_u64().unwrap();
    assert!(
        (20..400).contains(&stored),
        "killed mid-run: {stored} stored"
    );
    // What was stored is exactly the first `stored` ticks: no gap, no partial tick.
    let prefix: String = text
        .lines()
        .take(stored as usize)
        .map(|l| format!("{l}\n"))
        .collect();
    let check = Sandbox::new();
    let pfile = check.write("prefix.ndjson", &prefix);
    check.ok(&["import", pfile.to_str().unwrap()]);
    assert_eq!(sb.day_totals(DAY, &[]), check.day_totals(DAY, &[]));
    // Restarting replays everything; what was stored is not counted again.
    sb.ok(&args[..5]);
    assert_eq!(sb.day_totals(DAY, &[]), expected);
    assert_eq!(sb.status()["store"]["ticks"], 400);
}

#[test]
fn config_prints_the_effective_values_with_env_and_flags_on_top() {
    let sb = Sandbox::new();
    let cfg = sb.write(
        "c.toml",
        "host = \"fromfile\"\n[source]\ninterval = 30\ninclude_loopback = false\n",
    );
    let text = succeed(
        sb.cmd()
            .env_remove("NBI_HOST")
            .env("NBI_SOURCE__INCLUDE_LOOPBACK", "true")
            .args(["--config", cfg.to_str().unwrap(), "config"]),
    );
    assert!(text.contains("host = \"fromfile\""), "{text}");
    assert!(text.contains("interval = 30"), "{text}");
    assert!(
        text.contains("include_loopback = true") && text.contains("#   loopback: counted"),
        "env wins over the file, and the counting rules say so: {text}"
    );
    assert!(text.contains("#   tunnel carriers"), "{text}");
    let flagged = sb.ok(&[
        "--config",
        cfg.to_str().unwrap(),
        "--host",
        "flag",
        "--db",
        "/tmp/x.sqlite",
        "config",
    ]);
    assert!(
        flagged.contains("host = \"flag\"") && flagged.contains("db = \"/tmp/x.sqlite\""),
        "{flagged}"
    );
}

#[test]
fn bad_config_names_file_key_and_expectation() {
    let sb = Sandbox::new();
    let cases = [
        ("[source]\ninterval = \"often\"\n", "source.interval"),
        ("[source]\ninterval = 0\n", "source.interval"),
        ("[sorce]\ninterval = 5\n", "sorce"),
        ("host = \n", "c.toml"),
    ];
    for (text, needle) in cases {
        let cfg = sb.write("c.toml", text);
        let out = sb.run(&["--config", cfg.to_str().unwrap(), "today"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{text:?}: {err}");
        assert!(err.contains(needle), "{text:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // A config path that cannot be read (here: a directory).
    let out = sb.run(&["--config", sb.dir.path().to_str().unwrap(), "today"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(sb.dir.path().to_str().unwrap()) && err.contains("directory"),
        "{err}"
    );
    let out = sb.run(&["--config", "/nonexistent/nbi.toml", "today"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/nbi.toml does not exist"));
    let out = sb
        .cmd()
        .env("NBI_SOURCE__INTERVAL", "soon")
        .arg("config")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("source.interval") && err.contains("NBI_"),
        "{err}"
    );
}

#[test]
fn a_corrupt_database_is_a_clear_error() {
    let sb = Sandbox::new();
    std::fs::write(
        sb.db(),
        b"this is not a database, just text that is long enough to matter........",
    )
    .unwrap();
    let (text, _) = ndjson_ticks("testhost", 3);
    let file = sb.write("t.ndjson", &text);
    for args in [
        vec!["today"],
        vec!["import", file.to_str().unwrap()],
        vec![
            "run",
            "--source",
            "replay",
            "--replay-file",
            file.to_str().unwrap(),
        ],
    ] {
        let out = sb.run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("nbi.sqlite") && err.contains("not a database"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn a_read_only_database_is_a_clear_error_and_still_readable() {
    let sb = Sandbox::new();
    let (text, expected) = ndjson_ticks("testhost", 5);
    let file = sb.write("t.ndjson", &text);
    sb.ok(&["import", file.to_str().unwrap()]);
    let dir = sb.dir.path();
    use std::os::unix::fs::PermissionsExt;
    // The directory must not be writable either (SQLite needs it for its WAL).
    std::fs::set_permissions(sb.db(), std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    // SAFETY: reading our own effective uid.
    let root = unsafe { libc::geteuid() } == 0;
    let as_user = |args: &[&str]| {
        let mut c = sb.cmd();
        if root {
            // Root ignores file modes: run as an unprivileged user instead.
            let mut wrapped = std::process::Command::new("setpriv");
            wrapped.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
            wrapped.arg(support::nbi_bin());
            for (k, v) in c.get_envs() {
                match v {
                    Some(v) => wrapped.env(k, v),
                    None => wrapped.env_remove(k),
                };
            }
            c = wrapped;
        }
        c.args(args).output().unwrap()
    };
    let out = as_user(&["import", file.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("read-only") || err.contains("readonly") || err.contains("unable to open"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    let out = as_user(&["today", "--json", "--day", DAY]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(sb.db(), std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(sb.day_totals(DAY, &[]), expected);
}

#[test]
fn nettop_csv_import_needs_a_date() {
    let sb = Sandbox::new();
    let csv = sb.write(
        "cap.csv",
        "time,,bytes_in,bytes_out,\n10:00:00.000001,Slack.1234,500,50,\ntime,,bytes_in,bytes_out,\n10:01:00.000001,Slack.1234,70,7,\n10:01:00.000002,Safari.2345,3,4,\ntime,,bytes_in,bytes_out,\n",
    );
    let out = sb.run(&["import", csv.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("--date"), "{err}");
    sb.ok(&["import", csv.to_str().unwrap(), "--date", DAY]);
    let totals = sb.day_totals(DAY, &[]);
    assert_eq!(
        totals.get("Slack"),
        Some(&(70, 7)),
        "the cumulative first block is dropped"
    );
    assert_eq!(totals.get("Safari"), Some(&(3, 4)));
}

#[test]
fn demo_writes_labelled_history_to_its_own_database() {
    let sb = Sandbox::new();
    let demo = sb.path("demo.sqlite");
    let text = succeed(sb.cmd().env_remove("NBI_DB").args([
        "demo",
        "--days",
        "3",
        "--db",
        demo.to_str().unwrap(),
    ]));
    assert!(text.starts_with("DEMO:"), "{text}");
    // A whole day of the three, even if midnight passed since the demo.
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let totals = sb.day_totals(&yesterday, &["--db", demo.to_str().unwrap()]);
    assert!(
        totals.contains_key("Slack") && totals.contains_key("Netflix"),
        "{totals:?}"
    );
    let human = sb.ok(&["today", "--db", demo.to_str().unwrap(), "--day", &yesterday]);
    assert!(human.contains("DEMO"), "{human}");
    assert!(!sb.db().exists(), "the real database is untouched");
    // Writing it into the default real database is refused.
    let out = sb
        .cmd()
        .env_remove("NBI_DB")
        .args(["demo", "--days", "1", "--db"])
        .arg(sb.path("data/nbi/nbi.sqlite"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
