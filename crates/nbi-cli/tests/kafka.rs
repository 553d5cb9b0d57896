//! The split deployment end to end, with the real binary: `nbi watch --bus
//! kafka` on the laptops, `nbi collect --bus kafka --store influx` on the
//! server, against a real Kafka-protocol broker (tansu) and a real InfluxDB.

mod support;

use nbi_core::store::UsageQuery;
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use nbi_core::store::influx::InfluxStore;
use nbi_core::store::HostFilter;
use serde_json::Value;
use support::services::{Broker, Influx};
use support::*;

/// 2026-07-11T00:00:00Z
const START: i64 = 1_783_728_000;

type Totals = BTreeMap<(String, String), (u64, u64)>;

/// A broker, an InfluxDB with a database, and a sandbox whose `nbi` uses them.
struct Stack {
    sb: Sandbox,
    broker: Broker,
    influx: Influx,
    topic: String,
}

impl Stack {
    fn start(topic: &str) -> Option<Stack> {
        let sb = Sandbox::new();
        let broker = Broker::start(&sb.path("broker"))?;
        let influx = Influx::start(&sb.path("influxdb"))?;
        let stack = Stack {
            sb,
            broker,
            influx,
            topic: topic.to_string(),
        };
        stack
            .store()
            .create_database()
            .expect("create the database");
        Some(stack)
    }

    fn store(&self) -> InfluxStore {
        InfluxStore::new(
            &nbi_core::store::InfluxDbConfig {
                url: self.influx.url(),
                database: "nbi".into(),
                batch_points: 5000,
                ..nbi_core::store::InfluxDbConfig::default()
            },
            None,
        )
    }

    /// `nbi` configured for this stack; each watcher keeps its own spool.
    fn nbi(&self, spool: &str) -> Command {
        let mut c = self.sb.cmd();
        c.env("NBI_KAFKA__BROKERS", self.broker.address())
            .env("NBI_KAFKA__TOPIC", &self.topic)
            .env("NBI_KAFKA__SPOOL_DIR", self.sb.path(spool))
            .env("NBI_INFLUXDB__URL", self.influx.url())
            .env("NBI_INFLUXDB__DATABASE", "nbi");
        c
    }

