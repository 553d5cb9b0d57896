//! The window's commands, called through Tauri's IPC in process (mock
//! runtime, the app's real permissions), against a real SQLite file seeded
//! with known ticks and a running pipeline on a replay source. Each answer
//! is checked for the shape `ui/src/api.ts` reads and for its values.

use nbi_core::store::TickWriter;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Duration as Days, NaiveDate, Utc};
use chrono_tz::Tz;
use nbi_app::settings::Settings;
use nbi_app::state::AppState;
use nbi_core::config::Config;
use nbi_core::store::local_day_bounds;
use nbi_core::store::sqlite::SqliteStore;
use nbi_core::synth::{Generator, Scenario};
use nbi_core::Tick;
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{App, Manager, WebviewWindow, WebviewWindowBuilder};

const HOST: &str = "laptop";

struct Fixture {
    _dir: tempfile::TempDir,
    app: App<MockRuntime>,
    window: WebviewWindow<MockRuntime>,
    today: NaiveDate,
    /// Bytes in and out seeded today, per app.
    today_ticks: Vec<Tick>,
}

fn utc() -> Tz {
    "UTC".parse().unwrap()
}

/// One hour-long tick per hour of a synthetic day.
fn hourly_day(day: NaiveDate, apps: &[(String, [f64; 24])]) -> Vec<Tick> {
    let start = local_day_bounds(day, utc()).start;
    (0..24)
        .map(|h| {
            Tick::from_totals(
                HOST,
                start + Days::hours(h),
                3600,
                apps.iter().map(|(a, v)| {
                    let bytes = v[h as usize] as u64;
                    // Mostly downloads, as the persona's apps are.
                    (a.clone(), (bytes * 9 / 10, bytes / 10))
                }),
            )
        })
        .collect()
}

/// 70 ordinary days before yesterday; yesterday with 30 GB an hour
/// downloaded by an app never seen before, 01:00–05:00; three minutes of
/// today; and a replay file of ticks from long ago (so that the running
/// pipeline does not change the days looked at).
fn seed(dir: &Path, today: NaiveDate) -> Vec<Tick> {
    let mut store = SqliteStore::open(&dir.join("nbi.sqlite")).unwrap();
    let mut gen = Generator::new(7);
    let yesterday = today - Days::days(1);
    for back in (2..=70).rev() {
        let day = today - Days::days(back);
        store
            .write(&hourly_day(day, &gen.scenario_day(day, Scenario::Normal)))
            .unwrap();
    }
    let mut odd = gen.scenario_day(yesterday, Scenario::Normal);
    let mut burst = [0.0; 24];
    burst[1..5].fill(30e9);
    odd.push(("Transmission".to_string(), burst));
    store.write(&hourly_day(yesterday, &odd)).unwrap();

    let start = local_day_bounds(today, utc()).start;
    let on = |app: &str, bytes: (u64, u64), network: Option<&str>| {
        let flow = nbi_core::tick::Flow::new(bytes.0, bytes.1);
        nbi_core::tick::AppFlows {
            app: app.into(),
            flow,
            to: Default::default(),
            net: network
                .map(|n| (nbi_core::tick::NetworkId::new(n).unwrap(), flow))
                .into_iter()
                .collect(),
        }
    };
    let today_ticks = vec![
        Tick::from_flows(
            HOST,
            start,
            60,
            [
                on("Slack", (1_000, 100), None),
                on("Safari", (5_000, 500), Some("cell:pdp_ip0")),
            ],
        ),
        Tick::from_totals(
            HOST,
            start + Days::minutes(1),
            60,
            [("Slack".to_string(), (2_000u64, 200u64))],
        ),
        Tick::from_flows(
            HOST,
            start + Days::minutes(7),
            60,
            [on("Mail", (300, 30), Some("wifi:Home"))],
        ),
    ];
    store.write(&today_ticks).unwrap();

    let long_ago: DateTime<Utc> = "2020-01-01T00:00:00Z".parse().unwrap();
    let replay: Vec<String> = (0..100)
        .map(|i| {
            Tick::from_totals(
                HOST,
                long_ago + Days::minutes(i),
                60,
                [("Replayed".to_string(), (10u64, 1u64))],
            )
            .to_json()
        })
        .collect();
    std::fs::write(dir.join("replay.ndjson"), replay.join("\n")).unwrap();
    today_ticks
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let today = Utc::now().date_naive();
    let today_ticks = seed(dir.path(), today);
    let mut config = Config {
        host: HOST.into(),
        timezone: "UTC".into(),
        ..Config::default()
    };
    config.store.db = dir.path().join("nbi.sqlite");
    config.intel.epochs = 60;
    // A plan whose period starts today: today's seeded bytes are its usage.
    config.plan = nbi_core::plan::Plans(vec![nbi_core::plan::PlanConfig {
        limit: Some(nbi_core::plan::DataSize(1_000_000)),
        billing_day: chrono::Datelike::day(&today),
        ..nbi_core::plan::PlanConfig::default()
    }]);
    // One tick a minute of replay: the pipeline keeps watching while the test runs.
    let mut settings =
        Settings::new(config, Some((dir.path().join("replay.ndjson"), 1.0))).unwrap();
    settings.notify = false;
    let state = AppState::new(settings, None);
    let app = mock_builder()
        .manage(state)
        .invoke_handler(nbi_app::commands::handler())
        .build(nbi_app::context())
        .unwrap();
    // Watching only: the nightly judge would judge yesterday on start.
    app.state::<AppState>().start_watching();
    let window = WebviewWindowBuilder::new(&app, nbi_app::WINDOW, Default::default())
        .build()
        .unwrap();
    Fixture {
        _dir: dir,
        app,
        window,
        today,
        today_ticks,
    }
}

