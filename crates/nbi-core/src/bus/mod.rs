//! The bus between sources and the collector.
//!
//! [`memory`] is the embedded default: a bounded in-process queue whose
//! `publish` waits when the collector falls behind (back-pressure). A broker
//! implements the same two traits; its deliveries carry offsets that the
//! collector acknowledges only after the store has them durably.

#[cfg(feature = "kafka")]
pub mod kafka;
pub mod memory;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, Secret};
use crate::tick::Tick;

/// The `[kafka]` section: the Kafka bus (`--bus kafka`), where watchers
/// publish and collectors read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// Bootstrap brokers, comma-separated ("host:port,host:port").
    pub brokers: String,
    pub topic: String,
    /// The collectors' consumer group.
    pub group: String,
    /// This collector's static member name in the group (Kafka's
    /// `group.instance.id`): a collector restarted after a crash takes its
    /// partitions back at once. Empty: `nbi-collect-<host>`. Two collectors
    /// on one machine need different names.
    pub instance: String,
    /// Partitions of the topic when nbi creates it (keyed by host).
    pub partitions: i32,
    pub replication: i32,
    /// none, gzip, snappy, lz4 or zstd.
    pub compression: String,
    /// How long the producer tries one message, in seconds, before the
    /// sender leaves it in the spool and tries again later.
    pub message_timeout_s: u64,
    /// Where a watcher keeps ticks until the broker has them; empty: `spool`
    /// beside the database.
    pub spool_dir: Option<PathBuf>,
    /// Largest spool on disk, in MiB; when full, the oldest ticks are dropped
    /// (counted and logged).
    pub spool_max_mb: u64,
    /// Passed to librdkafka as they are (`security.protocol`,
    /// `sasl.mechanisms`, `sasl.username`, `sasl.password`,
    /// `ssl.ca.location`, …). Values of keys naming a password, secret,
    /// token or key are secrets: never printed.
    pub options: KafkaOptions,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: "127.0.0.1:9092".into(),
            topic: "network-metrics".into(),
            group: "nbi-collector".into(),
            instance: String::new(),
            partitions: 3,
            replication: 1,
            compression: "lz4".into(),
            message_timeout_s: 30,
            spool_dir: None,
            spool_max_mb: 256,
            options: KafkaOptions::default(),
        }
    }
}

impl KafkaConfig {
    /// This configuration as the clients of `host` use it: brokers and
    /// names trimmed, and a collector's static member name filled in
    /// (`nbi-collect-<host>` unless `instance` names one).
    pub fn for_host(&self, host: &str) -> KafkaConfig {
        KafkaConfig {
            brokers: self
                .brokers
                .split(',')
                .map(str::trim)
                .filter(|b| !b.is_empty())
                .collect::<Vec<_>>()
                .join(","),
            topic: self.topic.trim().to_string(),
            group: self.group.trim().to_string(),
            instance: match self.instance.trim() {
                "" => format!("nbi-collect-{host}"),
                name => name.to_string(),
            },
            ..self.clone()
        }
    }

    /// Where messages that are not ticks are set aside.
    pub fn dlq_topic(&self) -> String {
        format!("{}.dlq", self.topic)
    }

    /// The producer's time for one message.
    pub fn message_timeout(&self) -> Duration {
        Duration::from_secs(self.message_timeout_s)
    }

    /// Where a watcher spools: `spool_dir`, else `spool` in `state_dir`.
    pub fn spool_dir_in(&self, state_dir: &Path) -> PathBuf {
        match &self.spool_dir {
            Some(d) if !d.as_os_str().is_empty() => d.clone(),
            _ => state_dir.join("spool"),
        }
    }

    /// Checks the keys; an error names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad =
            |key: &str, what: &str| Err(ConfigError::Invalid(format!("key `kafka.{key}`: {what}")));
        if self.brokers.split(',').all(|b| b.trim().is_empty()) {
            return bad("brokers", "expected host:port[,host:port…]");
        }
        if self.topic.trim().is_empty() {
            return bad("topic", "expected a topic name");
        }
        if self.group.trim().is_empty() {
            return bad("group", "expected a consumer group name");
        }
        if self.partitions < 1 || self.replication < 1 {
            return bad(
                "partitions",
                "partitions and replication must be at least 1",
            );
        }
        if !["none", "gzip", "snappy", "lz4", "zstd"].contains(&self.compression.as_str()) {
            return bad(
                "compression",
                &format!(
                    "expected none, gzip, snappy, lz4 or zstd, found {:?}",
                    self.compression
                ),
            );
        }
        if self.message_timeout_s == 0 {
            return bad("message_timeout_s", "expected at least 1 second");
        }
        if self.spool_max_mb == 0 {
            return bad("spool_max_mb", "expected at least 1 MiB");
        }
        Ok(())
    }
}

