//! Bad input, as an attacker or a broken tool would write it, through the
//! real `nbi` binary. Each case: no panic, exit 0 or 1 (2 for a usage
//! error), every good tick beside a bad one stored exactly, nothing written
//! outside the places nbi writes, and a file that is not nbi's left as it
//! was.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::Path;
use std::process::{Output, Stdio};

use support::Sandbox;

/// Three good ticks of 11 Jul 2026 (UTC): Slack 300 B in, 30 B out in all.
fn good(i: usize) -> String {
    format!(
        r#"{{"schema":1,"host":"testhost","timestamp":"2026-07-11T14:2{i}:00Z","interval_s":60,"app_usage":{{"Slack":{{"in":100,"out":10}}}}}}"#
    )
}

fn msg(ts: &str, interval: u64, host: &str, apps: &str) -> String {
    format!(
        r#"{{"schema":1,"host":"{host}","timestamp":"{ts}","interval_s":{interval},"app_usage":{{{apps}}}}}"#
    )
}

/// A file of good ticks with `bad` between the first and the second.
fn file_with(bad: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(good(1).as_bytes());
    f.push(b'\n');
    f.extend_from_slice(bad);
    f.push(b'\n');
    for i in [2, 3] {
        f.extend_from_slice(good(i).as_bytes());
        f.push(b'\n');
    }
    f
}

