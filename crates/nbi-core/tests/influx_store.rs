//! The InfluxDB store against a real InfluxDB server (started on 127.0.0.1 by
//! `scripts/test_services.sh`, which `./scripts/test` runs): it answers every
//! query exactly as the SQLite store does on the same ticks.
#![cfg(feature = "influx")]

mod support;

use nbi_core::store::{TickWriter, UsageQuery};
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;
use nbi_core::intel::{judge, IntelConfig};
use nbi_core::store::influx::InfluxStore;
use nbi_core::store::sqlite::SqliteStore;
use nbi_core::store::{HostFilter, Store};
use nbi_core::synth::Generator;
use nbi_core::Tick;

/// A store on a database of its own, dropped at the end.
struct Scratch {
    store: InfluxStore,
    name: String,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = self
            .store
            .query(&format!("DROP DATABASE \"{}\"", self.name));
    }
}

fn scratch(create: bool) -> Option<Scratch> {
    let url = support::services::server("NBI_TEST_INFLUX_URL", "InfluxDB")?;
    static N: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "nbi_test_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    let store = InfluxStore::new(
        &nbi_core::store::InfluxDbConfig {
            url,
            database: name.clone(),
            batch_points: 5000,
            ..nbi_core::store::InfluxDbConfig::default()
        },
        None,
    );
    if create {
        store.create_database().expect("create the test database");
    }
    Some(Scratch { store, name })
}

fn history(days: std::ops::RangeInclusive<NaiveDate>, tz: Tz) -> Vec<Tick> {
    let mut gen = Generator::new(11);
    let mut ticks = Vec::new();
    for day in days.start().iter_days().take_while(|d| d <= days.end()) {
        ticks.extend(gen.day_ticks("mbp", day, tz, None));
        // A second host with a little traffic of its own.
        ticks.extend(
            gen.day_ticks("studio", day, tz, None)
                .into_iter()
                .step_by(7),
        );
    }
    ticks
}

fn both(ticks: &[Tick]) -> Option<(Scratch, tempfile::TempDir, SqliteStore)> {
    let mut influx = scratch(true)?;
    let dir = tempfile::tempdir().unwrap();
    let mut sqlite = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
    for chunk in ticks.chunks(2000) {
        influx.store.write(chunk).unwrap();
        sqlite.write(chunk).unwrap();
    }
    Some((influx, dir, sqlite))
}

#[test]
fn answers_like_sqlite_across_a_dst_change_and_two_hosts() {
    let tz: Tz = "Europe/Berlin".parse().unwrap();
    let d = |day| NaiveDate::from_ymd_opt(2026, 10, day).unwrap();
    let ticks = history(d(24)..=d(26), tz);
    let Some((influx, _dir, sqlite)) = both(&ticks) else {
        return;
    };
    let i = &influx.store;
    assert!(
        sqlite
            .hourly(&HostFilter::All, d(24), d(26), tz)
            .unwrap()
            .len()
            > 100
    );
    for host in [
        HostFilter::All,
        HostFilter::One("mbp".into()),
        HostFilter::One("studio".into()),
    ] {
        assert_eq!(
            i.hourly(&host, d(24), d(26), tz).unwrap(),
            sqlite.hourly(&host, d(24), d(26), tz).unwrap(),
            "{host:?}"
        );
        assert_eq!(
            i.coverage(&host, d(24), d(26), tz).unwrap(),
            sqlite.coverage(&host, d(24), d(26), tz).unwrap(),
            "{host:?}"
        );
        for day in [d(24), d(25), d(26)] {
            assert_eq!(
                i.day_totals(&host, day, tz).unwrap(),
                sqlite.day_totals(&host, day, tz).unwrap()
            );
            for step in [1, 5, 60] {
                assert_eq!(
                    i.day_curve(&host, day, tz, step).unwrap(),
                    sqlite.day_curve(&host, day, tz, step).unwrap(),
                    "{host:?} {day} step {step}"
                );
            }
        }
    }
    // The 25-hour day folds its repeated hour, as in SQLite.
    assert_eq!(
        i.coverage(&HostFilter::One("mbp".into()), d(25), d(25), tz)
            .unwrap()
            .len(),
        24
    );
    let (a, b) = (i.summary().unwrap(), sqlite.summary().unwrap());
    assert_eq!(
        (a.ticks, a.samples, a.hosts, a.first_tick, a.last_tick),
        (b.ticks, b.samples, b.hosts, b.first_tick, b.last_tick)
    );
}

