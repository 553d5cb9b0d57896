//! Importing one tick of many apps: decoding its line, the counting rules,
//! and storing it into a fresh SQLite file. Each step must take time in
//! proportion to the apps, never their square (a name looked up in a list
//! per app made 100,000 apps take 26 s): the throughput (apps per second)
//! at 1,000, 10,000 and 100,000 apps should be about the same.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use nbi_core::counting::CountingPolicy;
use nbi_core::store::sqlite::SqliteStore;
use nbi_core::store::TickWriter;
use nbi_core::Tick;

/// One NDJSON line: a tick of `apps` apps.
fn line(apps: usize) -> String {
    let usage: Vec<String> = (0..apps)
        .map(|i| format!(r#""app {i:06}":{{"in":{},"out":{}}}"#, i + 1, i % 7 + 1))
        .collect();
    format!(
        r#"{{"schema":1,"host":"bench","timestamp":"2026-07-11T14:23:00Z","interval_s":60,"app_usage":{{{}}}}}"#,
        usage.join(",")
    )
}

fn import(c: &mut Criterion) {
    let mut g = c.benchmark_group("import_one_tick");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    let policy = CountingPolicy::count_everything();
    for apps in [1_000usize, 10_000, 100_000] {
        let text = line(apps);
        g.throughput(Throughput::Elements(apps as u64));
        g.bench_with_input(BenchmarkId::from_parameter(apps), &text, |b, text| {
            b.iter_batched(
                || {
                    let dir = tempfile::tempdir().expect("temp dir");
                    let store =
                        SqliteStore::open(&dir.path().join("import.sqlite")).expect("store");
                    (dir, store)
                },
                |(dir, mut store)| {
                    let tick = Tick::from_json(text).expect("a tick");
                    let (tick, _) = policy.apply(tick);
                    store.write(&[tick]).expect("stored");
                    (dir, store)
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, import);
criterion_main!(benches);
