//! `nbi run --notify` judges the missed day on start and shows an unusual one
//! through a real notification daemon (dunst), read back here.
#![cfg(all(unix, not(target_os = "macos")))]

mod support;

use std::time::Duration;

use support::desktop::Desktop;
use support::*;

#[test]
fn an_unusual_yesterday_is_notified_with_its_explanation() {
    let desktop = match Desktop::start() {
        Ok(d) => d,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let sb = Sandbox::new();
    // A month of the made-up person's history, then 30 GB at 03:00 yesterday
    // from an app that never had traffic before.
    sb.ok(&["demo", "--days", "30", "--db", sb.db().to_str().unwrap()]);
    let yesterday = chrono::Utc::now().date_naive() - chrono::Duration::days(1);
    let burst = sb.write(
        "burst.ndjson",
        &format!(
            "{{\"schema\":1,\"host\":\"testhost\",\"timestamp\":\"{}T03:00:30Z\",\"interval_s\":60,\"app_usage\":{{\"Transmission\":{{\"in\":30000000000,\"out\":1000000}}}}}}\n",
            yesterday.format("%Y-%m-%d")
        ),
    );
    sb.ok(&["import", burst.to_str().unwrap()]);

    // A run that replays nothing new: it starts, catches up on yesterday, stops.
    let empty = sb.write("empty.ndjson", "\n");
    let out = sb
        .cmd()
        .env("DBUS_SESSION_BUS_ADDRESS", &desktop.bus)
        .args([
            "run",
            "--notify",
            "--source",
            "replay",
            "--replay-file",
            empty.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");

    let shown = wait_for(Duration::from_secs(10), || {
        (desktop.dunstctl(&["count", "displayed"]).trim() == "1").then_some(())
    });
    assert!(
        shown.is_some(),
        "no notification displayed; nbi said:\n{stderr}"
    );
    let notes = desktop.shown();
    assert_eq!(notes.len(), 1, "{notes:?}");
    let (app, title, body) = &notes[0];
    assert_eq!(app, "Network Behavior Intelligence");
    assert_eq!(title, "Unusual network day");
    assert!(
        body.contains(&yesterday.format("%-d %b").to_string()),
        "{body}"
    );
    assert!(
        body.contains("Transmission 03:00–04:00"),
        "the app behind \"other\" is named: {body}"
    );
    assert!(body.contains("GB"), "{body}");
    let verdicts: serde_json::Value =
        serde_json::from_str(&sb.ok(&["verdicts", "--json"])).unwrap();
    assert_eq!(verdicts[0]["status"], "anomalous", "{verdicts}");
}