    fn collector(&self) -> Child {
        self.nbi("collector-spool")
            .args(["--store", "influx", "collect", "--bus", "kafka"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start nbi collect")
    }

    /// Publishes a file of ticks through `nbi watch --bus kafka` (a replay
    /// source) and waits until the broker has all of them.
    fn publish(&self, file: &std::path::Path, spool: &str) {
        succeed(
            self.nbi(spool)
                .args([
                    "watch",
                    "--bus",
                    "kafka",
                    "--source",
                    "replay",
                    "--replay-file",
                ])
                .arg(file),
        );
    }

    /// Ticks InfluxDB holds (one `nbi_tick` point per tick).
    fn stored_ticks(&self) -> u64 {
        self.store().summary().map(|s| s.ticks).unwrap_or(0)
    }

    fn wait_stored(&self, want: u64, within: Duration) -> bool {
        wait_for(within, || (self.stored_ticks() >= want).then_some(())).is_some()
    }

    /// Per (host, app) totals through the hourly query.
    fn totals(&self, hosts: &[String]) -> Totals {
        let store = self.store();
        let day = DateTime::from_timestamp(START, 0).unwrap().date_naive();
        let mut m = Totals::new();
        for host in hosts {
            let rows = store
                .hourly(
                    &HostFilter::One(host.clone()),
                    day.pred_opt().unwrap(),
                    day.succ_opt().unwrap(),
                    chrono_tz::UTC,
                )
                .expect("hourly query");
            for r in rows {
                let e = m.entry((host.clone(), r.app)).or_insert((0, 0));
                e.0 += r.bytes_in;
                e.1 += r.bytes_out;
            }
        }
        m
    }
}

/// `minutes` ticks for each of `hosts` hosts from START + `from` minutes,
/// as NDJSON, with the totals they add up to.
fn ticks(hosts: usize, from: u32, minutes: u32) -> (String, Totals, Vec<String>) {
    let mut text = String::new();
    let mut totals = Totals::new();
    let names: Vec<String> = (0..hosts).map(|h| format!("laptop-{h:02}")).collect();
    for m in from..from + minutes {
        let ts = DateTime::from_timestamp(START + i64::from(m) * 60, 0).unwrap();
        for (h, host) in names.iter().enumerate() {
            let h = h as u64 + 1;
            let m = u64::from(m) + 1;
            let apps = [
                ("Slack", h * 1_000 + m % 97, h + m % 5),
                ("Google Chrome", h * 123_457 + m * 11, m % 1_000),
                ("zoom.us", (m % 7) * h * 999, (m % 3) * 10_000),
            ];
            let usage: Vec<String> = apps
                .iter()
                .filter(|(_, i, o)| i + o > 0)
                .map(|(a, i, o)| format!("\"{a}\":{{\"in\":{i},\"out\":{o}}}"))
                .collect();
            text.push_str(&format!(
                "{{\"schema\":1,\"host\":\"{host}\",\"timestamp\":\"{}\",\"interval_s\":60,\"app_usage\":{{{}}}}}\n",
                ts.format("%Y-%m-%dT%H:%M:%SZ"),
                usage.join(",")
            ));
            for (a, i, o) in apps {
                if i + o > 0 {
                    let e = totals
                        .entry((host.clone(), a.to_string()))
                        .or_insert((0, 0));
                    e.0 += i;
                    e.1 += o;
                }
            }
        }
    }
    (text, totals, names)
}

fn merge(a: &mut Totals, b: Totals) {
    for (k, (i, o)) in b {
        let e = a.entry(k).or_insert((0, 0));
        e.0 += i;
        e.1 += o;
    }
}

fn stop(child: Child) -> String {
    signal(&child, libc::SIGTERM);
    let (status, stderr) = stderr_of(child);
    assert!(status.success(), "exit {status}: {stderr}");
    stderr
}

/// Kills it without warning; returns what it logged.
fn kill_9(child: Child) -> String {
    signal(&child, libc::SIGKILL);
    stderr_of(child).1
}

#[test]
fn ten_thousand_ticks_from_twenty_hosts_arrive_exactly() {
    let Some(stack) = Stack::start("network-metrics") else {
        return;
    };
    let (text, expected, hosts) = ticks(20, 0, 500);
    let file = stack.sb.write("ticks.ndjson", &text);
    let collector = stack.collector();
    stack.publish(&file, "spool");
    assert!(
        stack.wait_stored(10_000, Duration::from_secs(180)),
        "stored {} of 10000 ticks",
        stack.stored_ticks()
    );
    let log = stop(collector);
    assert_eq!(stack.stored_ticks(), 10_000);
    assert_eq!(stack.totals(&hosts), expected, "{log}");
}

/// A tiny seeded generator, so a failing run can be repeated.
struct Lcg(u64);

impl Lcg {
    fn next_ms(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        lo + (self.0 >> 33) % (hi - lo)
    }
}

#[test]
fn a_collector_killed_at_random_points_counts_everything_once() {
    let Some(stack) = Stack::start("kill-collector") else {
        return;
    };
    let seed = std::env::var("NBI_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| Utc::now().timestamp() as u64);
    eprintln!("kill points from seed {seed} (NBI_TEST_SEED={seed} repeats them)");
    let mut rng = Lcg(seed);
    let (text, expected, hosts) = ticks(10, 0, 400);
    let file = stack.sb.write("ticks.ndjson", &text);
    stack.publish(&file, "spool");
    let mut kills = 0;
    while stack.stored_ticks() < 4_000 && kills < 6 {
        let c = stack.collector();
        std::thread::sleep(Duration::from_millis(rng.next_ms(300, 2_500)));
        kill_9(c);
        kills += 1;
    }
    let collector = stack.collector();
    assert!(
        stack.wait_stored(4_000, Duration::from_secs(180)),
        "stored {} of 4000 ticks",
        stack.stored_ticks()
    );
    stop(collector);
    assert_eq!(stack.totals(&hosts), expected, "after {kills} kill -9");
}

#[test]
fn an_influxdb_outage_loses_nothing_and_commits_nothing_unwritten() {
    let Some(mut stack) = Stack::start("influx-outage") else {
        return;
    };
    let (first, mut expected, hosts) = ticks(5, 0, 200);
    let (second, more, _) = ticks(5, 200, 200);
    merge(&mut expected, more);
    let collector = stack.collector();
    stack.publish(&stack.sb.write("first.ndjson", &first), "spool");
    assert!(stack.wait_stored(1_000, Duration::from_secs(120)));

    stack.influx.kill();
    stack.publish(&stack.sb.write("second.ndjson", &second), "spool");
    // The collector holds the batch and retries; killed meanwhile, it must
    // not have committed what it could not write.
    std::thread::sleep(Duration::from_secs(3));
    let log = kill_9(collector);
    assert!(log.contains("store write failed; retrying"), "{log}");
    let collector = stack.collector();
    std::thread::sleep(Duration::from_secs(3));
    stack.influx.restart();

    if !stack.wait_stored(2_000, Duration::from_secs(180)) {
        let stored = stack.stored_ticks();
        panic!(
            "stored {stored} of 2000 ticks; the collector logged:\n{}",
            kill_9(collector)
        );
    }
    stop(collector);
    assert_eq!(stack.totals(&hosts), expected);
}

#[test]
fn a_broker_outage_between_watcher_and_collector_loses_nothing() {
    let Some(mut stack) = Stack::start("broker-outage") else {
        return;
    };
    let (first, mut expected, hosts) = ticks(4, 0, 100);
    let (second, more, _) = ticks(4, 100, 100);
    merge(&mut expected, more);
    let collector = stack.collector();
    stack.publish(&stack.sb.write("first.ndjson", &first), "spool");
    assert!(stack.wait_stored(400, Duration::from_secs(120)));

    // The broker goes away while a watcher has more to send: the watcher is
    // stopped with its ticks spooled on disk, and sends them when started
    // again after the broker is back.
    stack.broker.kill();
    let file = stack.sb.write("second.ndjson", &second);
    let mut watcher = stack
        .nbi("spool")
        .args([
            "watch",
            "--bus",
            "kafka",
            "--source",
            "replay",
            "--replay-file",
        ])
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let spool = stack.sb.path("spool");
    let spooled = wait_for(Duration::from_secs(30), || {
        let bytes: u64 = std::fs::read_dir(&spool)
            .ok()?
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "seg"))
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum();
        (bytes > 0).then_some(bytes)
    });
    assert!(spooled.is_some(), "the watcher spooled its ticks");
    std::thread::sleep(Duration::from_secs(2));
    signal(&watcher, libc::SIGTERM);
    let status = watcher.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(watcher.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(status.success(), "{err}");
    assert!(err.contains("spool"), "{err}");

    stack.broker.restart();
    // The same spool, an empty file: only what waited is sent.
    stack.publish(&stack.sb.write("empty.ndjson", ""), "spool");
    assert!(
        stack.wait_stored(800, Duration::from_secs(180)),
        "stored {} of 800 ticks",
        stack.stored_ticks()
    );
    stop(collector);
    assert_eq!(stack.totals(&hosts), expected);
}

#[test]
fn detect_on_influxdb_reaches_the_same_verdict_as_on_sqlite() {
    let Some(stack) = Stack::start("detect") else {
        return;
    };
    let first = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
    let mut gen = nbi_core::synth::Generator::new(7);
    let mut text = String::new();
    for d in 0..22 {
        let day = first + chrono::Duration::days(d);
        for t in gen.day_ticks("testhost", day, chrono_tz::UTC, None) {
            text.push_str(&t.to_json());
            text.push('\n');
        }
    }
    // The last day also has an app never seen before moving 30 GB at noon.
    let last = first + chrono::Duration::days(21);
    let noon = last.and_hms_opt(12, 0, 0).unwrap().and_utc().timestamp();
    for m in 0..60 {
        let ts = DateTime::from_timestamp(noon + m * 60, 0).unwrap();
        text.push_str(&format!(
            "{{\"schema\":1,\"host\":\"testhost\",\"timestamp\":\"{}\",\"interval_s\":60,\"app_usage\":{{\"Backup\":{{\"in\":0,\"out\":500000000}}}}}}\n",
            ts.format("%Y-%m-%dT%H:%M:%SZ")
        ));
    }
    let file = stack.sb.write("history.ndjson", &text);
    let import = |store: &str| {
        succeed(
            stack
                .nbi("spool")
                .args(["--store", store, "import"])
                .arg(&file),
        )
    };
    import("sqlite");
    import("influx");
    let detect = |store: &str, day: NaiveDate| -> Value {
        let out = succeed(stack.nbi("spool").args([
            "--store",
            store,
            "detect",
            "--json",
            "--day",
            &day.to_string(),
        ]));
        serde_json::from_str(&out).unwrap()
    };
    for day in [last.pred_opt().unwrap(), last] {
        let on_sqlite = detect("sqlite", day);
        let on_influx = detect("influx", day);
        assert_eq!(on_influx, on_sqlite, "{day}");
    }
    assert_eq!(detect("influx", last)["status"], "anomalous");

    // The verdicts are stored in InfluxDB too, and can be marked normal.
    let verdicts = |store: &str| -> Value {
        let out = succeed(
            stack
                .nbi("spool")
                .args(["--store", store, "verdicts", "--json"]),
        );
        serde_json::from_str(&out).unwrap()
    };
    let stored = verdicts("influx");
    let list = stored.as_array().unwrap();
    assert_eq!(list.len(), 2, "{stored}");
    assert_eq!(list[1]["status"], "anomalous");
    assert_eq!(list[1]["marked_normal"], false);
    succeed(
        stack
            .nbi("spool")
            .args(["--store", "influx", "mark-normal", &last.to_string()]),
    );
    assert_eq!(verdicts("influx")[1]["marked_normal"], true);
    // Judged again, the owner's mark stays.
    detect("influx", last);
    assert_eq!(verdicts("influx")[1]["marked_normal"], true);
    // "This is my new normal" keeps its change in InfluxDB as in SQLite:
    // the day after it has one baseline day, from it on.
    succeed(
        stack
            .nbi("spool")
            .args(["--store", "influx", "new-normal", &last.to_string()]),
    );
    let kept = verdicts("influx");
    assert_eq!(kept[1]["routine"]["since"], last.to_string(), "{kept}");
    assert_eq!(kept[1]["routine"]["by"], "owner", "{kept}");
    // A Grafana annotation query finds the day.
    let series = stack
        .store()
        .query("SELECT \"summary\", \"anomaly\" FROM \"nbi_verdict\" WHERE \"anomaly\" = true")
        .unwrap();
    assert_eq!(series.len(), 1, "{series:?}");
}

#[test]
fn run_with_the_kafka_bus_stores_a_replay_exactly() {
    let sb = Sandbox::new();
    let Some(broker) = Broker::start(&sb.path("broker")) else {
        return;
    };
    let (text, expected) = ndjson_ticks("testhost", 300);
    let file = sb.write("ticks.ndjson", &text);
    succeed(
        sb.cmd()
            .env("NBI_KAFKA__BROKERS", broker.address())
            .env("NBI_KAFKA__TOPIC", "run-bus")
            .args([
                "run",
                "--bus",
                "kafka",
                "--no-detect",
                "--source",
                "replay",
                "--replay-file",
            ])
            .arg(&file),
    );
    assert_eq!(sb.day_totals("2026-07-11", &[]), expected);
    let status = sb.status();
    let bus = &status["run"]["bus"];
    assert_eq!(bus["sent"], 300, "{status}");
    assert_eq!(bus["spooled"], 0, "{status}");
    assert_eq!(bus["connected"], true, "{status}");
}
