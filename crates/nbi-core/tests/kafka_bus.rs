//! The Kafka bus against a real Kafka-protocol broker (tansu): spool,
//! idempotent producer, consumer group commits, dead letters.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use nbi_core::bus::kafka::{self, KafkaSubscriber, DLQ_REASON_HEADER};
use nbi_core::bus::Publisher;
use nbi_core::collector::{Collector, CollectorConfig};
use nbi_core::config::KafkaConfig;
use nbi_core::counting::CountingPolicy;
use nbi_core::store::sqlite::SqliteStore;
use nbi_core::store::{HostFilter, Store, UsageQuery};
use nbi_core::tick::Tick;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};
use support::services::Broker;
use tokio_util::sync::CancellationToken;

fn settings(broker: &Broker, topic: &str) -> KafkaConfig {
    let mut s = KafkaConfig::for_host(
        &KafkaConfig {
            brokers: broker.address(),
            topic: topic.to_string(),
            group: format!("{topic}-collectors"),
            partitions: 3,
            ..KafkaConfig::default()
        },
        "testhost",
    );
    // Short, so an outage shows quickly in the test.
    s.message_timeout_s = 5;
    s
}

fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 7, 11, 0, 0, 0).unwrap() + chrono::Duration::minutes(minute)
}

/// Tick `i` of `host`: amounts that differ per host, app and minute.
fn tick(host: usize, i: i64) -> Tick {
    let h = host as u64 + 1;
    let i_u = i as u64 + 1;
    Tick::from_totals(
        format!("host-{host:02}"),
        at(i),
        60,
        [
            ("Slack".to_string(), (h * 1000 + i_u, h * 10 + i_u % 7)),
            ("Safari".to_string(), (h * 77_777 + i_u * 3, i_u)),
        ],
    )
}

/// Per (host, app): (in, out) of everything `ticks` hold.
fn expected(ticks: &[Tick]) -> BTreeMap<(String, String), (u64, u64)> {
    let mut m = BTreeMap::new();
    for t in ticks {
        for a in &t.apps {
            let e = m.entry((t.host.clone(), a.app.clone())).or_insert((0, 0));
            e.0 += a.bytes_in;
            e.1 += a.bytes_out;
        }
    }
    m
}