/// librdkafka options, passed through as they are; the values of keys
/// that name a secret are kept as [`Secret`]s.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KafkaOptions(BTreeMap<String, KafkaOption>);

/// One librdkafka option's value.
#[derive(Debug, Clone, PartialEq)]
pub enum KafkaOption {
    Plain(String),
    Secret(Secret),
}

impl KafkaOptions {
    /// Whether a librdkafka option holds a secret (never printed or logged).
    pub fn is_secret(key: &str) -> bool {
        let k = key.to_ascii_lowercase();
        [
            "password", "secret", "token", "key.pem", "keystore", "private",
        ]
        .iter()
        .any(|s| k.contains(s))
    }

    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let key = key.into();
        let value = value.into();
        let value = if Self::is_secret(&key) {
            KafkaOption::Secret(Secret::new(value))
        } else {
            KafkaOption::Plain(value)
        };
        self.0.insert(key, value);
    }

    /// The options with their values, secrets exposed: for the one place
    /// that hands them to librdkafka.
    pub fn exposed(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| {
            let v = match v {
                KafkaOption::Plain(p) => p.as_str(),
                KafkaOption::Secret(s) => s.expose(),
            };
            (k.as_str(), v)
        })
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for KafkaOptions {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            match v {
                KafkaOption::Plain(p) => map.serialize_entry(k, p)?,
                KafkaOption::Secret(secret) => map.serialize_entry(k, secret)?,
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for KafkaOptions {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let plain = BTreeMap::<String, String>::deserialize(d)?;
        let mut out = KafkaOptions::default();
        for (k, v) in plain {
            out.insert(k, v);
        }
        Ok(out)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("the bus is closed")]
    Closed,
    #[error("bus: {0}")]
    Other(String),
}

/// How a broker bus is doing on the watcher's side, for status displays.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BusStatus {
    /// Whether the last attempt to reach the broker worked.
    pub connected: bool,
    /// Ticks in the disk spool, not yet acknowledged by the broker.
    pub spooled: u64,
    /// Ticks the broker has acknowledged since start.
    pub sent: u64,
    /// Ticks dropped since start because the spool was full.
    pub dropped: u64,
    pub last_error: Option<String>,
}

/// Where sources send ticks.
pub trait Publisher: Clone + Send + Sync + 'static {
    /// Sends one tick, waiting while the bus is full.
    fn publish(&self, tick: Tick) -> impl Future<Output = Result<(), BusError>> + Send;
}

/// A received tick and what must be acknowledged once it is stored.
#[derive(Debug)]
pub struct Delivery<A> {
    pub tick: Tick,
    pub ack: A,
}

/// Where the collector reads ticks.
pub trait Subscriber: Send + 'static {
    /// Acknowledgement token of one delivery (a Kafka offset; `()` in memory).
    type Ack: Send + std::fmt::Debug;

    /// Waits for up to `max` deliveries: returns as soon as `max` are in hand
    /// or `linger` has passed since the first one. `Ok(empty)` means the bus
    /// is closed and drained.
    ///
    /// Cancel safety: this future may be dropped at any await (a collector
    /// races it against shutdown). Deliveries it had already taken from the
    /// bus are kept in the subscriber, for the next call or for
    /// [`Subscriber::take_ready`]; nothing the bus delivered is lost.
    fn next_batch(
        &mut self,
        max: usize,
        linger: Duration,
    ) -> impl Future<Output = Result<Vec<Delivery<Self::Ack>>, BusError>> + Send;

    /// The deliveries already taken from the bus and not yet returned (a
    /// batch that was lingering when [`Subscriber::next_batch`] was
    /// cancelled), without waiting: what a collector stores at shutdown.
    fn take_ready(&mut self) -> Vec<Delivery<Self::Ack>>;

    /// Marks deliveries as durably handled (commit offsets).
    fn ack(&mut self, acks: Vec<Self::Ack>) -> impl Future<Output = Result<(), BusError>> + Send;

    /// Sets aside a delivery the store refuses for what it holds (a point
    /// the server rejects), with the store's reason: to the dead-letter
    /// topic on Kafka, to a file beside the database in process. It then
    /// counts as handled: its ack goes with its batch's.
    fn dead_letter(
        &mut self,
        ack: &Self::Ack,
        tick: &Tick,
        reason: &str,
    ) -> impl Future<Output = Result<(), BusError>> + Send;
}
