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

fn database(create: bool) -> Option<Db> {
    let url = support::services::server("NBI_TEST_INFLUX_URL", "InfluxDB")?;
    let name = format!("nbi_cli_{}_{}", std::process::id(), create as u8);
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
    let Some(db) = database(true) else { return };
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
    let Some(db) = database(false) else { return };
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
