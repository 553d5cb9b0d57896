//! Training the autoencoder on N = 7, 30 and 60 baseline days: one network
//! of the original design (120 inputs) and one of the default (144), 100
//! epochs at batch size 1, as each nightly run does; and judging one day
//! at N = 30 with the default model as `nbi detect` does after reading the
//! store (three networks trained, the day judged, uploads checked); and
//! `intel::judge` itself on a SQLite store, an ordinary day and an unusual
//! one.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use nbi_core::intel::autoencoder::{Autoencoder, TrainOptions};

fn days(n: usize, inputs: usize) -> Vec<Vec<f32>> {
    (0..n)
        .map(|i| {
            (0..inputs)
                .map(|c| ((c * 7 + i * 3) % 17) as f32 / 17.0)
                .collect()
        })
        .collect()
}

fn training(c: &mut Criterion) {
    nbi_core::intel::use_one_math_thread();
    let mut g = c.benchmark_group("autoencoder_train_100_epochs");
    g.sample_size(10);
    for inputs in [120usize, 144] {
        for n in [7usize, 30, 60] {
            let rows = days(n, inputs);
            g.bench_with_input(
                BenchmarkId::new(format!("{inputs}_inputs"), n),
                &rows,
                |b, rows| {
                    b.iter(|| {
                        let mut net = Autoencoder::new(inputs, 1).expect("model");
                        net.train(rows, TrainOptions::default()).expect("train")
                    })
                },
            );
        }
    }
    g.finish();
}

fn judging(c: &mut Criterion) {
    use chrono::{Duration, NaiveDate};
    use nbi_core::intel::detector::{Detector, ModelKind, TrainSettings};
    use nbi_core::intel::matrix::DayUsage;
    use nbi_core::intel::uploads::unusual_uploads;
    use nbi_core::synth::{Generator, Scenario};
    nbi_core::intel::use_one_math_thread();
    let first = NaiveDate::from_ymd_opt(2026, 6, 1).expect("date");
    let day = |i: i64| {
        let d = first + Duration::days(i);
        let apps = Generator::new(i as u64).scenario_day(d, Scenario::Normal);
        let mut u = DayUsage::complete(d, apps.clone());
        // A tenth of each hour sent, as browsing and calls do.
        u.out = apps
            .into_iter()
            .map(|(a, v)| (a, v.map(|b| b / 10.0)))
            .collect();
        u
    };
    let baseline: Vec<DayUsage> = (0..30).map(day).collect();
    let refs: Vec<&DayUsage> = baseline.iter().collect();
    let judged = day(30);
    let settings = TrainSettings::new(ModelKind::Default);
    let mut g = c.benchmark_group("judge_one_day");
    g.sample_size(10);
    g.bench_function("default_model_n30", |b| {
        b.iter(|| {
            let d = Detector::train(&refs, &settings).expect("train");
            let j = d.judge(&judged).expect("judge");
            (j.anomalous(), unusual_uploads(&judged, &refs, 2e8).len())
        })
    });
    g.finish();
}

/// `intel::judge` end to end at N = 30 on a SQLite store of hourly ticks,
/// as `nbi detect` runs it: reading the days and verdicts, training, judging;
/// an ordinary day, and an unusual one (a 20 GB burst at 03:00), which is
/// also judged as the other kind of day before it is called unusual.
fn judging_through_the_store(c: &mut Criterion) {
    use chrono::{Duration, NaiveDate, TimeZone, Utc};
    use nbi_core::intel::{judge, IntelConfig};
    use nbi_core::store::sqlite::SqliteStore;
    use nbi_core::store::TickWriter;
    use nbi_core::synth::{Generator, Scenario};
    use nbi_core::tick::Tick;
    nbi_core::intel::use_one_math_thread();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = SqliteStore::open(&dir.path().join("bench.sqlite")).expect("store");
    let first = NaiveDate::from_ymd_opt(2026, 3, 2).expect("date");
    let days = 70;
    for i in 0..=days {
        let d = first + Duration::days(i);
        let mut apps = Generator::new(i as u64).scenario_day(d, Scenario::Normal);
        if i == days {
            apps.push(("Transmission".into(), {
                let mut h = [0.0; 24];
                h[3] = 2e10;
                h
            }));
        }
        let start = Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"));
        let ticks: Vec<Tick> = (0..24usize)
            .map(|h| {
                Tick::from_totals(
                    "bench",
                    start + Duration::hours(h as i64),
                    3600,
                    apps.iter()
                        .map(|(a, v)| (a.clone(), ((v[h] * 0.9) as u64, (v[h] * 0.1) as u64))),
                )
            })
            .collect();
        store.write(&ticks).expect("write");
    }
    let config = IntelConfig {
        baseline_days: 30,
        ..IntelConfig::default()
    };
    let tz = chrono_tz::UTC;
    let mut g = c.benchmark_group("judge_one_day");
    g.sample_size(10);
    for (name, d) in [
        ("through_store_n30_ordinary", days - 1),
        ("through_store_n30_unusual", days),
    ] {
        let day = first + Duration::days(d);
        g.bench_function(name, |b| {
            b.iter(|| {
                judge(&store, "bench", day, tz, &config)
                    .expect("judge")
                    .verdict
                    .status
            })
        });
    }
    g.finish();
}

criterion_group!(benches, training, judging, judging_through_the_store);
criterion_main!(benches);
