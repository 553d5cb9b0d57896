//! `nbi history`, `nbi export` and the data plan in `nbi status`, end to end
//! on imported ticks, on the embedded store. (`tests/influx.rs` asks the
//! same of InfluxDB.)

mod support;

use chrono::{DateTime, Utc};
use serde_json::Value;
use support::*;

fn berlin_sandbox() -> (Sandbox, Totals) {
    let sb = Sandbox::new();
    sb.write("config.toml", "timezone = \"Europe/Berlin\"\n");
    let (text, expected) = berlin_ticks();
    let file = sb.write("ticks.ndjson", &text);
    sb.ok(&["import", file.to_str().unwrap()]);
    (sb, expected)
}

fn with_config(sb: &Sandbox, args: &[&str]) -> String {
    let mut cmd = sb.cmd();
    cmd.env("NBI_CONFIG", sb.path("config.toml")).args(args);
    succeed(&mut cmd)
}

#[test]
fn history_by_day_and_month_is_exact_across_a_fall_back_night() {
    let (sb, expected) = berlin_sandbox();
    let out = with_config(
        &sb,
        &[
            "history",
            "--from",
            "2026-10-24",
            "--to",
            "2026-11-02",
            "--json",
        ],
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["from"].as_str(), v["to"].as_str(), v["by"].as_str()),
        (Some("2026-10-24"), Some("2026-11-02"), Some("day"))
    );
    assert_eq!(history_rows(&v), expected);
    // The 25-hour day has 150 ticks of Music.
    assert_eq!(
        expected[&("2026-10-25".into(), "Music, Inc".into())].0,
        150 * 5_000_000
    );
    // Ordered by period, then by bytes.
    let rows = v["rows"].as_array().unwrap();
    assert!(rows.windows(2).all(|w| {
        let key = |r: &Value| {
            (
                r["period"].as_str().unwrap().to_string(),
                u64::MAX - r["bytes_in"].as_u64().unwrap() - r["bytes_out"].as_u64().unwrap(),
            )
        };
        key(&w[0]) <= key(&w[1])
    }));

    let month: Value = serde_json::from_str(&with_config(
        &sb,
        &[
            "history",
            "--from",
            "2026-10-01",
            "--to",
            "2026-11-30",
            "--by",
            "month",
            "--app",
            "Slack",
            "--json",
        ],
    ))
    .unwrap();
    let mut want = Totals::new();
    for ((day, app), (i, o)) in &expected {
        if app == "Slack" {
            let e = want.entry((day[..7].to_string(), app.clone())).or_default();
            e.0 += i;
            e.1 += o;
        }
    }
    assert_eq!(history_rows(&month), want);
    assert_eq!(month["rows"].as_array().unwrap().len(), 2);

    // People read the table; a backwards range is refused, naming both ends.
    let text = with_config(
        &sb,
        &["history", "--from", "2026-10-25", "--to", "2026-10-25"],
    );
    assert!(
        text.contains("Music, Inc") && text.contains("750 MB"),
        "{text}"
    );
    let mut cmd = sb.cmd();
    let out = cmd
        .env("NBI_CONFIG", sb.path("config.toml"))
        .args(["history", "--from", "2026-11-02", "--to", "2026-10-24"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--from 2026-11-02 is after --to 2026-10-24")
    );
}

#[test]
fn an_ndjson_export_imported_elsewhere_gives_the_same_history_and_csv_adds_up() {
    let (sb, expected) = berlin_sandbox();
    let out_file = sb.path("export.ndjson");
    with_config(
        &sb,
        &[
            "export",
            "--from",
            "2026-10-24",
            "--to",
            "2026-11-02",
            "--format",
            "ndjson",
            "--out",
            out_file.to_str().unwrap(),
        ],
    );
    let other = Sandbox::new();
    other.write("config.toml", "timezone = \"Europe/Berlin\"\n");
    other.ok(&["import", out_file.to_str().unwrap()]);
    let history = |s: &Sandbox| -> Totals {
        history_rows(
            &serde_json::from_str(&with_config(
                s,
                &[
                    "history",
                    "--from",
                    "2026-10-24",
                    "--to",
                    "2026-11-02",
                    "--json",
                ],
            ))
            .unwrap(),
        )
    };
    assert_eq!(history(&other), expected);

    // CSV: one row per app per tick; its columns add up to the same totals.
    let csv = with_config(
        &sb,
        &["export", "--from", "2026-10-25", "--to", "2026-10-25"],
    );
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("timestamp,host,app,bytes_in,bytes_out"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(
        rows.len(),
        2 * 150,
        "150 ticks of two apps on the 25-hour day"
    );
    assert_eq!(
        rows[0],
        "2026-10-24T22:00:00Z,testhost,\"Music, Inc\",5000000,10"
    );
    let slack_in: u64 = rows
        .iter()
        .filter(|r| r.contains(",Slack,"))
        .map(|r| r.split(',').nth(3).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(slack_in, expected[&("2026-10-25".into(), "Slack".into())].0);
}

#[test]
fn status_shows_the_plan_of_the_current_billing_period() {
    let sb = Sandbox::new();
    // Periods start today, whatever today is: yesterday's bytes are in the
    // last period, today's in this one.
    let today = Utc::now().date_naive();
    let billing_day = chrono::Datelike::day(&today);
    sb.write(
        "config.toml",
        &format!("[plan]\nlimit = \"1 MB\"\nbilling_day = {billing_day}\n"),
    );
    let noon = |d: chrono::NaiveDate| d.and_hms_opt(12, 0, 0).unwrap().and_utc();
    let tick = |at: DateTime<Utc>, bytes: u64| {
        format!(
            "{{\"schema\":1,\"host\":\"testhost\",\"timestamp\":\"{}\",\"interval_s\":60,\"app_usage\":{{\"Backup\":{{\"in\":{bytes},\"out\":{bytes}}}}}}}\n",
            at.format("%Y-%m-%dT%H:%M:%SZ")
        )
    };
    let file = sb.write(
        "ticks.ndjson",
        &(tick(noon(today.pred_opt().unwrap()), 999_999) + &tick(noon(today), 300_000)),
    );
    sb.ok(&["import", file.to_str().unwrap()]);
    let v: Value = serde_json::from_str(&with_config(&sb, &["status", "--json"])).unwrap();
    assert_eq!(v["plan"]["period_start"], today.to_string());
    assert_eq!(v["plan"]["used_bytes"], 600_000);
    assert_eq!(v["plan"]["limit_bytes"], 1_000_000);
    assert!(v["store"]["file_bytes"].as_u64().unwrap() > 0);
    let text = with_config(&sb, &["status"]);
    assert!(
        text.contains("plan: 600 kB of 1.0 MB used (60 %)"),
        "{text}"
    );
    // Without a plan there is no "plan" at all.
    assert!(sb.status().get("plan").is_none());
}
