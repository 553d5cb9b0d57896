//! Destinations in the SQLite store: how much a day of them adds to the
//! file (50 apps, 30 destinations each, every minute watched), against the
//! same day without them; and `nbi destinations` over 30 days at one year
//! of hourly history with them, against the history view's 30 days by day
//! on the same file (printed as `growth:` lines and criterion figures).

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use nbi_core::destination::report::{self, DestinationsQuery};
use nbi_core::destination::Namer;
use nbi_core::history::{self, Granularity, HistoryQuery};
use nbi_core::store::sqlite::SqliteStore;
use nbi_core::store::{HostFilter, TickWriter, UsageQuery};
use nbi_core::tick::{Destinations, Flow};
use nbi_core::Tick;

const APPS: usize = 50;
const PLACES: usize = 30;
/// Of an app's destinations, how many a minute talks to (all of them
/// within an hour).
const PER_MINUTE: usize = 5;

fn start() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default() // 2026-01-01T00:00Z
}

fn address(app: usize, k: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(20 + (app % 200) as u8, 1, (k % 250) as u8, 7))
}

/// One tick of every app; with `places`, each sends its bytes to
/// `per_tick` of its destinations, in turn.
fn tick(at: DateTime<Utc>, interval_s: u32, n: u64, places: bool, per_tick: usize) -> Tick {
    let apps = (0..APPS).map(|a| {
        let v = (n
            .wrapping_mul(6364136223846793005)
            .wrapping_add(a as u64 * 1442695040888963407)
            >> 44)
            + 1_000;
        let mut to = Destinations::new();
        if places {
            for j in 0..per_tick {
                let k = (n as usize * per_tick + j) % PLACES;
                to.insert(address(a, k), Flow::new(v / per_tick as u64, 10));
            }
        }
        (
            format!("App number {a:02}"),
            Flow::new(v, 10 * per_tick as u64),
            to,
        )
    });
    Tick::from_flows("bench", at, interval_s, apps)
}

fn file_bytes(s: &SqliteStore) -> u64 {
    s.summary().ok().and_then(|x| x.file_bytes).unwrap_or(0)
}

/// Bytes a day of minute ticks adds to the file, after two days written
/// to warm it; then what a day keeps once its minutes are pruned.
fn day_growth(places: bool) -> (u64, u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = SqliteStore::open(&dir.path().join("growth.sqlite")).expect("open");
    s.keep_days_in(chrono_tz::Europe::Berlin).expect("daily");
    let write_day = |s: &mut SqliteStore, d: i64| {
        let ticks: Vec<Tick> = (0..1440)
            .map(|m| {
                let n = (d * 1440 + m) as u64;
                tick(
                    start() + Duration::minutes(d * 1440 + m),
                    60,
                    n,
                    places,
                    PER_MINUTE,
                )
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

/// A year of hourly ticks with destinations, built once under target/.
fn year_db() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-destinations");
    let path = dir.join("year-50-apps-30-places-v1.sqlite");
    let done = dir.join("year-50-apps-30-places-v1.done");
    if done.exists() {
        return path;
    }
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::create_dir_all(&dir);
    let mut s = SqliteStore::open(&path).expect("open");
    s.keep_days_in(chrono_tz::Europe::Berlin).expect("daily");
    let t0 = Instant::now();
    let hours = 365 * 24;
    let mut batch = Vec::with_capacity(200);
    for h in 0..hours {
        batch.push(tick(
            start() + Duration::hours(h),
            3600,
            h as u64,
            true,
            PLACES,
        ));
        if batch.len() == 200 {
            s.write(&batch).expect("write");
            batch.clear();
        }
    }
    s.write(&batch).expect("write");
    eprintln!(
        "built {} ({} app-destination-hours) in {:.0} s",
        path.display(),
        hours as usize * APPS * PLACES,
        t0.elapsed().as_secs_f64()
    );
    std::fs::write(&done, b"ok").expect("marker");
    path
}

fn growth(_c: &mut Criterion) {
    let (with, kept_with) = day_growth(true);
    let (without, kept_without) = day_growth(false);
    println!(
        "growth: a day of 50 apps x {PLACES} destinations ({PER_MINUTE} a minute): {:.2} MB with destinations, {:.2} MB without ({:.2}x); once its minutes are pruned {:.2} MB a day with, {:.2} MB without",
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
    let namer = Namer::shipped();
    let host = HostFilter::One("bench".into());
    let mut g = c.benchmark_group("destinations_year_50_apps_30_places");
    let q = DestinationsQuery {
        host: host.clone(),
        from,
        to: last,
        app: None,
    };
    let rows = report::read(&store, &q, berlin, &namer, None)
        .expect("destinations")
        .rows;
    assert_eq!(rows.len(), APPS * PLACES);
    g.bench_function("nbi_destinations_30_days", |b| {
        b.iter(|| report::read(&store, &q, berlin, &namer, None).expect("destinations"))
    });
    let one = DestinationsQuery {
        app: Some("App number 07".into()),
        ..q.clone()
    };
    g.bench_function("nbi_destinations_30_days_one_app", |b| {
        b.iter(|| report::read(&store, &one, berlin, &namer, None).expect("destinations"))
    });
    let h = HistoryQuery {
        host: host.clone(),
        from,
        to: last,
        by: Granularity::Day,
        app: None,
        network: None,
    };
    g.bench_function("reference_history_30_days_by_day", |b| {
        b.iter(|| history::read(&store, &h, berlin).expect("history"))
    });
    g.bench_function("hourly_destinations_of_one_day", |b| {
        b.iter(|| {
            store
                .hourly_destinations(&host, last, last, berlin)
                .expect("hourly")
        })
    });
    g.finish();
}

criterion_group!(benches, growth, queries);
criterion_main!(benches);