#[test]
fn a_rewritten_batch_counts_once() {
    let tz: Tz = "UTC".parse().unwrap();
    let day = NaiveDate::from_ymd_opt(2026, 7, 11).unwrap();
    let ticks = history(day..=day, tz);
    let Some((mut influx, _dir, sqlite)) = both(&ticks) else {
        return;
    };
    influx.store.write(&ticks[..500]).unwrap();
    let host = HostFilter::All;
    assert_eq!(
        influx.store.day_totals(&host, day, tz).unwrap(),
        sqlite.day_totals(&host, day, tz).unwrap()
    );
}

#[test]
fn a_different_tick_at_a_stored_key_is_added_on_both_stores() {
    let tz: Tz = "UTC".parse().unwrap();
    let day = NaiveDate::from_ymd_opt(2026, 7, 11).unwrap();
    let at = day.and_hms_opt(12, 0, 0).unwrap().and_utc();
    let t = |apps: &[(&str, u64, u64)]| {
        Tick::from_totals(
            "default",
            at,
            60,
            apps.iter().map(|(a, i, o)| (a.to_string(), (*i, *o))),
        )
    };
    // Two machines as "default" in the same second; then redeliveries.
    let first = t(&[("Zoom", 300, 30)]);
    let second = t(&[("Zoom", 400, 40), ("Mail", 5, 6)]);
    let Some((mut influx, _dir, mut sqlite)) = both(std::slice::from_ref(&first)) else {
        return;
    };
    for store in [&mut influx.store as &mut dyn Store, &mut sqlite] {
        let r = store.write(std::slice::from_ref(&second)).unwrap();
        assert_eq!((r.ticks_merged, r.ticks_skipped), (1, 0));
        // In one batch: both again, and a third message twice.
        let third = t(&[("Zoom", 1, 1)]);
        let r = store
            .write(&[first.clone(), second.clone(), third.clone(), third])
            .unwrap();
        assert_eq!(
            (r.ticks_written, r.ticks_merged, r.ticks_skipped),
            (0, 1, 3)
        );
    }
    let host = HostFilter::All;
    let totals = influx.store.day_totals(&host, day, tz).unwrap();
    assert_eq!(totals, sqlite.day_totals(&host, day, tz).unwrap());
    let zoom = totals.iter().find(|a| a.app == "Zoom").unwrap();
    assert_eq!((zoom.bytes_in, zoom.bytes_out), (701, 71));
    assert_eq!(
        influx.store.coverage(&host, day, day, tz).unwrap(),
        sqlite.coverage(&host, day, day, tz).unwrap(),
        "one minute watched, not three"
    );
}

#[test]
fn a_missing_database_is_a_permanent_error_that_says_so() {
    let Some(mut missing) = scratch(false) else {
        return;
    };
    let t = Tick::from_totals("h", chrono::Utc::now(), 60, [("a".to_string(), (1, 2))]);
    let err = missing.store.write(&[t]).unwrap_err();
    assert!(!err.is_transient(), "retrying cannot help: {err}");
    assert!(err.to_string().contains("database not found"), "{err}");
}

#[test]
fn detect_gives_the_same_verdict_on_both_stores() {
    let tz: Tz = "UTC".parse().unwrap();
    let last = NaiveDate::from_ymd_opt(2026, 7, 14).unwrap();
    let mut ticks = history(last - Duration::days(21)..=last, tz);
    // Something unusual on the judged day: 20 GB at 03:00 from a new app.
    let at = last.and_hms_opt(3, 0, 30).unwrap().and_utc();
    ticks.push(Tick::from_totals(
        "mbp",
        at,
        60,
        [("Transmission".to_string(), (20_000_000_000, 0))],
    ));
    let Some((influx, _dir, sqlite)) = both(&ticks) else {
        return;
    };
    let cfg = IntelConfig::default();
    let a = judge(&influx.store, "mbp", last, tz, &cfg).unwrap().verdict;
    let b = judge(&sqlite, "mbp", last, tz, &cfg).unwrap().verdict;
    assert_eq!(a.status, b.status);
    assert_eq!(a.error, b.error);
    assert_eq!(a.threshold, b.threshold);
    assert_eq!(a.explanation, b.explanation);
    assert_eq!(a.status.name(), "anomalous", "{}", a.summary);
}