/// Per (host, app) totals the store holds for the whole test period.
fn stored(store: &dyn Store, hosts: &[String]) -> BTreeMap<(String, String), (u64, u64)> {
    let mut m = BTreeMap::new();
    let from = at(-24 * 60).date_naive();
    let to = at(60 * 24 * 30).date_naive();
    for host in hosts {
        let rows = store
            .hourly(&HostFilter::One(host.clone()), from, to, chrono_tz::UTC)
            .expect("hourly");
        for r in rows {
            let e = m.entry((host.clone(), r.app.clone())).or_insert((0, 0));
            e.0 += r.bytes_in;
            e.1 += r.bytes_out;
        }
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticks_travel_through_the_broker_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let Some(broker) = Broker::start(&dir.path().join("broker")) else {
        return;
    };
    let s = settings(&broker, "round-trip");
    let stop = CancellationToken::new();
    let (publisher, sender) =
        kafka::publisher(s.clone(), dir.path().join("spool"), 64 << 20, stop.clone()).unwrap();
    let mut ticks = Vec::new();
    for host in 0..4 {
        for i in 0..50 {
            ticks.push(tick(host, i));
        }
    }
    for t in &ticks {
        publisher.publish(t.clone()).await.unwrap();
    }
    let mut status = sender.status();
    tokio::time::timeout(Duration::from_secs(60), async {
        while status.borrow_and_update().sent < ticks.len() as u64 {
            status.changed().await.unwrap();
        }
    })
    .await
    .expect("the broker acknowledged every tick");
    assert_eq!(status.borrow().spooled, 0);
    stop.cancel();
    sender.join().await.unwrap();

    let store = SqliteStore::open(&dir.path().join("nbi.sqlite")).unwrap();
    let mut collector = RunningCollector::start(&s, store).await;
    assert!(
        collector
            .wait_for(ticks.len() as u64, Duration::from_secs(60))
            .await
    );
    let store = collector.stop().await;
    let hosts: Vec<String> = (0..4).map(|h| format!("host-{h:02}")).collect();
    assert_eq!(stored(&store, &hosts), expected(&ticks));
}

/// A collector that keeps running while the test does other things.
struct RunningCollector {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<
        Result<
            (SqliteStore, nbi_core::collector::CollectorStats),
            nbi_core::collector::CollectorError,
        >,
    >,
    stats: tokio::sync::watch::Receiver<nbi_core::collector::CollectorStats>,
}

impl RunningCollector {
    async fn start(s: &KafkaConfig, store: SqliteStore) -> RunningCollector {
        let sub = KafkaSubscriber::connect(s.clone(), chrono_tz::UTC)
            .await
            .expect("subscriber");
        let collector = Collector::new(
            sub,
            store,
            CollectorConfig {
                linger_ms: 200,
                ..CollectorConfig::default()
            },
            std::sync::Arc::new(CountingPolicy::count_everything()),
        );
        let stats = collector.stats();
        let stop = CancellationToken::new();
        let task = tokio::spawn(collector.run(Some(stop.clone())));
        RunningCollector { stop, task, stats }
    }

    /// Waits until `want` ticks were handled (written, or already stored).
    async fn wait_for(&mut self, want: u64, within: Duration) -> bool {
        tokio::time::timeout(within, async {
            loop {
                let s = self.stats.borrow_and_update().clone();
                if s.ticks_handled() >= want {
                    return;
                }
                if self.stats.changed().await.is_err() {
                    return;
                }
            }
        })
        .await
        .is_ok()
    }

    async fn stop(self) -> SqliteStore {
        self.stop.cancel();
        self.task.await.expect("join").expect("collector").0
    }
}

async fn wait_sent(sender: &kafka::KafkaSender, want: u64, within: Duration) -> bool {
    let mut status = sender.status();
    tokio::time::timeout(within, async {
        while status.borrow_and_update().sent < want {
            if status.changed().await.is_err() {
                return;
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_loses_nothing_and_counts_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut broker) = Broker::start(&dir.path().join("broker")) else {
        return;
    };
    let s = settings(&broker, "outage");
    let hosts: Vec<String> = (0..3).map(|h| format!("host-{h:02}")).collect();
    let store = SqliteStore::open(&dir.path().join("nbi.sqlite")).unwrap();
    let mut collector = RunningCollector::start(&s, store).await;

    let stop = CancellationToken::new();
    let spool = dir.path().join("spool");
    let (publisher, sender) =
        kafka::publisher(s.clone(), spool.clone(), 64 << 20, stop.clone()).unwrap();
    let mut ticks = Vec::new();
    let mut i = 0;
    let mut publish = |n: i64, ticks: &mut Vec<Tick>| {
        let batch: Vec<Tick> = (i..i + n)
            .flat_map(|m| (0..hosts.len()).map(move |h| tick(h, m)))
            .collect();
        i += n;
        ticks.extend(batch.iter().cloned());
        batch
    };
    for t in publish(40, &mut ticks) {
        publisher.publish(t).await.unwrap();
    }
    assert!(wait_sent(&sender, ticks.len() as u64, Duration::from_secs(30)).await);

    // The broker dies; the watcher goes on publishing without waiting.
    broker.kill();
    for t in publish(60, &mut ticks) {
        tokio::time::timeout(Duration::from_secs(5), publisher.publish(t))
            .await
            .expect("publishing never waits for the broker")
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Longer than the producer's message timeout: the spool takes them back.
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert!(!sender.status().borrow().connected);
    assert!(sender.status().borrow().spooled > 0);

    // The watcher itself restarts during the outage: the spool survives it.
    stop.cancel();
    sender.join().await.unwrap();
    drop(publisher);
    let stop = CancellationToken::new();
    let (publisher, sender) = kafka::publisher(s.clone(), spool, 64 << 20, stop.clone()).unwrap();
    for t in publish(20, &mut ticks) {
        publisher.publish(t).await.unwrap();
    }

    broker.restart();
    let pending = ticks.len() as u64 - 40 * hosts.len() as u64;
    assert!(
        wait_sent(&sender, pending, Duration::from_secs(120)).await,
        "sent after the outage: {:?}",
        sender.status().borrow()
    );
    assert!(
        collector
            .wait_for(ticks.len() as u64, Duration::from_secs(120))
            .await
    );
    stop.cancel();
    sender.join().await.unwrap();
    let store = collector.stop().await;
    assert_eq!(stored(&store, &hosts), expected(&ticks));
}

async fn raw_producer(broker: &Broker) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", broker.address())
        .create()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_goes_to_the_dead_letter_topic_and_original_messages_are_stored() {
    let dir = tempfile::tempdir().unwrap();
    let Some(broker) = Broker::start(&dir.path().join("broker")) else {
        return;
    };
    let s = settings(&broker, "mixed");
    kafka::ensure_topics(&s).await.unwrap();
    let producer = raw_producer(&broker).await;
    let garbage: Vec<(&str, Vec<u8>)> = vec![
        ("not json", b"hello kafka".to_vec()),
        ("binary", vec![0xff, 0xfe, 0x00, 0x12]),
        ("bad timestamp", br#"{"timestamp":"yesterday","app_usage":{}}"#.to_vec()),
        ("negative bytes", br#"{"timestamp":"2026-07-11T10:00:00Z","app_usage":{"Slack":{"in":-1,"out":0}}}"#.to_vec()),
        ("future schema", br#"{"schema":99,"host":"x","timestamp":"2026-07-11T10:00:00Z","interval_s":60,"app_usage":{}}"#.to_vec()),
    ];
    // The original project's message: no host, naive local time with µs.
    let original = br#"{"timestamp": "2026-07-11T14:23:00.123456", "app_usage": {"Slack": {"in": 1200, "out": 340}, "Google Chrome H": {"in": 5, "out": 6}}}"#;
    let mut sends = Vec::new();
    for (_, payload) in &garbage {
        sends.push(
            producer.send(
                FutureRecord::to(&s.topic)
                    .key("default")
                    .payload(payload.as_slice()),
                Duration::from_secs(10),
            ),
        );
    }
    for fut in sends {
        fut.await.expect("sent");
    }
    producer
        .send(
            FutureRecord::<str, [u8]>::to(&s.topic).payload(&original[..]),
            Duration::from_secs(10),
        )
        .await
        .expect("sent");
    // An empty message (no value at all).
    producer
        .send(
            FutureRecord::<str, [u8]>::to(&s.topic).key("default"),
            Duration::from_secs(10),
        )
        .await
        .expect("sent");
    let good = tick(0, 5);
    producer
        .send(
            FutureRecord::to(&s.topic)
                .key(&good.host)
                .payload(&good.to_json()),
            Duration::from_secs(10),
        )
        .await
        .expect("sent");

    let store = SqliteStore::open(&dir.path().join("nbi.sqlite")).unwrap();
    let mut collector = RunningCollector::start(&s, store).await;
    assert!(
        collector.wait_for(2, Duration::from_secs(60)).await,
        "both ticks stored"
    );
    // The messages sit in several partitions (keyed by host, or not keyed):
    // the dead letters are read while the collector goes on running.
    // Every bad message is in the dead-letter topic, with its reason.
    let dlq: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.address())
        .set("group.id", "dlq-reader")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    // Read the topic itself, outside any group.
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition_offset(&s.dlq_topic(), 0, rdkafka::Offset::Beginning)
        .unwrap();
    dlq.assign(&tpl).unwrap();
    // Payload (None: no value) → reason. At least once: a message read
    // again after a rebalance may be dead-lettered twice, never lost.
    let mut reasons: BTreeMap<Option<Vec<u8>>, String> = BTreeMap::new();
    let mut wanted: Vec<Option<Vec<u8>>> = garbage.iter().map(|(_, p)| Some(p.clone())).collect();
    wanted.push(None);
    while !wanted.iter().all(|p| reasons.contains_key(p)) {
        let msg = tokio::time::timeout(Duration::from_secs(60), dlq.recv())
            .await
            .unwrap_or_else(|_| panic!("dead letters so far: {reasons:?}"))
            .expect("message");
        let headers = msg.headers().expect("headers");
        let reason = headers
            .iter()
            .find(|h| h.key == DLQ_REASON_HEADER)
            .and_then(|h| h.value)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .expect("the reason header");
        assert!(!reason.is_empty());
        let payload = msg.payload().map(<[u8]>::to_vec);
        assert!(
            wanted.contains(&payload),
            "only bad messages are dead letters: {payload:?}"
        );
        reasons.insert(payload, reason);
    }
    let reason = |i: usize| &reasons[&Some(garbage[i].1.clone())];
    assert!(reason(2).contains("timestamp"), "{}", reason(2));
    assert!(reason(4).contains("schema"), "{}", reason(4));
    assert!(reasons[&None].contains("no value"), "{}", reasons[&None]);

    // The consumer went on past them: it still runs, and stored the rest.
    let store = collector.stop().await;
    let got = stored(&store, &["default".to_string(), good.host.clone()]);
    assert_eq!(
        got.get(&("default".into(), "Slack".into())),
        Some(&(1200, 340))
    );
    assert_eq!(
        got.get(&("default".into(), "Google Chrome H".into())),
        Some(&(5, 6))
    );
    assert_eq!(
        stored(&store, std::slice::from_ref(&good.host)),
        expected(&[good])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_collector_resumes_after_what_it_stored() {
    let dir = tempfile::tempdir().unwrap();
    let Some(broker) = Broker::start(&dir.path().join("broker")) else {
        return;
    };
    let s = settings(&broker, "resume");
    let stop = CancellationToken::new();
    let (publisher, sender) =
        kafka::publisher(s.clone(), dir.path().join("spool"), 64 << 20, stop.clone()).unwrap();
    let first: Vec<Tick> = (0..30).map(|i| tick(1, i)).collect();
    for t in &first {
        publisher.publish(t.clone()).await.unwrap();
    }
    assert!(wait_sent(&sender, 30, Duration::from_secs(30)).await);
    let a = SqliteStore::open(&dir.path().join("a.sqlite")).unwrap();
    let mut c = RunningCollector::start(&s, a).await;
    assert!(c.wait_for(30, Duration::from_secs(60)).await);
    c.stop().await;

    let second: Vec<Tick> = (30..45).map(|i| tick(1, i)).collect();
    for t in &second {
        publisher.publish(t.clone()).await.unwrap();
    }
    assert!(wait_sent(&sender, 45, Duration::from_secs(30)).await);
    // A fresh store sees only what the group had not stored yet.
    let b = SqliteStore::open(&dir.path().join("b.sqlite")).unwrap();
    let mut c = RunningCollector::start(&s, b).await;
    assert!(c.wait_for(15, Duration::from_secs(60)).await);
    // Give a wrong redelivery time to show up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let b = c.stop().await;
    assert_eq!(stored(&b, &["host-01".to_string()]), expected(&second));
    stop.cancel();
    sender.join().await.unwrap();
}

/// A collector stopped while its batch is still gathering stores every
/// tick it had read and commits them: a restarted collector reads on from
/// there, nothing lost and nothing read twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_in_the_middle_of_a_batch_stores_and_commits_it() {
    let dir = tempfile::tempdir().unwrap();
    let Some(broker) = Broker::start(&dir.path().join("broker")) else {
        return;
    };
    let s = settings(&broker, "mid-batch");
    let stop_sending = CancellationToken::new();
    let (publisher, sender) = kafka::publisher(
        s.clone(),
        dir.path().join("spool"),
        64 << 20,
        stop_sending.clone(),
    )
    .unwrap();
    let ticks: Vec<Tick> = (0..100).map(|i| tick(1, i)).collect();
    for t in &ticks {
        publisher.publish(t.clone()).await.unwrap();
    }
    assert!(wait_sent(&sender, 100, Duration::from_secs(60)).await);

    let store = SqliteStore::open(&dir.path().join("nbi.sqlite")).unwrap();
    let sub = KafkaSubscriber::connect(s.clone(), chrono_tz::UTC)
        .await
        .expect("subscriber");
    let mut read = sub.stats();
    // A batch that would gather for two minutes.
    let collector = Collector::new(
        sub,
        store,
        CollectorConfig {
            batch_max: 10_000,
            linger_ms: 120_000,
            ..CollectorConfig::default()
        },
        std::sync::Arc::new(CountingPolicy::count_everything()),
    );
    let stats = collector.stats();
    let stop = CancellationToken::new();
    let task = tokio::spawn(collector.run(Some(stop.clone())));
    tokio::time::timeout(
        Duration::from_secs(60),
        read.wait_for(|r| r.received >= 100),
    )
    .await
    .expect("the consumer read all 100")
    .unwrap();
    assert_eq!(stats.borrow().ticks_written, 0, "still gathering");
    stop.cancel();
    let (store, done) = tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("stops without waiting for the linger")
        .unwrap()
        .unwrap();
    assert_eq!(done.ticks_written, 100);
    let host = vec!["host-01".to_string()];
    assert_eq!(stored(&store, &host), expected(&ticks));

    // One more tick; a new collector of the same group reads only it.
    let extra = tick(1, 100);
    publisher.publish(extra.clone()).await.unwrap();
    assert!(wait_sent(&sender, 101, Duration::from_secs(60)).await);
    let mut again = RunningCollector::start(&s, store).await;
    assert!(again.wait_for(1, Duration::from_secs(60)).await);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let seen = again.stats.borrow().clone();
    assert_eq!(
        (seen.ticks_written, seen.ticks_skipped),
        (1, 0),
        "the 100 were committed"
    );
    let store = again.stop().await;
    let mut all = ticks.clone();
    all.push(extra);
    assert_eq!(stored(&store, &host), expected(&all));
    stop_sending.cancel();
    sender.join().await.unwrap();
}

/// A point InfluxDB refuses (here: older than the database's retention, as
/// a message from a far-off clock is) must not stop collection: it goes to
/// the dead-letter topic with InfluxDB's reason, the rest are stored and
/// committed, and the collector goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_poisoned_message_among_a_thousand_is_set_aside_and_the_rest_stored() {
    use nbi_core::store::influx::InfluxStore;
    use support::services::Influx;
    let dir = tempfile::tempdir().unwrap();
    let Some(broker) = Broker::start(&dir.path().join("broker")) else {
        return;
    };
    let Some(influx) = Influx::start(&dir.path().join("influxdb")) else {
        return;
    };
    let created = std::process::Command::new("curl")
        .args([
            "-fsS",
            "-XPOST",
            "--data-urlencode",
            "q=CREATE DATABASE nbi WITH DURATION 30d",
        ])
        .arg(format!("{}/query", influx.url()))
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let s = settings(&broker, "poisoned");
    kafka::ensure_topics(&s).await.unwrap();
    let producer = raw_producer(&broker).await;
    // A day ago, whatever today is: inside the retention.
    let start = Utc::now() - chrono::Duration::days(1);
    let start = DateTime::from_timestamp(start.timestamp() / 60 * 60, 0).unwrap();
    let good = |i: i64| {
        Tick::from_totals(
            "lab",
            start + chrono::Duration::minutes(i),
            60,
            [("Slack".to_string(), (1000 + i as u64, 7))],
        )
    };
    let poison = Tick::from_totals(
        "lab",
        Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap(),
        60,
        [("Slack".to_string(), (5, 5))],
    );
    let mut sent = Vec::new();
    for i in 0..1000 {
        let t = if i == 500 { poison.clone() } else { good(i) };
        let json = t.to_json();
        producer
            .send(
                FutureRecord::to(&s.topic).key("lab").payload(&json),
                Duration::from_secs(10),
            )
            .await
            .expect("sent");
        if i != 500 {
            sent.push(t);
        }
    }
    let config = nbi_core::store::InfluxDbConfig {
        url: influx.url(),
        database: "nbi".into(),
        ..nbi_core::store::InfluxDbConfig::default()
    };
    let store = InfluxStore::new(&config, None);
    let sub = KafkaSubscriber::connect(s.clone(), chrono_tz::UTC)
        .await
        .expect("subscriber");
    let collector = Collector::new(
        sub,
        store,
        CollectorConfig {
            linger_ms: 200,
            ..CollectorConfig::default()
        },
        std::sync::Arc::new(CountingPolicy::count_everything()),
    );
    let stats = collector.stats();
    let stop = CancellationToken::new();
    let task = tokio::spawn(collector.run(Some(stop.clone())));
    let handled = |want: u64| {
        let mut stats = stats.clone();
        async move {
            tokio::time::timeout(Duration::from_secs(120), async {
                loop {
                    let s = stats.borrow_and_update().clone();
                    if s.ticks_handled() + s.ticks_refused >= want {
                        return s;
                    }
                    stats.changed().await.expect("the collector runs");
                }
            })
            .await
            .expect("the ticks were handled")
        }
    };
    let after = handled(1000).await;
    assert_eq!(after.ticks_refused, 1, "{after:?}");
    assert_eq!(after.ticks_handled(), 999, "{after:?}");
    assert!(!task.is_finished(), "the collector goes on");

    // The dead letter: the poisoned tick, with InfluxDB's reason.
    let dlq: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.address())
        .set("group.id", "dlq-reader")
        .create()
        .unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition_offset(&s.dlq_topic(), 0, rdkafka::Offset::Beginning)
        .unwrap();
    dlq.assign(&tpl).unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(60), dlq.recv())
        .await
        .expect("a dead letter")
        .expect("message");
    let reason = msg
        .headers()
        .and_then(|h| h.iter().find(|h| h.key == DLQ_REASON_HEADER))
        .and_then(|h| h.value)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .expect("the reason header");
    assert!(reason.contains("retention"), "{reason}");
    let letter = Tick::from_json(std::str::from_utf8(msg.payload().unwrap()).unwrap()).unwrap();
    assert_eq!(letter, poison);

    // The other 999, exactly, and the collector still takes more.
    let more = good(1000);
    producer
        .send(
            FutureRecord::to(&s.topic)
                .key("lab")
                .payload(&more.to_json()),
            Duration::from_secs(10),
        )
        .await
        .expect("sent");
    sent.push(more);
    handled(1001).await;
    stop.cancel();
    let (store, _) = task.await.expect("join").expect("collector");
    let got = {
        let mut m = BTreeMap::new();
        let from = start.date_naive().pred_opt().unwrap();
        let to = start.date_naive() + chrono::Duration::days(2);
        for r in store
            .hourly(&HostFilter::One("lab".into()), from, to, chrono_tz::UTC)
            .expect("hourly")
        {
            let e = m
                .entry(("lab".to_string(), r.app.clone()))
                .or_insert((0, 0));
            e.0 += r.bytes_in;
            e.1 += r.bytes_out;
        }
        m
    };
    assert_eq!(got, expected(&sent));
}
