//! End-to-end throughput of the split deployment against the real servers
//! `scripts/test_services.sh` starts: ticks published by a watcher (through
//! its disk spool) → Kafka → collector → InfluxDB, against the reference of
//! writing the same points as raw line protocol straight to InfluxDB from
//! the same machine, measured in the same run.
//!
//! Needs NBI_TEST_KAFKA and NBI_TEST_INFLUX_URL (`scripts/bench` sets them).

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use nbi_core::bus::kafka::{self, KafkaSubscriber};
use nbi_core::bus::Publisher;
use nbi_core::collector::{Collector, CollectorConfig};
use nbi_core::config::KafkaConfig;
use nbi_core::counting::CountingPolicy;
use nbi_core::store::influx::{self, InfluxStore};
use nbi_core::tick::Tick;
use tokio_util::sync::CancellationToken;

const HOSTS: usize = 20;
const MINUTES: i64 = 1_000;
const APPS: usize = 8;
const BATCH_POINTS: usize = 5_000;

fn ticks() -> Vec<Tick> {
    let start = Utc.with_ymd_and_hms(2026, 7, 11, 0, 0, 0).unwrap();
    let mut out = Vec::new();
    for m in 0..MINUTES {
        for h in 0..HOSTS {
            let apps = (0..APPS).map(|a| {
                let v = (m as u64 + 1) * (h as u64 + 3) * (a as u64 + 7);
                (format!("App {a}"), (v * 1_000, v))
            });
            out.push(Tick::from_totals(
                format!("host-{h:02}"),
                start + chrono::Duration::minutes(m),
                60,
                apps,
            ));
        }
    }
    out
}

fn influx(url: &str, db: &str) -> InfluxStore {
    let s = InfluxStore::new(
        &nbi_core::store::InfluxDbConfig {
            url: url.to_string(),
            database: db.to_string(),
            batch_points: BATCH_POINTS,
            ..nbi_core::store::InfluxDbConfig::default()
        },
        None,
    );
    s.create_database().expect("create the bench database");
    s
}

/// Raw line protocol, batches of BATCH_POINTS, one connection.
fn reference(url: &str, db: &str, ticks: &[Tick]) -> (usize, Duration) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let lines: Vec<String> = ticks.iter().flat_map(influx::lines).collect();
    let t = Instant::now();
    for chunk in lines.chunks(BATCH_POINTS) {
        let mut body = chunk.join("\n");
        body.push('\n');
        agent
            .post(&format!("{url}/write"))
            .query("db", db)
            .query("precision", "s")
            .send(body)
            .expect("raw write");
    }
    (lines.len(), t.elapsed())
}

async fn end_to_end(brokers: &str, url: &str, db: &str, ticks: &[Tick]) -> Duration {
    let topic = format!("bench-{}", std::process::id());
    let settings = KafkaConfig::for_host(
        &KafkaConfig {
            brokers: brokers.to_string(),
            topic,
            partitions: 3,
            ..KafkaConfig::default()
        },
        "bench",
    );
    kafka::ensure_topics(&settings).await.expect("topics");
    let spool = tempfile::tempdir().expect("spool dir");
    let store = influx(url, db);
    let collector = Collector::new(
        KafkaSubscriber::connect(settings.clone(), chrono_tz::UTC)
            .await
            .expect("subscriber"),
        store,
        CollectorConfig {
            batch_max: 1_000,
            linger_ms: 100,
            ..CollectorConfig::default()
        },
        std::sync::Arc::new(CountingPolicy::count_everything()),
    );
    let mut stats = collector.stats();
    let stop = CancellationToken::new();
    let collecting = tokio::spawn(collector.run(Some(stop.clone())));
    let sender_stop = CancellationToken::new();
    let (publisher, sender) = kafka::publisher(
        settings,
        spool.path().to_path_buf(),
        1 << 30,
        sender_stop.clone(),
    )
    .expect("publisher");

    // Warm up: the consumer joins its group (seconds, once) before the clock
    // starts, so the figure is the steady rate.
    let mut warm = ticks[0].clone();
    warm.host = "warm-up".into();
    publisher.publish(warm).await.expect("publish");
    while stats.borrow_and_update().ticks_written < 1 {
        if stats.changed().await.is_err() {
            break;
        }
    }
    let before = stats.borrow().ticks_handled();
    let mut sent_status = sender.status();
    let already_sent = sent_status.borrow().sent;

    let t = Instant::now();
    for tick in ticks {
        publisher.publish(tick.clone()).await.expect("publish");
    }
    let published = t.elapsed();
    let want = ticks.len() as u64;
    let sent_watch = tokio::spawn(async move {
        while sent_status.borrow_and_update().sent < want + already_sent {
            if sent_status.changed().await.is_err() {
                break;
            }
        }
        Instant::now()
    });
    loop {
        let s = stats.borrow_and_update().clone();
        if s.ticks_handled() >= want + before {
            break;
        }
        if stats.changed().await.is_err() {
            break;
        }
    }
    let took = t.elapsed();
    if let Ok(at) = sent_watch.await {
        eprintln!(
            "kafka_influx: spooled in {:.2} s, on the broker after {:.2} s, stored after {:.2} s",
            published.as_secs_f64(),
            at.duration_since(t).as_secs_f64(),
            took.as_secs_f64()
        );
    }
    sender_stop.cancel();
    let _ = sender.join().await;
    stop.cancel();
    let _ = collecting.await;
    took
}

fn main() {
    let (Ok(brokers), Ok(url)) = (
        std::env::var("NBI_TEST_KAFKA"),
        std::env::var("NBI_TEST_INFLUX_URL"),
    ) else {
        eprintln!("kafka_influx: skipped: NBI_TEST_KAFKA and NBI_TEST_INFLUX_URL are not set (scripts/bench starts the servers)");
        return;
    };
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing:
    // only a real benchmark run spends the time.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let ticks = ticks();
    let points: usize = ticks.iter().map(|t| t.apps.len() + 1).sum();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let tag = std::process::id();
    let ref_db = format!("bench_raw_{tag}");
    influx(&url, &ref_db);
    let (raw_points, raw) = reference(&url, &ref_db, &ticks);
    let e2e_db = format!("bench_e2e_{tag}");
    let e2e = rt.block_on(end_to_end(&brokers, &url, &e2e_db, &ticks));
    for db in [&ref_db, &e2e_db] {
        let _ = influx(&url, db).query(&format!("DROP DATABASE \"{db}\""));
    }
    let raw_pps = raw_points as f64 / raw.as_secs_f64();
    let e2e_tps = ticks.len() as f64 / e2e.as_secs_f64();
    let e2e_pps = points as f64 / e2e.as_secs_f64();
    println!(
        "kafka_influx: {} ticks from {HOSTS} hosts, {APPS} apps each ({points} points)",
        ticks.len()
    );
    println!(
        "kafka_influx/raw_line_protocol   {raw_pps:>10.0} points/s ({:.2} s)",
        raw.as_secs_f64()
    );
    println!(
        "kafka_influx/end_to_end          {e2e_tps:>10.0} ticks/s = {e2e_pps:.0} points/s ({:.2} s)",
        e2e.as_secs_f64()
    );
    println!(
        "kafka_influx/ratio               {:.2} of the raw write rate",
        e2e_pps / raw_pps
    );
}
