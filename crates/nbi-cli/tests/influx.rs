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

/// Networks through the commands, on both stores alike: the nettop
/// fixture's socket rows on Wi-Fi, a VPN and a carrier's link, the owner's
/// name and metered flag, `networks`, `history --by network`, `today
/// --network` and the plans of `status` (an old `[plan]` beside `[[plan]]`
/// entries is not TOML; each store gets the same `[[plan]]` file).
#[test]
fn networks_history_by_network_and_plans_answer_the_same_on_influxdb_as_on_sqlite() {
    let Some(db) = database("networks", true) else {
        return;
    };
    let sb = Sandbox::new();
    sb.write(
        "config.toml",
        "timezone = \"UTC\"\n\
         [[plan]]\nname = \"Phone\"\nlimit = \"1 MB\"\nmetered = true\n\n\
         [[plan]]\nname = \"VPN\"\nlimit = \"10 MB\"\nnetworks = [\"vpn:utun3\"]\n\n\
         [[plan]]\nname = \"Everything\"\nlimit = \"100 MB\"\n",
    );
    let capture = repo_root().join("crates/nbi-core/tests/fixtures/nettop/destinations.csv");
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
    let today = chrono::Utc::now().date_naive().to_string();
    for run in [&influx as &dyn Fn(&[&str]) -> String, &sqlite] {
        run(&["import", capture.to_str().unwrap(), "--date", &today]);
        run(&["networks", "metered", "cell:pdp_ip0", "on"]);
        run(&["networks", "name", "if:en0", "Home"]);
    }
    for args in [
        &["networks", "--json", "--all-hosts"][..],
        &[
            "history",
            "--json",
            "--all-hosts",
            "--by",
            "network",
            "--from",
            &today,
        ],
        &[
            "history",
            "--json",
            "--all-hosts",
            "--network",
            "if:en0",
            "--from",
            &today,
        ],
        &["today", "--json", "--all-hosts", "--network", "vpn:utun3"],
    ] {
        let (a, b) = (influx(args), sqlite(args));
        assert_eq!(a, b, "{args:?}");
    }
    let v: serde_json::Value =
        serde_json::from_str(&sqlite(&["networks", "--json", "--all-hosts"])).unwrap();
    let names: Vec<(&str, &str, bool)> = v["networks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["id"].as_str().unwrap(),
                n["name"].as_str().unwrap(),
                n["metered"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        vec![
            ("cell:pdp_ip0", "Cellular (pdp_ip0)", true),
            ("if:en0", "Home", false),
            ("vpn:utun3", "VPN (utun3)", false),
        ]
    );
    let plans =
        |out: String| serde_json::from_str::<serde_json::Value>(&out).unwrap()["plans"].clone();
    let (a, b) = (
        plans(influx(&["status", "--json"])),
        plans(sqlite(&["status", "--json"])),
    );
    assert_eq!(a, b);
    let used: Vec<(&str, u64)> = a
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap(),
                p["used_bytes"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        used,
        vec![
            ("Phone", 700_000 + 650_000),
            ("VPN", 250_000 + 30_000),
            ("Everything", 2_002_000),
        ]
    );
    assert_eq!(a[0]["networks"], serde_json::json!(["cell:pdp_ip0"]));
}