fn bad_lines() -> Vec<(&'static str, Vec<u8>)> {
    let ok = r#""Slack":{"in":1,"out":1}"#;
    let long_name = "n".repeat(5000);
    let many_apps: String = (0..100_001)
        .map(|i| format!(r#""a{i}":{{"in":1,"out":1}}"#))
        .collect::<Vec<_>>()
        .join(",");
    vec![
        (
            "not UTF-8",
            b"{\"timestamp\":\"2026-07-11T14:29:00Z\",\xff\xfe}".to_vec(),
        ),
        ("a 17 MiB line", vec![b'x'; 17 << 20]),
        (
            "before 1970",
            msg("1969-12-31T23:59:00Z", 60, "testhost", ok).into_bytes(),
        ),
        (
            "from 2200",
            msg("2200-01-01T00:00:00Z", 60, "testhost", ok).into_bytes(),
        ),
        (
            "year 9999 behind UTC",
            msg("9999-12-31T23:00:00-05:00", 60, "testhost", ok).into_bytes(),
        ),
        (
            "no interval",
            msg("2026-07-11T14:29:00Z", 0, "testhost", ok).into_bytes(),
        ),
        (
            "an interval of 30 years",
            msg("2026-07-11T14:29:00Z", 1_000_000_000, "testhost", ok).into_bytes(),
        ),
        (
            "an app name of 5 kB",
            msg(
                "2026-07-11T14:29:00Z",
                60,
                "testhost",
                &format!(r#""{long_name}":{{"in":1,"out":1}}"#),
            )
            .into_bytes(),
        ),
        (
            "a host name of 5 kB",
            msg("2026-07-11T14:29:00Z", 60, &long_name, ok).into_bytes(),
        ),
        (
            "an app twice",
            msg(
                "2026-07-11T14:29:00Z",
                60,
                "testhost",
                &format!("{ok},{ok}"),
            )
            .into_bytes(),
        ),
        (
            "more than a link moves",
            msg(
                "2026-07-11T14:29:00Z",
                60,
                "testhost",
                r#""Slack":{"in":9000000000000000000,"out":1}"#,
            )
            .into_bytes(),
        ),
        (
            "a negative count",
            msg(
                "2026-07-11T14:29:00Z",
                60,
                "testhost",
                r#""Slack":{"in":-5,"out":1}"#,
            )
            .into_bytes(),
        ),
        (
            "a count of 1.5e30",
            msg(
                "2026-07-11T14:29:00Z",
                60,
                "testhost",
                r#""Slack":{"in":1.5e30,"out":1}"#,
            )
            .into_bytes(),
        ),
        (
            "a count beyond 64 bits",
            msg(
                "2026-07-11T14:29:00Z",
                60,
                "testhost",
                r#""Slack":{"in":18446744073709551616,"out":1}"#,
            )
            .into_bytes(),
        ),
        (
            "100,001 apps",
            msg("2026-07-11T14:29:00Z", 60, "testhost", &many_apps).into_bytes(),
        ),
        (
            "an empty app name",
            msg(
                "2026-07-11T14:29:00Z",
                60,
                "testhost",
                r#""":{"in":1,"out":1}"#,
            )
            .into_bytes(),
        ),
        (
            "a later schema",
            br#"{"schema":99,"timestamp":"2026-07-11T14:29:00Z","app_usage":{}}"#.to_vec(),
        ),
        ("an array", b"[1,2,3]".to_vec()),
        ("cut short", br#"{"schema":1,"host":"#.to_vec()),
        (
            "NUL bytes",
            b"{\"timestamp\":\"2026\0-07-11\"}\0\0".to_vec(),
        ),
        (
            "a 5 MB timestamp",
            format!(
                r#"{{"timestamp":"{}","app_usage":{{}}}}"#,
                "9".repeat(5_000_000)
            )
            .into_bytes(),
        ),
        (
            "a count that is a string",
            msg(
                "2026-07-11T14:29:00Z",
                60,
                "testhost",
                r#""Slack":{"in":"lots","out":1}"#,
            )
            .into_bytes(),
        ),
        ("nested 100,000 deep", "[".repeat(100_000).into_bytes()),
        (
            "networks above the app's bytes",
            msg(
                "2026-07-11T14:29:00Z",
                60,
                "testhost",
                r#""Slack":{"in":10,"out":1,"net":{"wifi:Home":{"in":6,"out":1},"cell:pdp_ip0":{"in":6,"out":0}}}"#,
            )
            .into_bytes(),
        ),
        (
            "a network id with a line break",
            msg(
                "2026-07-11T14:29:00Z",
                60,
                "testhost",
                r#""Slack":{"in":10,"out":1,"net":{"wifi:Home
X":{"in":1,"out":1}}}"#,
            )
            .into_bytes(),
        ),
        (
            "a network id of 10,000 bytes",
            msg(
                "2026-07-11T14:29:00Z",
                60,
                "testhost",
                &format!(r#""Slack":{{"in":10,"out":1,"net":{{"{}":{{"in":1,"out":1}}}}}}"#, "w".repeat(10_000)),
            )
            .into_bytes(),
        ),
        (
            "65 networks of one app",
            msg(
                "2026-07-11T14:29:00Z",
                60,
                "testhost",
                &format!(
                    r#""Slack":{{"in":1000,"out":1000,"net":{{{}}}}}"#,
                    (0..65)
                        .map(|i| format!(r#""if:eth{i}":{{"in":1,"out":1}}"#))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            )
            .into_bytes(),
        ),
        (
            "no bytes out",
            msg(
                "2026-07-11T14:29:00Z",
                60,
                "testhost",
                r#""Slack":{"in":1}"#,
            )
            .into_bytes(),
        ),
    ]
}

/// What a run must never do, whatever it was given.
fn sane(out: &Output, case: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{case}: a panic:\n{stderr}");
    let code = out.status.code();
    assert!(
        matches!(code, Some(0..=2)),
        "{case}: exit {code:?}\n{stderr}"
    );
    // Bad fields are named, not echoed whole.
    assert!(
        stderr.len() < 64 << 10,
        "{case}: {} bytes on stderr",
        stderr.len()
    );
}

/// The files under `dir`, relative, as a set.
fn files_in(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(rel) = p.strip_prefix(dir) {
                out.insert(rel.display().to_string());
            }
        }
    }
    out
}

/// Only the database, its own files, the input and what the case names.
fn only_its_files(s: &Sandbox, inputs: &[&str], case: &str) {
    let allowed =
        |f: &str| f.starts_with("nbi.sqlite") || inputs.contains(&f) || f.starts_with("config/");
    let stray: Vec<String> = files_in(s.dir.path())
        .into_iter()
        .filter(|f| !allowed(f))
        .collect();
    assert!(
        stray.is_empty(),
        "{case}: written outside its place: {stray:?}"
    );
}

fn slack(s: &Sandbox) -> Option<(u64, u64)> {
    s.day_totals("2026-07-11", &[]).get("Slack").copied()
}

#[test]
fn import_skips_each_bad_line_with_its_number_and_keeps_every_good_one() {
    let cases = bad_lines();
    assert!(cases.len() >= 24);
    for (case, bad) in cases {
        let s = Sandbox::new();
        let file = s.path("ticks.ndjson");
        std::fs::write(&file, file_with(&bad)).unwrap();
        let out = s.run(&["import", file.to_str().unwrap()]);
        sane(&out, case);
        assert_eq!(out.status.code(), Some(0), "{case}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(":2:"),
            "{case}: the bad line is named by its number:\n{}",
            &stderr[..stderr.len().min(2000)]
        );
        assert_eq!(slack(&s), Some((300, 30)), "{case}: the good ticks");
        only_its_files(&s, &["ticks.ndjson"], case);
    }
}

#[test]
fn collect_skips_each_bad_line_of_stdin_and_keeps_every_good_one() {
    for (case, bad) in bad_lines().into_iter().filter(|(c, _)| {
        [
            "not UTF-8",
            "a 17 MiB line",
            "an app twice",
            "before 1970",
            "NUL bytes",
        ]
        .contains(c)
    }) {
        let s = Sandbox::new();
        let mut child = s
            .cmd()
            .args(["collect"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(&file_with(&bad))
            .unwrap();
        let out = child.wait_with_output().unwrap();
        sane(&out, case);
        assert_eq!(out.status.code(), Some(0), "{case}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("stdin line 2"),
            "{case}: {}",
            &stderr[..stderr.len().min(2000)]
        );
        assert_eq!(slack(&s), Some((300, 30)), "{case}: the good ticks");
        only_its_files(&s, &[], case);
    }
}

#[test]
fn nettop_captures_with_bad_rows_or_dates_keep_their_good_samples() {
    let header = "time,,bytes_in,bytes_out,\n";
    // Rows carry the sample's time of day: `time,name.pid,in,out,`.
    let sample = |t: &str, rows: &[(&str, &str, &str)]| {
        let mut out = header.to_string();
        for (name, i, o) in rows {
            out.push_str(&format!("{t},{name},{i},{o},\n"));
        }
        out
    };
    let s = Sandbox::new();
    // The first block is cumulative (dropped); then two samples, one with
    // a row of garbage numbers and one not UTF-8.
    let mut capture = String::new();
    capture.push_str(&sample("14:21:00.000000", &[("Slack.101", "999", "999")]));
    capture.push_str(&sample(
        "14:22:00.000000",
        &[("Slack.101", "100", "10"), ("Bad.7", "12x", "zz")],
    ));
    capture.push_str(&sample("14:23:00.000000", &[("Slack.101", "100", "10")]));
    let mut bytes = capture.into_bytes();
    bytes.extend_from_slice(b"14:23:00.000000,\xff\xfe.9,1,1,\n");
    bytes.extend_from_slice(sample("14:24:00.000000", &[("Slack.101", "100", "10")]).as_bytes());
    std::fs::write(s.path("cap.csv"), &bytes).unwrap();
    let out = s.run(&[
        "import",
        "--date",
        "2026-07-11",
        s.path("cap.csv").to_str().unwrap(),
    ]);
    sane(&out, "nettop CSV");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(slack(&s), Some((300, 30)));
    // The last date there is, and past it: a usage error, never a panic.
    for date in ["9999-12-31", "0001-01-01", "2026-02-30"] {
        let out = s.run(&[
            "import",
            "--date",
            date,
            s.path("cap.csv").to_str().unwrap(),
        ]);
        sane(&out, date);
        assert_eq!(out.status.code(), Some(2), "{date}");
    }
    // The last date allowed, with a capture running over midnight into 2200.
    let late = format!(
        "{}{}{}",
        sample("23:57:00.000000", &[("Slack.101", "1", "1")]),
        sample("23:58:00.000000", &[("Slack.101", "1", "1")]),
        sample("00:01:00.000000", &[("Slack.101", "1", "1")])
    );
    std::fs::write(s.path("late.csv"), late).unwrap();
    let out = s.run(&[
        "import",
        "--date",
        "2199-12-31",
        s.path("late.csv").to_str().unwrap(),
    ]);
    sane(&out, "over midnight into 2200");
    only_its_files(&s, &["cap.csv", "late.csv"], "nettop");
}

#[test]
fn days_out_of_range_are_usage_errors_in_every_zone() {
    let s = Sandbox::new();
    for tz in ["Asia/Tokyo", "Pacific/Kiritimati", "America/Adak", "UTC"] {
        for args in [
            &["detect", "--day", "0001-01-01"][..],
            &["today", "--day", "1969-12-31"],
            &["history", "--from", "1800-01-01"],
            &["history", "--to", "2300-01-01"],
            &["export", "--from", "0001-01-01", "--to", "0001-01-02"],
            &["mark-normal", "9999-12-31"],
        ] {
            let out = s.cmd().env("TZ", tz).args(args).output().unwrap();
            sane(&out, &format!("{tz} {args:?}"));
            assert_eq!(out.status.code(), Some(2), "{tz} {args:?}");
        }
        // At the edges of the range nothing panics either.
        for args in [
            &["today", "--day", "1970-01-01", "--json"][..],
            &["history", "--from", "1970-01-01", "--to", "1970-01-03"],
            &["history", "--from", "2199-12-29", "--to", "2199-12-31"],
            &["detect", "--day", "1970-01-01"],
        ] {
            let out = s.cmd().env("TZ", tz).args(args).output().unwrap();
            sane(&out, &format!("{tz} {args:?}"));
        }
    }
}

fn sha256(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string()
}

#[test]
fn a_file_that_is_not_nbis_database_is_refused_and_left_as_it_was() {
    let s = Sandbox::new();
    // Another program's SQLite database, with data of its own.
    let foreign = s.path("photos.sqlite");
    let made = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('create table albums(id integer primary key, name text)'); c.execute(\"insert into albums(name) values ('summer')\"); c.commit()",
            foreign.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(made.success());
    let text = s.write("notes.sqlite", "my notes, not a database\n");
    let before = (sha256(&foreign), sha256(&text));
    let list = |p: &Path| -> BTreeSet<String> {
        files_in(s.dir.path())
            .into_iter()
            .filter(|f| f.starts_with(p.file_name().unwrap().to_str().unwrap()))
            .collect()
    };
    for db in [&foreign, &text] {
        for args in [
            &["today"][..],
            &["status"],
            &["import", "/dev/null"],
            &["demo", "--days", "1"],
        ] {
            let mut a: Vec<&str> = vec!["--db", db.to_str().unwrap()];
            a.extend_from_slice(args);
            let out = s.cmd().env_remove("NBI_DB").args(&a).output().unwrap();
            sane(&out, &format!("{a:?}"));
            if args[0] != "status" {
                assert_eq!(out.status.code(), Some(1), "{a:?}");
            }
        }
        assert_eq!(list(db).len(), 1, "no -wal or -shm beside {}", db.display());
    }
    assert_eq!((sha256(&foreign), sha256(&text)), before, "both untouched");
    let out = s
        .cmd()
        .env_remove("NBI_DB")
        .args(["--db", foreign.to_str().unwrap(), "today"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not nbi's database") && stderr.contains("albums"),
        "{stderr}"
    );
}

#[test]
fn an_export_never_writes_through_a_planted_link_and_is_whole() {
    let s = Sandbox::new();
    let file = s.path("ticks.ndjson");
    std::fs::write(&file, file_with(b"")).unwrap();
    s.ok(&["import", file.to_str().unwrap()]);
    let victim = s.write("victim", "untouched\n");
    let out_path = s.path("out.csv");
    // Links where an exporter might write first.
    for name in ["out.csv.partial", ".out.csv.partial", "out.csv.tmp"] {
        std::os::unix::fs::symlink(&victim, s.path(name)).unwrap();
    }
    for _ in 0..2 {
        let out = s.run(&[
            "export",
            "--from",
            "2026-07-11",
            "--to",
            "2026-07-11",
            "--out",
            out_path.to_str().unwrap(),
        ]);
        sane(&out, "export");
        assert_eq!(out.status.code(), Some(0));
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched\n");
    let csv = std::fs::read_to_string(&out_path).unwrap();
    assert_eq!(csv.lines().count(), 4, "a header and three ticks:\n{csv}");
    // An export into a directory that does not exist: an error, no file.
    let out = s.run(&[
        "export",
        "--from",
        "2026-07-11",
        "--out",
        s.path("no/such/dir/x.csv").to_str().unwrap(),
    ]);
    sane(&out, "export into nothing");
    assert_eq!(out.status.code(), Some(1));
    assert!(!s.path("no").exists(), "no directory made for it");
}

#[test]
fn a_broken_configuration_is_an_error_naming_what_is_wrong() {
    let s = Sandbox::new();
    let cases: BTreeMap<&str, (&str, &str)> = BTreeMap::from([
        ("not TOML", ("[store\ndb = ", "config")),
        (
            "an unknown key",
            ("[intel]\nbaseline_dayz = 14\n", "baseline_dayz"),
        ),
        (
            "a negative number",
            ("[intel]\nbaseline_days = -1\n", "baseline_days"),
        ),
        ("not UTF-8", ("\u{0}\u{0}[intel]\n", "config")),
        (
            "a plan in lightyears",
            ("[plan]\nlimit = \"5 lightyears\"\n", "limit"),
        ),
        (
            "a plan of a network id that cannot be",
            ("[[plan]]\nlimit = 1\nnetworks = [\"\"]\n", "network id"),
        ),
        (
            "two plans of one name",
            (
                "[[plan]]\nname = \"Phone\"\nlimit = 1\n[[plan]]\nname = \"phone\"\nlimit = 2\n",
                "plan[1].name",
            ),
        ),
        (
            "a zone that does not exist",
            ("timezone = \"Mars/Olympus\"\n", "Mars/Olympus"),
        ),
    ]);
    for (case, (text, says)) in cases {
        let cfg = s.write("bad.toml", text);
        let out = s.run(&["--config", cfg.to_str().unwrap(), "status"]);
        sane(&out, case);
        assert_eq!(out.status.code(), Some(1), "{case}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{case}: {stderr}");
    }
}
