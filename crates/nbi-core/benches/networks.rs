//! Networks in the SQLite store: what a day of them adds to the file (50
//! apps every minute, a laptop on home Wi-Fi, then a phone's hotspot for
//! two hours, then home again, a VPN beside), against the same day without
//! them; and, at one year of hourly history with them, `nbi networks` over
//! 30 days, `history --by network` over 30 days and a plan of the metered
//! networks, against the history view's 30 days by day on the same file
//! (printed as a `growth:` line and criterion figures).

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, Duration, NaiveDate, Timelike, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use nbi_core::history::{self, Granularity, HistoryQuery};
use nbi_core::network::report;
use nbi_core::plan::{self, DataSize, PlanConfig, Plans};
use nbi_core::store::sqlite::SqliteStore;
use nbi_core::store::{HostFilter, NetworkBook, TickWriter, UsageQuery};
use nbi_core::tick::{AppFlows, Flow, NetworkId};
use nbi_core::Tick;

const APPS: usize = 50;

fn start() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default() // 2026-01-01T00:00Z
}

/// One tick of every app at `at`; with `networks`, each app's bytes over
/// the network of that hour (the hotspot 18:00–20:00, home otherwise),
/// every fifth app's tenth through the VPN.
fn tick(at: DateTime<Utc>, interval_s: u32, n: u64, networks: bool) -> Tick {
    let wifi = if (18..20).contains(&at.hour()) {
        NetworkId::from_parts("wifi", "iPhone")
    } else {
        NetworkId::from_parts("wifi", "Home")
    };
    let vpn = NetworkId::from_parts("vpn", "utun3");
    let apps = (0..APPS).map(|a| {
        let v = (n
            .wrapping_mul(6364136223846793005)
            .wrapping_add(a as u64 * 1442695040888963407)
            >> 44)
            + 1_000;
        let mut net = std::collections::BTreeMap::new();
        if networks {
            if a % 5 == 0 {
                net.insert(vpn.clone(), Flow::new(v / 10, 1));
                net.insert(wifi.clone(), Flow::new(v - v / 10, 9));
            } else {
                net.insert(wifi.clone(), Flow::new(v, 10));
            }
        }
        AppFlows {
            app: format!("App number {a:02}"),
            flow: Flow::new(v, 10),
            to: Default::default(),
            net,
        }
    });
    Tick::from_flows("bench", at, interval_s, apps)
}

/// The file's size with its write-ahead log folded in first, so that the
/// log's own swings (up to SQLite's 4 MB checkpoint) are not counted.
fn file_bytes(s: &SqliteStore) -> u64 {
    if let Ok(c) = rusqlite::Connection::open(s.path()) {
        let _ = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    }
    s.summary().ok().and_then(|x| x.file_bytes).unwrap_or(0)
}

/// Bytes a day of minute ticks adds to the file, after two days written
/// to warm it; then what a day keeps once its minutes are pruned.
fn day_growth(networks: bool) -> (u64, u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = SqliteStore::open(&dir.path().join("growth.sqlite")).expect("open");
    s.keep_days_in(chrono_tz::Europe::Berlin).expect("daily");
    let write_day = |s: &mut SqliteStore, d: i64| {
        let ticks: Vec<Tick> = (0..1440)
            .map(|m| {
                let n = (d * 1440 + m) as u64;
                tick(start() + Duration::minutes(d * 1440 + m), 60, n, networks)
            })
            .collect();
        s.write(&ticks).expect("write");
    };
    for d in 0..2 {
        write_day(&mut s, d);
    }
    let before = file_bytes(&s);
    for d in 2..5 {
        write_day(&mut s, d);
    }
    let per_day = (file_bytes(&s) - before) / 3;
    s.prune_minutes(start() + Duration::days(5)).expect("prune");
    let kept = file_bytes(&s) / 5;
    (per_day, kept)
}

/// A year of hourly ticks with networks, built once under target/.
fn year_db() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-networks");
    let path = dir.join("year-50-apps-3-networks-v1.sqlite");
    let done = dir.join("year-50-apps-3-networks-v1.done");
    if done.exists() {
        return path;
    }
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::create_dir_all(&dir);
    let mut s = SqliteStore::open(&path).expect("open");
    s.keep_days_in(chrono_tz::Europe::Berlin).expect("daily");
    let t0 = Instant::now();
    let hours = 365 * 24;
    let mut batch = Vec::with_capacity(500);
    for h in 0..hours {
        batch.push(tick(start() + Duration::hours(h), 3600, h as u64, true));
        if batch.len() == 500 {
            s.write(&batch).expect("write");
            batch.clear();
        }
    }
    s.write(&batch).expect("write");
    s.set_network_metered(&NetworkId::from_parts("wifi", "iPhone"), Some(true))
        .expect("metered");
    eprintln!(
        "built {} in {:.0} s",
        path.display(),
        t0.elapsed().as_secs_f64()
    );
    std::fs::write(&done, b"ok").expect("marker");
    path
}

fn growth(_c: &mut Criterion) {
    let (with, kept_with) = day_growth(true);
    let (without, kept_without) = day_growth(false);
    println!(
        "growth: a day of 50 apps every minute over 1-2 networks each: {:.2} MB with networks, {:.2} MB without ({:.2}x); once its minutes are pruned {:.2} MB a day with, {:.2} MB without",
        with as f64 / 1e6,
        without as f64 / 1e6,
        with as f64 / without.max(1) as f64,
        kept_with as f64 / 1e6,
        kept_without as f64 / 1e6,
    );
}

fn queries(c: &mut Criterion) {
    let path = year_db();
    let store = SqliteStore::open_read_only(&path).expect("open year store");
    let berlin = chrono_tz::Europe::Berlin;
    let last = NaiveDate::from_ymd_opt(2026, 12, 31).expect("date");
    let from = last - Duration::days(29);
    let host = HostFilter::One("bench".into());
    let mut g = c.benchmark_group("networks_year_50_apps_3_networks");
    let found = report::networks(&store, &host, from, last, berlin).expect("networks");
    assert_eq!(found.networks.len(), 3);
    g.bench_function("nbi_networks_30_days", |b| {
        b.iter(|| report::networks(&store, &host, from, last, berlin).expect("networks"))
    });
    let h = HistoryQuery {
        host: host.clone(),
        from,
        to: last,
        by: Granularity::Day,
        app: None,
        network: None,
    };
    g.bench_function("history_by_network_30_days", |b| {
        b.iter(|| report::history(&store, &h, Granularity::Day, berlin).expect("history"))
    });
    let plans = Plans(vec![PlanConfig {
        name: "Phone".into(),
        limit: Some(DataSize(10_000_000_000)),
        metered: true,
        ..PlanConfig::default()
    }]);
    let phone = plan::usages(&store, &plans, "bench", last, berlin).expect("plan");
    assert!(phone[0].used_bytes > 0);
    g.bench_function("plan_of_the_metered_networks", |b| {
        b.iter(|| plan::usages(&store, &plans, "bench", last, berlin).expect("plan"))
    });
    g.bench_function("reference_history_30_days_by_day", |b| {
        b.iter(|| history::read(&store, &h, berlin).expect("history"))
    });
    g.finish();
}

criterion_group!(benches, growth, queries);
criterion_main!(benches);