/// Ticks of two apps over two days, part of their bytes to known public
/// addresses, a local one and an unknown one, with a second message at
/// one stored key.
fn ticks_with_destinations() -> Vec<Tick> {
    use nbi_core::tick::{Destinations, Flow};
    let start = chrono::DateTime::from_timestamp(1_783_728_000, 0).unwrap(); // 2026-07-11 00:00 UTC
    let to = |parts: &[(&str, u64, u64)]| -> Destinations {
        parts
            .iter()
            .map(|(a, i, o)| (a.parse().unwrap(), Flow::new(*i, *o)))
            .collect()
    };
    let mut ticks = Vec::new();
    for m in (0..2 * 24 * 60).step_by(37) {
        let at = start + Duration::minutes(m);
        let k = m as u64;
        ticks.push(Tick::from_flows(
            "mbp",
            at,
            60,
            [
                (
                    "Safari".to_string(),
                    Flow::new(5_000 + k, 900),
                    to(&[
                        ("17.253.144.10", 3_000 + k, 500),
                        ("2606:4700::6810:84e5", 1_000, 100),
                        ("192.168.1.1", 10, 10),
                    ]),
                ),
                (
                    "curl".to_string(),
                    Flow::new(70_000, 1_000),
                    to(&[("198.18.9.2", 60_000, 900), ("8.8.8.8", 1_000, 50)]),
                ),
            ],
        ));
    }
    // Another message at the first key: added, destinations too.
    ticks.push(Tick::from_flows(
        "mbp",
        start,
        60,
        [(
            "curl".to_string(),
            Flow::new(4_000, 40),
            to(&[("198.18.9.2", 4_000, 40)]),
        )],
    ));
    ticks
}

