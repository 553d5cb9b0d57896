//! `nbi detect`, `verdicts`, `mark-normal` and `eval` end to end, on
//! synthetic history written by `nbi demo`.

mod support;

use chrono::Datelike as _;
use serde_json::Value;
use support::*;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn a_short_history_is_still_learning() {
    let sb = Sandbox::new();
    let db = sb.db();
    sb.ok(&["demo", "--days", "3", "--db", db.to_str().unwrap()]);
    let v = json(&sb.ok(&["detect", "--json"]));
    assert_eq!(v["status"], "learning", "{v}");
    assert!(v["summary"].as_str().unwrap().contains("of 7 days"), "{v}");
    assert!(v["error"].is_null() && v["explanation"].as_array().unwrap().is_empty());
}

#[test]
fn detect_judges_yesterday_stores_it_and_flags_a_30_gb_burst() {
    let sb = Sandbox::new();
    let db = sb.db();
    // Sixty days hold fourteen days of either kind (workday, day off)
    // before yesterday, whichever weekday today is.
    sb.ok(&["demo", "--days", "60", "--db", db.to_str().unwrap()]);
    let before = chrono::Utc::now().date_naive();
    let v = json(&sb.ok(&["detect", "--json"]));
    let after = chrono::Utc::now().date_naive();
    let yesterday: chrono::NaiveDate = v["day"].as_str().unwrap().parse().unwrap();
    assert!(
        [before.pred_opt().unwrap(), after.pred_opt().unwrap()].contains(&yesterday),
        "the last complete day ({before} or {after} − 1): {v}"
    );
    let kind = match yesterday.weekday() {
        chrono::Weekday::Sat | chrono::Weekday::Sun => "day_off",
        _ => "workday",
    };
    assert_eq!(v["day_kind"], kind, "{v}");
    assert_eq!(v["status"], "normal", "a synthetic normal day: {v}");
    assert_eq!(v["baseline_days"], 14, "{v}");
    assert!(v["error"].as_f64().unwrap() <= v["threshold"].as_f64().unwrap());
    let apps = v["apps"].as_array().unwrap();
    assert_eq!(apps.len(), 6, "top 5 and the other apps: {v}");
    assert_eq!(apps[5], "Other apps");

    let original = json(&sb.ok(&["detect", "--json", "--model", "original"]));
    assert_eq!(original["model"], "original");
    assert_eq!(original["apps"].as_array().unwrap().len(), 5);

    // Tomorrow: the same rhythm would be there, but an app never seen
    // before moves 30 GB at noon (one tick a minute, the day fully watched).
    let tomorrow = yesterday + chrono::Duration::days(2);
    let start = tomorrow.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp();
    let mut text = String::new();
    for m in 0..1440i64 {
        let ts = chrono::DateTime::from_timestamp(start + m * 60, 0).unwrap();
        let backup = if (720..780).contains(&m) {
            500_000_000u64
        } else {
            0
        };
        text.push_str(&format!(
            "{{\"schema\":1,\"host\":\"testhost\",\"timestamp\":\"{}\",\"interval_s\":60,\"app_usage\":{{\"Backup\":{{\"in\":0,\"out\":{backup}}},\"Mail\":{{\"in\":30000,\"out\":3000}}}}}}\n",
            ts.format("%Y-%m-%dT%H:%M:%SZ")
        ));
    }
    let file = sb.write("burst.ndjson", &text);
    sb.ok(&["import", file.to_str().unwrap()]);
    let day = tomorrow.to_string();
    let burst = json(&sb.ok(&["detect", "--json", "--day", &day]));
    assert_eq!(burst["status"], "anomalous", "{burst}");
    let first = &burst["explanation"][0];
    // The "other apps" column drove it; the app behind it is named.
    assert_eq!(first["app"], "Backup", "{burst}");
    assert_eq!(
        (first["from_hour"].as_u64(), first["to_hour"].as_u64()),
        (Some(12), Some(13))
    );
    assert!(
        first["bytes"].as_u64().unwrap() >= 30_000_000_000,
        "{burst}"
    );
    assert!(
        first["typical_bytes"].as_u64().unwrap() < 100_000_000,
        "{burst}"
    );

    let human = sb.ok(&["detect", "--day", &day]);
    assert!(
        human.contains("anomalous") && human.contains("Backup 12:00–13:00: 30 GB"),
        "{human}"
    );

    let listed = json(&sb.ok(&["verdicts", "--json"]));
    let days: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["day"].as_str().unwrap())
        .collect();
    assert_eq!(days, vec![yesterday.to_string().as_str(), day.as_str()]);
    assert_eq!(listed[1]["marked_normal"], false);
    sb.ok(&["mark-normal", &day]);
    let listed = json(&sb.ok(&["verdicts", "--json"]));
    assert_eq!(listed[1]["marked_normal"], true);
    let out = sb.run(&["mark-normal", "2001-01-01"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no verdict"));

    // "This is my new normal" from the burst's day: its verdict keeps the
    // change, and the day after has one baseline day, from it on.
    let said = sb.ok(&["new-normal", &day]);
    assert!(said.contains(&format!("new normal from {day}")), "{said}");
    let kept = json(&sb.ok(&["verdicts", "--json"]));
    assert_eq!(kept[1]["routine"]["by"], "owner", "{kept}");
    assert_eq!(kept[1]["routine"]["since"], day.as_str(), "{kept}");
    let after = (tomorrow + chrono::Duration::days(1)).to_string();
    let out = sb.run(&["new-normal", &after]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("has not been judged"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn detect_without_a_store_says_so() {
    let sb = Sandbox::new();
    let out = sb.run(&["detect"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no data yet"));
}

#[test]
fn eval_prints_a_confusion_table_per_kind() {
    let sb = Sandbox::new();
    let out = sb.ok(&[
        "eval",
        "--days-per-kind",
        "1",
        "--model",
        "original",
        "--baseline-days",
        "7",
    ]);
    for kind in [
        "normal day",
        "movies during work hours",
        "work apps all evening",
        "streaming all night",
        "large burst at 3 AM",
        "Chrome instead of Safari for an hour",
        "Slack link: 1 MB to 20 MB in an hour",
    ] {
        assert!(out.contains(kind), "{kind}: {out}");
    }
    assert!(out.contains("model original: 7 test days"), "{out}");
}
