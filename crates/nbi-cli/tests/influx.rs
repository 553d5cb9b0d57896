//! `nbi collect`, `import` and `today` with `--store influx`, against the
//! real InfluxDB that `scripts/test_services.sh` starts on 127.0.0.1.

mod support;

use std::io::Write;
use std::process::Stdio;

use nbi_core::store::influx::InfluxStore;
use support::*;

const DAY: &str = "2026-07-11";

/// A database of its own on the test server, dropped at the end.
struct Db {
    store: InfluxStore,
    url: String,
    name: String,
}

impl Drop for Db {
    fn drop(&mut self) {
        let _ = self
            .store
            .query(&format!("DROP DATABASE \"{}\"", self.name));
    }
}

/// `label` tells apart the databases of tests that run at once.
fn database(label: &str, create: bool) -> Option<Db> {
    let url = support::services::server("NBI_TEST_INFLUX_URL", "InfluxDB")?;
    let name = format!("nbi_cli_{}_{label}", std::process::id());
    let store = InfluxStore::new(
        &nbi_core::store::InfluxDbConfig {
            url: url.clone(),
            database: name.clone(),
            batch_points: 5000,
            ..nbi_core::store::InfluxDbConfig::default()
        },
        None,
    );
    if create {
        store.create_database().expect("create database");
    }
    Some(Db { store, url, name })
}

fn influx_cmd(sb: &Sandbox, db: &Db) -> std::process::Command {
    let mut c = sb.cmd();
    c.env("NBI_INFLUXDB__URL", &db.url)
        .env("NBI_INFLUXDB__DATABASE", &db.name)
        .arg("--store")
        .arg("influx");
    c
}

#[test]
fn collect_import_and_today_work_on_influxdb() {
    let Some(db) = database("today", true) else {
        return;
    };
    let sb = Sandbox::new();
    let (text, expected) = ndjson_ticks("testhost", 200);

    let mut child = influx_cmd(&sb, &db)
        .arg("collect")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let today = |sb: &Sandbox| {
        let out = succeed(influx_cmd(sb, &db).args(["today", "--json", "--day", DAY]));
        app_totals(&serde_json::from_str(&out).unwrap())
    };
    assert_eq!(today(&sb), expected);

    // Importing the same ticks again counts nothing twice.
    let file = sb.write("ticks.ndjson", &text);
    succeed(influx_cmd(&sb, &db).args(["import", file.to_str().unwrap()]));
    assert_eq!(today(&sb), expected);
    assert!(!sb.db().exists(), "nothing went to SQLite");
}

#[test]
fn influx_mistakes_are_clear_errors() {
    let Some(db) = database("missing", false) else {
        return;
    };
    let sb = Sandbox::new();
    let (text, _) = ndjson_ticks("testhost", 3);
    let file = sb.write("ticks.ndjson", &text);

    // A database that does not exist: a permanent error, reported, exit 1.
    let out = influx_cmd(&sb, &db)
        .args(["import", file.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("database not found"), "{err}");

    // No address configured.
    let out = sb
        .cmd()
        .args(["--store", "influx", "today"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("influxdb.url"), "{err}");

    // A command of the embedded store only says so.
    let demo = sb.path("demo.sqlite");
    let out = influx_cmd(&sb, &db)
        .args(["demo", "--days", "1", "--db", demo.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("`nbi demo` works on the embedded SQLite store only"),
        "{err}"
    );
    assert!(!demo.exists(), "nothing written");
}

#[test]
fn history_export_and_plan_answer_the_same_on_influxdb_as_on_sqlite() {
    let Some(db) = database("history", true) else {
        return;
    };
    let sb = Sandbox::new();
    sb.write(
        "config.toml",
        "timezone = \"Europe/Berlin\"\n[plan]\nlimit = \"50 GB\"\nbilling_day = 31\n",
    );
    let (text, expected) = berlin_ticks();
    let file = sb.write("ticks.ndjson", &text);
    let influx = |args: &[&str]| {
        succeed(
            influx_cmd(&sb, &db)
                .env("NBI_CONFIG", sb.path("config.toml"))
                .args(args),
        )
    };
    let sqlite = |args: &[&str]| {
        succeed(
            sb.cmd()
                .env("NBI_CONFIG", sb.path("config.toml"))
                .args(args),
        )
    };
    influx(&["import", file.to_str().unwrap()]);
    sqlite(&["import", file.to_str().unwrap()]);

    for args in [
        &[
            "history",
            "--from",
            "2026-10-24",
            "--to",
            "2026-11-02",
            "--json",
        ][..],
        &[
            "history",
            "--from",
            "2026-10-01",
            "--to",
            "2026-11-30",
            "--by",
            "month",
            "--json",
        ],
        &[
            "history",
            "--from",
            "2026-10-24",
            "--to",
            "2026-11-02",
            "--app",
            "Slack",
            "--json",
        ],
    ] {
        let (a, b) = (influx(args), sqlite(args));
        assert_eq!(a, b, "{args:?}");
        assert!(!history_rows(&serde_json::from_str(&a).unwrap()).is_empty());
    }
    let v: serde_json::Value = serde_json::from_str(&influx(&[
        "history",
        "--from",
        "2026-10-24",
        "--to",
        "2026-11-02",
        "--json",
    ]))
    .unwrap();
    assert_eq!(history_rows(&v), expected);

    // The same CSV from both; an NDJSON export of InfluxDB imported into
    // SQLite gives the same history.
    let range = ["--from", "2026-10-24", "--to", "2026-11-02"];
    let csv = |run: &dyn Fn(&[&str]) -> String| run(&[&["export"][..], &range].concat());
    assert_eq!(csv(&influx), csv(&sqlite));
    let out = sb.path("influx.ndjson");
    influx(
        &[
            &[
                "export",
                "--format",
                "ndjson",
                "--out",
                out.to_str().unwrap(),
            ][..],
            &range,
        ]
        .concat(),
    );
    let other = Sandbox::new();
    other.write("config.toml", "timezone = \"Europe/Berlin\"\n");
    other.ok(&["import", out.to_str().unwrap()]);
    let again = succeed(
        other
            .cmd()
            .env("NBI_CONFIG", other.path("config.toml"))
            .args([
                "history",
                "--from",
                "2026-10-24",
                "--to",
                "2026-11-02",
                "--json",
            ]),
    );
    assert_eq!(
        history_rows(&serde_json::from_str(&again).unwrap()),
        expected
    );

    // The plan: the same period and usage from both stores.
    let plan =
        |out: String| serde_json::from_str::<serde_json::Value>(&out).unwrap()["plan"].clone();
    let (a, b) = (
        plan(influx(&["status", "--json"])),
        plan(sqlite(&["status", "--json"])),
    );
    assert_eq!(a, b);
    assert_eq!(a["limit_bytes"], 50_000_000_000u64);
}
