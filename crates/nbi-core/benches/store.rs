//! SQLite store: ingest rate, the queries the UI and the detector ask at
//! one year of per-minute history for 50 apps (26 M samples), the history
//! view's queries on the same year, and the file's size before and after
//! retention (printed as `retention:` lines).

use nbi_core::store::{TickWriter, UsageQuery};
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use nbi_core::store::sqlite::SqliteStore;
use nbi_core::store::HostFilter;
use nbi_core::Tick;

const APPS: usize = 50;
const DAYS: i64 = 365;

fn app_names() -> Vec<String> {
    (0..APPS).map(|i| format!("App number {i:02}")).collect()
}

fn minute_tick(names: &[String], at: DateTime<Utc>, seed: u64) -> Tick {
    Tick::from_totals(
        "bench",
        at,
        60,
        names.iter().enumerate().map(|(i, n)| {
            let v = (seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(i as u64 * 1442695040888963407)
                >> 40)
                + 1;
            (n.clone(), (v, v / 7 + 1))
        }),
    )
}

fn start() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default() // 2026-01-01T00:00Z
}

/// Builds the year database once and keeps it under target/ between runs.
fn year_db() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-store");
    let path = dir.join("year-50-apps-v5.sqlite");
    let done = dir.join("year-50-apps-v5.done");
    if done.exists() {
        return path;
    }
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::create_dir_all(&dir);
    let mut store = SqliteStore::open(&path).expect("open bench store");
    // As the runtime opens it: daily sums kept in the configured zone.
    store
        .keep_days_in(chrono_tz::Europe::Berlin)
        .expect("daily sums");
    let names = app_names();
    let t0 = Instant::now();
    let minutes = DAYS * 1440;
    let mut batch = Vec::with_capacity(5000);
    for m in 0..minutes {
        batch.push(minute_tick(
            &names,
            start() + Duration::minutes(m),
            m as u64,
        ));
        if batch.len() == 5000 {
            store.write(&batch).expect("write");
            batch.clear();
        }
    }
    store.write(&batch).expect("write");
    eprintln!(
        "built {} ({} samples) in {:.0} s",
        path.display(),
        minutes as usize * APPS,
        t0.elapsed().as_secs_f64()
    );
    std::fs::write(&done, b"ok").expect("marker");
    path
}

fn ingest(c: &mut Criterion) {
    let names = app_names();
    let ticks: Vec<Tick> = (0..1000)
        .map(|m| minute_tick(&names, start() + Duration::minutes(m), m as u64))
        .collect();
    let mut g = c.benchmark_group("sqlite_ingest");
    g.sample_size(10);
    g.throughput(Throughput::Elements((ticks.len() * APPS) as u64));
    g.bench_function("1000_ticks_x_50_apps", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().expect("tempdir");
                let store = SqliteStore::open(&dir.path().join("ingest.sqlite")).expect("open");
                (dir, store)
            },
            |(dir, mut store)| {
                store.write(&ticks).expect("write");
                (dir, store)
            },
            criterion::BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn queries(c: &mut Criterion) {
    let path = year_db();
    let store = SqliteStore::open_read_only(&path).expect("open year store");
    let utc: chrono_tz::Tz = chrono_tz::UTC;
    let berlin: chrono_tz::Tz = chrono_tz::Europe::Berlin;
    let day = NaiveDate::from_ymd_opt(2026, 7, 15).expect("date");
    let host = HostFilter::One("bench".into());
    let mut g = c.benchmark_group("sqlite_query_year_50_apps");
    for step in [1u32, 5, 60] {
        g.bench_with_input(
            BenchmarkId::new("day_curve_step_min", step),
            &step,
            |b, &s| b.iter(|| store.day_curve(&host, day, berlin, s).expect("curve")),
        );
    }
    g.bench_function("hourly_60_days", |b| {
        b.iter(|| {
            store
                .hourly(&host, day - Duration::days(59), day, berlin)
                .expect("hourly")
        })
    });
    g.bench_function("day_totals", |b| {
        b.iter(|| store.day_totals(&host, day, utc).expect("totals"))
    });
    g.finish();
}

/// The history view's questions at one year × 50 apps, in the zone the
/// daily sums are kept in; and, as the reference, the same 30 days in a
/// zone they are not kept in (summed from the hourly roll-up).
fn history(c: &mut Criterion) {
    use nbi_core::history::{self, Granularity, HistoryQuery};
    let path = year_db();
    let store = SqliteStore::open_read_only(&path).expect("open year store");
    let berlin: chrono_tz::Tz = chrono_tz::Europe::Berlin;
    let last = NaiveDate::from_ymd_opt(2026, 12, 31).expect("date");
    let query = |days: i64, by: Granularity, app: Option<&str>| HistoryQuery {
        host: HostFilter::One("bench".into()),
        from: last - Duration::days(days - 1),
        to: last,
        by,
        app: app.map(str::to_string),
        network: None,
    };
    let mut g = c.benchmark_group("history_year_50_apps");
    for (name, q) in [
        ("7_days_by_day", query(7, Granularity::Day, None)),
        ("30_days_by_day", query(30, Granularity::Day, None)),
        ("12_months_by_month", query(365, Granularity::Month, None)),
        (
            "one_app_365_days_by_day",
            query(365, Granularity::Day, Some("App number 07")),
        ),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| history::read(&store, &q, berlin).expect("history"))
        });
    }
    let tokyo: chrono_tz::Tz = chrono_tz::Asia::Tokyo;
    let q = query(30, Granularity::Day, None);
    g.bench_function("reference_30_days_from_hourly_sums", |b| {
        b.iter(|| history::read(&store, &q, tokyo).expect("history"))
    });
    g.finish();
}

/// The year's file, then a copy with minute data kept for the last 90
/// days only; sizes printed, and the pruning timed once.
fn retention(_c: &mut Criterion) {
    let path = year_db();
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join("retained.sqlite");
    // The year's writer closed it (and checkpointed its log): a plain
    // copy is whole.
    std::fs::copy(&path, &copy).expect("copy");
    let mut store = SqliteStore::open(&copy).expect("open copy");
    let before = store.summary().expect("summary").file_bytes.unwrap_or(0);
    let cut = nbi_core::store::local_day_bounds(
        NaiveDate::from_ymd_opt(2026, 10, 3).expect("date"),
        chrono_tz::Europe::Berlin,
    )
    .start;
    let t0 = Instant::now();
    let deleted = store.prune_minutes(cut).expect("prune");
    let took = t0.elapsed();
    let after = store.summary().expect("summary").file_bytes.unwrap_or(0);
    println!(
        "retention: one year x 50 apps: {:.1} MB with every minute, {:.1} MB keeping minutes for 90 days ({:.2}x smaller; {deleted} ticks deleted in {:.1} s)",
        before as f64 / 1e6,
        after as f64 / 1e6,
        before as f64 / after.max(1) as f64,
        took.as_secs_f64()
    );
}

criterion_group!(benches, ingest, queries, history, retention);
criterion_main!(benches);