fn invoke(window: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    get_ipc_response(
        window,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|body| body.deserialize::<Value>().unwrap())
}

fn call(f: &Fixture, cmd: &str, args: Value) -> Value {
    invoke(&f.window, cmd, args).unwrap_or_else(|e| panic!("{cmd} failed: {e}"))
}

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect()
}

fn set<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
    names.iter().copied().collect()
}

const VERDICT_KEYS: &[&str] = &[
    "day",
    "status",
    "error",
    "threshold",
    "baseline_days",
    "baseline",
    "day_kind",
    "uncollected_hours",
    "model",
    "apps",
    "explanation",
    "summary",
    "marked_normal",
];

/// The status once it is in one of the states `want`, with a tick seen.
fn wait_for_state(f: &Fixture, want: &[&str]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = call(f, "status", json!({}));
        if want.contains(&s["state"].as_str().unwrap_or_default()) && !s["last_tick"].is_null() {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "status never became {want:?}: {s}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_window_reads_the_day_the_typical_day_and_learning() {
    let f = fixture();
    let today = f.today.to_string();

    let curve = call(&f, "day_curve", json!({ "stepMin": 5 }));
    assert_eq!(
        keys(&curve),
        set(&["day", "timezone", "start", "step_s", "slots", "now_slot", "apps"])
    );
    assert_eq!(curve["day"], today);
    assert_eq!(curve["timezone"], "UTC");
    assert_eq!(curve["step_s"], 300);
    assert_eq!(curve["slots"], 288);
    let start = local_day_bounds(f.today, utc()).start;
    assert_eq!(curve["start"], start.timestamp());
    let now_slot = ((Utc::now() - start).num_seconds() / 300) as u64;
    let got = curve["now_slot"].as_u64().unwrap();
    assert!(
        got == now_slot || got + 1 == now_slot,
        "{got} vs {now_slot}"
    );
    let apps = curve["apps"].as_array().unwrap();
    let names: Vec<&str> = apps.iter().map(|a| a["app"].as_str().unwrap()).collect();
    assert_eq!(names, ["Safari", "Slack", "Mail"], "largest first");
    for a in apps {
        assert_eq!(
            keys(a),
            set(&["app", "bytes_in", "bytes_out", "total_in", "total_out"])
        );
        assert_eq!(a["bytes_in"].as_array().unwrap().len(), 288);
    }
    let slack = &apps[1];
    assert_eq!(
        (slack["total_in"].as_u64(), slack["total_out"].as_u64()),
        (Some(3000), Some(300))
    );
    // 00:00 and 00:01 fall in the first five-minute slot; Mail's 00:07 in the second.
    assert_eq!(slack["bytes_in"][0], 3000);
    assert_eq!(apps[2]["bytes_in"][1], 300);
    let sum_in: u64 = apps.iter().map(|a| a["total_in"].as_u64().unwrap()).sum();
    let seeded_in: u64 = f.today_ticks.iter().map(Tick::total_in).sum();
    assert_eq!(sum_in, seeded_in);

    let minute = call(&f, "day_curve", json!({ "day": today, "stepMin": 1 }));
    assert_eq!(
        (minute["slots"].as_u64(), minute["step_s"].as_u64()),
        (Some(1440), Some(60))
    );
    assert_eq!(minute["apps"][1]["bytes_in"][1], 2000);
    let before = (f.today - Days::days(3)).to_string();
    let old = call(&f, "day_curve", json!({ "day": before, "stepMin": 5 }));
    assert!(old["now_slot"].is_null());
    assert!(!old["apps"].as_array().unwrap().is_empty());
    let bad = invoke(
        &f.window,
        "day_curve",
        json!({ "day": "2026-02-30", "stepMin": 5 }),
    );
    assert!(bad.unwrap_err().as_str().unwrap().contains("YYYY-MM-DD"));
    let bad = invoke(&f.window, "day_curve", json!({ "stepMin": 0 }));
    assert!(bad.unwrap_err().as_str().unwrap().contains("1 to 60"));

    let typical = call(&f, "typical_day", json!({ "stepMin": 5 }));
    assert_eq!(
        keys(&typical),
        set(&[
            "day",
            "step_s",
            "slots",
            "baseline_days",
            "bytes_in",
            "bytes_out"
        ])
    );
    assert_eq!(
        (typical["day"].as_str(), typical["slots"].as_u64()),
        (Some(today.as_str()), Some(288))
    );
    assert_eq!(typical["baseline_days"], 14);
    for dir in ["bytes_in", "bytes_out"] {
        let band = &typical[dir];
        assert_eq!(keys(band), set(&["low", "mid", "high"]));
        let (low, mid, high) = (
            band["low"].as_array().unwrap(),
            band["mid"].as_array().unwrap(),
            band["high"].as_array().unwrap(),
        );
        assert_eq!((low.len(), mid.len(), high.len()), (288, 288, 288));
        for i in 0..288 {
            let (l, m, h) = (
                low[i].as_u64().unwrap(),
                mid[i].as_u64().unwrap(),
                high[i].as_u64().unwrap(),
            );
            assert!(l <= m && m <= h, "{dir} slot {i}: {l} {m} {h}");
        }
        // A day's typical traffic is neither nothing nor everything.
        let day_total: u64 = mid.iter().map(|v| v.as_u64().unwrap()).sum();
        assert!(day_total > 1_000_000, "{dir}: {day_total}");
    }

    let learning = call(&f, "learning", json!({}));
    assert_eq!(keys(&learning), set(&["have", "need", "day_kind"]));
    assert_eq!(
        (learning["have"].as_u64(), learning["need"].as_u64()),
        (Some(7), Some(7))
    );
    let kind = if nbi_core::synth::is_workday(f.today) {
        "workday"
    } else {
        "day_off"
    };
    assert_eq!(learning["day_kind"], kind);
}

#[test]
fn check_now_judges_yesterday_and_the_owner_can_call_it_normal() {
    let f = fixture();
    let yesterday = (f.today - Days::days(1)).to_string();
    assert!(
        call(&f, "verdict", json!({})).is_null(),
        "nothing judged yet"
    );
    assert_eq!(call(&f, "history", json!({})), json!([]));

    let v = call(&f, "check_now", json!({}));
    assert_eq!(keys(&v), set(VERDICT_KEYS));
    assert_eq!(v["day"], yesterday);
    assert_eq!(v["status"], "anomalous", "{v}");
    assert_eq!(v["marked_normal"], false);
    let first = &v["explanation"][0];
    assert_eq!(
        keys(first),
        set(&[
            "app",
            "from_hour",
            "to_hour",
            "bytes",
            "typical_bytes",
            "new"
        ])
    );
    assert_eq!(first["app"], "Transmission", "{v}");
    assert_eq!(first["new"], "app", "never seen before: {v}");
    assert!(v["summary"].as_str().unwrap().contains("Transmission"));
    assert!(v["error"].as_f64().unwrap() > v["threshold"].as_f64().unwrap());

    // Stored: the last judged day, by day, and in the history.
    assert_eq!(call(&f, "verdict", json!({})), v);
    assert_eq!(call(&f, "verdict", json!({ "day": yesterday })), v);
    let before = (f.today - Days::days(2)).to_string();
    assert!(call(&f, "verdict", json!({ "day": before })).is_null());
    let history = call(&f, "history", json!({ "limit": 7 }));
    assert_eq!(
        history,
        json!([{ "day": yesterday, "status": "anomalous", "summary": v["summary"], "marked_normal": false }])
    );

    let marked = call(&f, "mark_normal", json!({ "day": yesterday }));
    assert_eq!(marked["marked_normal"], true);
    assert_eq!(
        marked["status"], "anomalous",
        "the verdict stays; the mark is added"
    );
    assert_eq!(call(&f, "verdict", json!({}))["marked_normal"], true);
    assert_eq!(call(&f, "history", json!({}))[0]["marked_normal"], true);
    let unjudged = invoke(&f.window, "mark_normal", json!({ "day": before }));
    assert!(unjudged
        .unwrap_err()
        .as_str()
        .unwrap()
        .contains("not been judged"));
    let missing = invoke(&f.window, "mark_normal", json!({}));
    assert!(missing.is_err(), "a day is required");

    let renewed = call(&f, "new_normal", json!({ "day": yesterday }));
    assert_eq!(renewed["day"], yesterday);
    assert_eq!(renewed["marked_normal"], true);
    assert_eq!(
        (&renewed["routine"]["since"], &renewed["routine"]["by"]),
        (&json!(yesterday), &json!("owner"))
    );
    assert!(
        renewed["routine"]["kind"].is_null(),
        "every kind of day: {renewed}"
    );
    let unjudged = invoke(&f.window, "new_normal", json!({ "day": before }));
    assert!(unjudged
        .unwrap_err()
        .as_str()
        .unwrap()
        .contains("has not been judged"));
}

#[test]
fn pause_and_resume_stop_and_restart_watching() {
    let f = fixture();
    let s = wait_for_state(&f, &["watching"]);
    assert_eq!(
        keys(&s),
        set(&[
            "state",
            "reason",
            "last_tick",
            "source",
            "host",
            "grafana_url",
            "plan",
            "plans"
        ])
    );
    assert_eq!(
        (s["source"].as_str(), s["host"].as_str()),
        (Some("replay"), Some(HOST))
    );
    assert!(s["reason"].is_null() && s["grafana_url"].is_null());
    assert_eq!(s["last_tick"], "2020-01-01T00:00:00Z");

    let paused = call(&f, "pause", json!({}));
    assert_eq!(paused["state"], "paused");
    assert_eq!(call(&f, "status", json!({}))["state"], "paused");
    let resumed = call(&f, "resume", json!({}));
    assert!(
        ["starting", "watching"].contains(&resumed["state"].as_str().unwrap()),
        "{resumed}"
    );
    wait_for_state(&f, &["watching"]);
}

#[test]
fn only_the_main_window_may_call_the_commands() {
    let f = fixture();
    let other = WebviewWindowBuilder::new(&f.app, "elsewhere", Default::default())
        .build()
        .unwrap();
    let denied = invoke(&other, "status", json!({})).unwrap_err();
    assert!(denied.to_string().contains("not allowed"), "{denied}");
    assert!(invoke(&f.window, "status", json!({})).is_ok());
    // Not a command of the app at all.
    let unknown = invoke(&f.window, "delete_everything", json!({})).unwrap_err();
    assert!(unknown.to_string().contains("not found"), "{unknown}");
}

#[test]
fn the_history_view_reads_days_and_months_and_the_status_carries_the_plan() {
    let f = fixture();
    let today = f.today.to_string();
    let h = call(
        &f,
        "usage_history",
        json!({ "from": today, "to": today, "by": "day" }),
    );
    assert_eq!(keys(&h), set(&["from", "to", "by", "rows"]));
    assert_eq!(
        (h["from"].as_str(), h["by"].as_str()),
        (Some(today.as_str()), Some("day"))
    );
    assert_eq!(
        h["rows"],
        json!([
            { "period": today, "app": "Safari", "bytes_in": 5000, "bytes_out": 500 },
            { "period": today, "app": "Slack", "bytes_in": 3000, "bytes_out": 300 },
            { "period": today, "app": "Mail", "bytes_in": 300, "bytes_out": 30 },
        ])
    );
    // A month of the seeded past, one app: one row, its month's name.
    let from = (f.today - Days::days(40)).to_string();
    let m = call(
        &f,
        "usage_history",
        json!({ "from": from, "to": today, "by": "month", "app": "Slack" }),
    );
    let rows = m["rows"].as_array().unwrap();
    assert!(
        !rows.is_empty() && rows.iter().all(|r| r["app"] == "Slack"),
        "{m}"
    );
    assert!(
        rows.iter()
            .all(|r| r["period"].as_str().unwrap().len() == 7),
        "{m}"
    );
    // Mistakes are messages.
    let bad = invoke(
        &f.window,
        "usage_history",
        json!({ "from": today, "to": from, "by": "day" }),
    )
    .unwrap_err();
    assert!(bad.to_string().contains("ends before it starts"), "{bad}");
    let bad = invoke(
        &f.window,
        "usage_history",
        json!({ "from": from, "to": today, "by": "week" }),
    )
    .unwrap_err();
    assert!(
        bad.as_str().unwrap().contains("\"day\" or \"month\""),
        "{bad}"
    );

    let status = call(&f, "status", json!({}));
    let plan = &status["plan"];
    assert_eq!(plan["period_start"], today);
    assert_eq!(plan["used_bytes"], 9_130);
    assert_eq!(plan["limit_bytes"], 1_000_000);
    assert_eq!(status["plans"].as_array().map(Vec::len), Some(1));
    assert_eq!(plan["all_networks"], true);

    // Per network: the range's networks, and one network's history.
    let n = call(&f, "networks", json!({ "from": today, "to": today }));
    let ids: Vec<(&str, u64)> = n["networks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n["bytes_in"].as_u64().unwrap()))
        .collect();
    assert_eq!(ids, vec![("cell:pdp_ip0", 5_000), ("wifi:Home", 300)]);
    let cell = call(
        &f,
        "usage_history",
        json!({ "from": today, "to": today, "by": "day", "network": "cell:pdp_ip0" }),
    );
    assert_eq!(
        cell["rows"],
        json!([{ "period": today, "app": "Safari", "bytes_in": 5000, "bytes_out": 500 }])
    );
    // The window may ask where the bytes went (none recorded here).
    let d = call(&f, "destinations", json!({ "from": today, "to": today }));
    assert_eq!(d["rows"], json!([]));
    let bad = invoke(
        &f.window,
        "usage_history",
        json!({ "from": today, "to": today, "by": "day", "network": "" }),
    )
    .unwrap_err();
    assert!(bad.as_str().unwrap().contains("network id"), "{bad}");
}