#[test]
fn destinations_answer_like_sqlite_and_come_back_in_exports() {
    let ticks = ticks_with_destinations();
    let Some((influx, _dir, sqlite)) = both(&ticks) else {
        return;
    };
    let tz: Tz = "Europe/Berlin".parse().unwrap();
    let (d1, d3) = (
        NaiveDate::from_ymd_opt(2026, 7, 10).unwrap(),
        NaiveDate::from_ymd_opt(2026, 7, 13).unwrap(),
    );
    for app in [None, Some("curl")] {
        let want = sqlite
            .destinations(&HostFilter::All, d1, d3, tz, app)
            .unwrap();
        assert!(!want.is_empty());
        assert_eq!(
            influx
                .store
                .destinations(&HostFilter::All, d1, d3, tz, app)
                .unwrap(),
            want,
            "app {app:?}"
        );
    }
    let sort = |mut v: Vec<nbi_core::store::HourlyDestination>| {
        v.sort_by(|a, b| {
            (a.day, a.hour, &a.app, a.address).cmp(&(b.day, b.hour, &b.app, b.address))
        });
        v
    };
    let day = NaiveDate::from_ymd_opt(2026, 7, 11).unwrap();
    assert_eq!(
        sort(
            influx
                .store
                .hourly_destinations(&HostFilter::All, day, day, tz)
                .unwrap()
        ),
        sort(
            sqlite
                .hourly_destinations(&HostFilter::All, day, day, tz)
                .unwrap()
        )
    );
    // Every tick comes back with its destinations.
    let (start, end) = (
        chrono::DateTime::from_timestamp(1_783_728_000 - 86_400, 0).unwrap(),
        chrono::DateTime::from_timestamp(1_783_728_000 + 3 * 86_400, 0).unwrap(),
    );
    let collect = |s: &dyn UsageQuery| {
        let mut out = Vec::new();
        s.for_each_tick(&HostFilter::All, start, end, &mut |t| {
            out.push(t);
            Ok(())
        })
        .unwrap();
        out
    };
    let back = collect(&influx.store);
    assert_eq!(back, collect(&sqlite));
    assert_eq!(
        back.len(),
        ticks.len() - 1,
        "the second message was added to the first"
    );
    assert_eq!(
        back[0]
            .apps
            .iter()
            .find(|a| a.app == "curl")
            .unwrap()
            .to
            .len(),
        2
    );
    // The organisation and country are tags, the address is not.
    let tags = influx
        .store
        .query("SHOW TAG KEYS FROM \"nbi_destination\"")
        .unwrap();
    let keys: Vec<String> = tags
        .iter()
        .flat_map(|s| s["values"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v[0].as_str().map(str::to_string))
        .collect();
    assert!(
        keys.contains(&"org".to_string()) && keys.contains(&"country".to_string()),
        "{keys:?}"
    );
    assert!(!keys.iter().any(|k| k == "address"), "{keys:?}");
}

/// Two days of ticks over three networks (Wi-Fi, a phone's hotspot, a
/// VPN), part of one app's bytes on no known network, and a second
/// message at one stored key.
fn ticks_with_networks() -> Vec<Tick> {
    use nbi_core::tick::{AppFlows, Flow, NetworkId};
    let start = chrono::DateTime::from_timestamp(1_783_728_000, 0).unwrap(); // 2026-07-11 00:00 UTC
    let net = |parts: &[(&str, u64, u64)]| {
        parts
            .iter()
            .map(|(n, i, o)| (NetworkId::new(*n).unwrap(), Flow::new(*i, *o)))
            .collect()
    };
    let app = |name: &str, flow: Flow, nets| AppFlows {
        app: name.into(),
        flow,
        to: Default::default(),
        net: nets,
    };
    let mut ticks = Vec::new();
    for m in (0..2 * 24 * 60).step_by(41) {
        let at = start + Duration::minutes(m);
        let k = m as u64;
        // The laptop is on the hotspot from 18:00 to 20:00 local.
        let away = (16 * 60..18 * 60).contains(&(m % (24 * 60)));
        let wifi = if away {
            "wifi:iPhone"
        } else {
            "wifi:Home, 5 GHz"
        };
        ticks.push(Tick::from_flows(
            "mbp",
            at,
            60,
            [
                app(
                    "Safari",
                    Flow::new(5_000 + k, 900),
                    net(&[(wifi, 4_000 + k, 800)]),
                ),
                app(
                    "Slack",
                    Flow::new(70_000, 1_000),
                    net(&[(wifi, 60_000, 900), ("vpn:utun3", 10_000, 100)]),
                ),
            ],
        ));
    }
    ticks.push(Tick::from_flows(
        "mbp",
        start,
        60,
        [app(
            "Slack",
            Flow::new(4_000, 40),
            net(&[("wifi:Home, 5 GHz", 4_000, 40)]),
        )],
    ));
    ticks
}

#[test]
fn networks_answer_like_sqlite_and_come_back_in_exports() {
    use nbi_core::history::{Granularity, HistoryQuery};
    use nbi_core::network::{report, Sighting};
    use nbi_core::plan::{self, DataSize, PlanConfig, Plans};
    use nbi_core::store::NetworkBook;
    use nbi_core::tick::NetworkId;

    let ticks = ticks_with_networks();
    let Some((mut influx, _dir, mut sqlite)) = both(&ticks) else {
        return;
    };
    let id = |s: &str| NetworkId::new(s).unwrap();
    let seen = [Sighting {
        id: id("wifi:iPhone"),
        name: "iPhone".into(),
        metered: Some(true),
    }];
    for s in [&mut influx.store as &mut dyn NetworkBook, &mut sqlite] {
        s.record_sightings(&seen).unwrap();
        s.name_network(&id("vpn:utun3"), Some("Work VPN")).unwrap();
        s.set_network_metered(&id("vpn:utun3"), Some(false))
            .unwrap();
        s.name_network(&id("wifi:Home, 5 GHz"), Some("Home"))
            .unwrap();
    }
    let tz: Tz = "Europe/Berlin".parse().unwrap();
    let (d1, d3) = (
        NaiveDate::from_ymd_opt(2026, 7, 10).unwrap(),
        NaiveDate::from_ymd_opt(2026, 7, 13).unwrap(),
    );
    let i = &influx.store;
    assert_eq!(i.networks().unwrap(), sqlite.networks().unwrap());
    let want = report::networks(&sqlite, &HostFilter::All, d1, d3, tz).unwrap();
    assert_eq!(want.networks.len(), 3);
    assert_eq!(
        report::networks(i, &HostFilter::All, d1, d3, tz).unwrap(),
        want
    );
    let iphone = want
        .networks
        .iter()
        .find(|n| n.id == id("wifi:iPhone"))
        .unwrap();
    assert_eq!((iphone.name.as_str(), iphone.metered), ("iPhone", true));
    let home = want.networks.iter().find(|n| n.name == "Home").unwrap();
    assert_eq!(home.first_seen, Some(ticks[0].at));
    for network in [None, Some(id("wifi:iPhone"))] {
        let query = HistoryQuery {
            host: HostFilter::One("mbp".into()),
            from: d1,
            to: d3,
            by: Granularity::Day,
            app: None,
            network: network.clone(),
        };
        let want = report::history(&sqlite, &query, Granularity::Day, tz).unwrap();
        assert!(!want.rows.is_empty());
        assert_eq!(
            report::history(i, &query, Granularity::Day, tz).unwrap(),
            want
        );
        let want = nbi_core::history::read(&sqlite, &query, tz).unwrap();
        assert_eq!(
            nbi_core::history::read(i, &query, tz).unwrap(),
            want,
            "{network:?}"
        );
    }
    let sort = |mut v: Vec<nbi_core::store::HourlyNetwork>| {
        v.sort_by(|a, b| {
            (a.day, a.hour, &a.app, &a.network).cmp(&(b.day, b.hour, &b.app, &b.network))
        });
        v
    };
    assert_eq!(
        sort(i.hourly_networks(&HostFilter::All, d1, d3, tz).unwrap()),
        sort(
            sqlite
                .hourly_networks(&HostFilter::All, d1, d3, tz)
                .unwrap()
        )
    );
    // Plans of the metered networks, of named ones, and of every network.
    let plans = Plans(vec![
        PlanConfig {
            name: "Phone".into(),
            limit: Some(DataSize(1_000_000)),
            metered: true,
            ..PlanConfig::default()
        },
        PlanConfig {
            name: "Work".into(),
            limit: Some(DataSize(1_000_000)),
            networks: vec![id("vpn:utun3")],
            ..PlanConfig::default()
        },
        PlanConfig {
            limit: Some(DataSize(1_000_000)),
            ..PlanConfig::default()
        },
    ]);
    let day = NaiveDate::from_ymd_opt(2026, 7, 12).unwrap();
    let want = plan::usages(&sqlite, &plans, "mbp", day, tz).unwrap();
    assert_eq!(plan::usages(i, &plans, "mbp", day, tz).unwrap(), want);
    assert!(want[0].used_bytes > 0 && want[0].used_bytes < want[2].used_bytes);
    assert_eq!(want[0].networks, vec![id("wifi:iPhone")]);
    // Every tick comes back with its networks.
    let (start, end) = (
        chrono::DateTime::from_timestamp(1_783_728_000 - 86_400, 0).unwrap(),
        chrono::DateTime::from_timestamp(1_783_728_000 + 3 * 86_400, 0).unwrap(),
    );
    let collect = |s: &dyn UsageQuery| {
        let mut out = Vec::new();
        s.for_each_tick(&HostFilter::All, start, end, &mut |t| {
            out.push(t);
            Ok(())
        })
        .unwrap();
        out
    };
    let back = collect(i);
    assert_eq!(back, collect(&sqlite));
    let slack = back[0].apps.iter().find(|a| a.app == "Slack").unwrap();
    assert_eq!(
        slack.net.get(&id("wifi:Home, 5 GHz")).map(|f| f.bytes_in),
        Some(64_000),
        "the second message at the key was added"
    );
}
