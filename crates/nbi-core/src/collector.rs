//! The collector: reads ticks from the bus in batches, writes them to the
//! store, and acknowledges them only once they are stored.
//!
//! A tick it has accepted is never dropped: a failing store is retried with
//! backoff (the bus fills meanwhile and holds the sources back), and the last
//! batch is flushed on shutdown.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::bus::{Delivery, Subscriber};
use crate::counting::CountingPolicy;
use crate::store::{StoreError, TickWriter, WriteReport};
use crate::tick::Tick;

/// The `[collector]` section: how ticks are batched into the store, and
/// how a failing store is retried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CollectorConfig {
    /// Most ticks written in one transaction.
    pub batch_max: usize,
    /// Longest a tick waits in memory before it is written, in milliseconds.
    pub linger_ms: u64,
    /// Ticks the in-process bus holds before sources wait.
    pub bus_capacity: usize,
    /// First wait after a failed write, in milliseconds; doubled up to
    /// `retry_max_ms`.
    pub retry_initial_ms: u64,
    pub retry_max_ms: u64,
    /// How long a stopping collector keeps retrying a failing store, in
    /// milliseconds, before it gives up on what it holds (and says so).
    pub shutdown_grace_ms: u64,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        CollectorConfig {
            batch_max: 500,
            linger_ms: 1000,
            bus_capacity: 4096,
            retry_initial_ms: 200,
            retry_max_ms: 30_000,
            shutdown_grace_ms: 15_000,
        }
    }
}

impl CollectorConfig {
    pub fn linger(&self) -> Duration {
        Duration::from_millis(self.linger_ms)
    }

    /// Checks the keys; an error names the key.
    pub fn validate(&self) -> Result<(), crate::config::ConfigError> {
        let bad = |key: &str| {
            Err(crate::config::ConfigError::Invalid(format!(
                "key `collector.{key}`: expected at least 1"
            )))
        };
        if self.batch_max == 0 {
            return bad("batch_max");
        }
        if self.bus_capacity == 0 {
            return bad("bus_capacity");
        }
        if self.retry_initial_ms == 0 {
            return bad("retry_initial_ms");
        }
        Ok(())
    }
}

/// What the collector has done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectorStats {
    pub ticks_written: u64,
    /// Redelivered: already stored as they were.
    pub ticks_skipped: u64,
    /// Added to a different tick stored at the same host and second.
    pub ticks_merged: u64,
    pub samples_written: u64,
    pub batches: u64,
    pub retries: u64,
    /// Apps removed from arriving ticks by the counting policy.
    pub apps_left_out: u64,
    /// Ticks the store refused for what they hold, set aside (the
    /// dead-letter topic, or a file beside the database) with its reason.
    pub ticks_refused: u64,
    pub last_error: Option<String>,
}

impl CollectorStats {
    /// Ticks the store has taken, in any of its three ways.
    pub fn ticks_handled(&self) -> u64 {
        self.ticks_written + self.ticks_skipped + self.ticks_merged
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    #[error("the store refused a batch for good: {0}")]
    Store(#[from] StoreError),
    #[error("gave up writing {lost} ticks at shutdown: {last_error}")]
    Unflushed { lost: usize, last_error: String },
    #[error("{0}")]
    Bus(#[from] crate::bus::BusError),
    #[error("the store worker stopped unexpectedly")]
    Worker,
}

pub struct Collector<S: Subscriber, St: TickWriter> {
    subscriber: S,
    store: Option<St>,
    config: CollectorConfig,
    counting: Arc<CountingPolicy>,
    stats: watch::Sender<CollectorStats>,
    /// Ticks refused one after another with none stored between them.
    refused_in_a_row: u32,
}

/// More ticks than this refused one after another, none stored between
/// them, is a store that refuses everything: the collector stops rather
/// than set every tick aside.
const MAX_REFUSED_IN_A_ROW: u32 = 20;

impl<S: Subscriber, St: TickWriter> Collector<S, St> {
    /// A collector from `subscriber` into `store`; `counting` is applied to
    /// every tick before it is stored (ticks that arrive already counted,
    /// from replays or other machines' watchers, meet the same name rules
    /// as the live sources).
    pub fn new(
        subscriber: S,
        store: St,
        config: CollectorConfig,
        counting: Arc<CountingPolicy>,
    ) -> Self {
        Collector {
            subscriber,
            store: Some(store),
            config,
            counting,
            stats: watch::Sender::new(CollectorStats::default()),
            refused_in_a_row: 0,
        }
    }

    /// Live statistics, for status reporting.
    pub fn stats(&self) -> watch::Receiver<CollectorStats> {
        self.stats.subscribe()
    }

    /// Runs until the bus is closed and drained, or until `stop` is cancelled
    /// (for brokers, which never close); the batch in hand is written first.
    /// Returns the store and the final statistics.
    pub async fn run(
        mut self,
        stop: Option<CancellationToken>,
    ) -> Result<(St, CollectorStats), CollectorError> {
        let stop = stop.unwrap_or_default();
        loop {
            let batch = tokio::select! {
                biased;
                b = self.subscriber.next_batch(self.config.batch_max, self.config.linger()) => b?,
                _ = stop.cancelled() => Vec::new(),
            };
            if batch.is_empty() {
                break;
            }
            self.write_batch(batch, &stop).await?;
        }
        // What the bus handed over to a batch that was still gathering when
        // we were stopped: stored too, not left behind.
        let rest = self.subscriber.take_ready();
        if !rest.is_empty() {
            self.write_batch(rest, &stop).await?;
        }
        let store = self.store.take().ok_or(CollectorError::Worker)?;
        let stats = self.stats.borrow().clone();
        Ok((store, stats))
    }

    async fn write_batch(
        &mut self,
        batch: Vec<Delivery<S::Ack>>,
        stop: &CancellationToken,
    ) -> Result<(), CollectorError> {
        let mut left_out = 0u64;
        let (ticks, acks): (Vec<Tick>, Vec<S::Ack>) = batch
            .into_iter()
            .map(|d| {
                let (tick, removed) = self.counting.apply(d.tick);
                left_out += removed as u64;
                (tick, d.ack)
            })
            .unzip();
        if left_out > 0 {
            self.stats.send_modify(|s| s.apps_left_out += left_out);
        }
        let ticks = Arc::new(ticks);
        let refused = self.store_isolating(&ticks, stop).await?;
        for (i, e) in &refused {
            let reason = e.to_string();
            self.subscriber
                .dead_letter(&acks[*i], &ticks[*i], &reason)
                .await?;
        }
        if !refused.is_empty() {
            self.stats
                .send_modify(|s| s.ticks_refused += refused.len() as u64);
        }
        self.subscriber.ack(acks).await?;
        Ok(())
    }

    /// Stores `ticks`. Where the store refuses them for what they hold (see
    /// [`StoreError::is_about_data`]), the batch is halved until each
    /// refused tick stands alone, and those are returned with the store's
    /// reason: one bad tick never stops the rest. A store that refuses
    /// every tick it is given, or refuses for its own reasons (a bad token,
    /// a missing database), stops the collector, as a transient failure
    /// that outlasts a shutdown's grace does.
    async fn store_isolating(
        &mut self,
        ticks: &Arc<Vec<Tick>>,
        stop: &CancellationToken,
    ) -> Result<Vec<(usize, StoreError)>, CollectorError> {
        let mut refused = Vec::new();
        let mut stored = 0usize;
        let mut pending = Vec::new();
        pending.push(0..ticks.len());
        while let Some(range) = pending.pop() {
            match self.write_retrying(ticks, range.clone(), stop).await? {
                Ok(report) => {
                    stored += range.len();
                    self.refused_in_a_row = 0;
                    self.record(report);
                }
                Err(e) if e.is_about_data() && range.len() > 1 => {
                    let mid = range.start + range.len() / 2;
                    pending.push(mid..range.end);
                    pending.push(range.start..mid);
                }
                Err(e) if e.is_about_data() => {
                    self.refused_in_a_row += 1;
                    let everything = self.refused_in_a_row > MAX_REFUSED_IN_A_ROW
                        || (ticks.len() > 1 && stored == 0 && refused.len() + 1 == ticks.len());
                    if everything {
                        return Err(self.gave_up(e));
                    }
                    refused.push((range.start, e));
                }
                Err(e) => return Err(self.gave_up(e)),
            }
        }
        Ok(refused)
    }

    fn gave_up(&self, e: StoreError) -> CollectorError {
        tracing::error!(error = %e, "store write failed for good");
        self.stats
            .send_modify(|s| s.last_error = Some(e.to_string()));
        e.into()
    }

    /// Writes `ticks[range]`, retrying a transient failure with backoff
    /// (for at most the shutdown grace once `stop` is cancelled); the
    /// outer error is the collector's, the inner the store's lasting one.
    async fn write_retrying(
        &mut self,
        ticks: &Arc<Vec<Tick>>,
        range: std::ops::Range<usize>,
        stop: &CancellationToken,
    ) -> Result<Result<WriteReport, StoreError>, CollectorError> {
        let mut delay = Duration::from_millis(self.config.retry_initial_ms);
        let mut gave_up_at: Option<tokio::time::Instant> = None;
        loop {
            let mut store = self.store.take().ok_or(CollectorError::Worker)?;
            let batch = ticks.clone();
            let part = range.clone();
            let (store, result) = tokio::task::spawn_blocking(move || {
                let r = store.write(&batch[part]);
                (store, r)
            })
            .await
            .map_err(|_| CollectorError::Worker)?;
            self.store = Some(store);
            let e = match result {
                Err(e) if e.is_transient() => e,
                other => return Ok(other),
            };
            tracing::warn!(error = %e, retry_in = ?delay, ticks = range.len(), "store write failed; retrying");
            self.stats.send_modify(|s| {
                s.retries += 1;
                s.last_error = Some(e.to_string());
            });
            if stop.is_cancelled() {
                let deadline = *gave_up_at.get_or_insert_with(|| {
                    tokio::time::Instant::now()
                        + Duration::from_millis(self.config.shutdown_grace_ms)
                });
                if tokio::time::Instant::now() >= deadline {
                    return Err(CollectorError::Unflushed {
                        lost: range.len(),
                        last_error: e.to_string(),
                    });
                }
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(self.config.retry_max_ms));
        }
    }

    fn record(&self, r: WriteReport) {
        self.stats.send_modify(|s| {
            s.ticks_written += r.ticks_written as u64;
            s.ticks_skipped += r.ticks_skipped as u64;
            s.ticks_merged += r.ticks_merged as u64;
            s.samples_written += r.samples_written as u64;
            s.batches += 1;
            s.last_error = None;
        });
        tracing::debug!(
            written = r.ticks_written,
            skipped = r.ticks_skipped,
            merged = r.ticks_merged,
            samples = r.samples_written,
            "batch stored"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::{memory, Publisher};
    use chrono::DateTime;
    use std::sync::{Arc, Mutex};

    /// A store whose first `fail` writes fail (transiently), recording the
    /// rest; or, when `permanent`, whose every write fails for good.
    #[derive(Clone, Default)]
    struct FlakyStore {
        fail: Arc<Mutex<u32>>,
        permanent: bool,
        written: Arc<Mutex<Vec<Tick>>>,
    }

    impl TickWriter for FlakyStore {
        fn write(&mut self, ticks: &[Tick]) -> Result<WriteReport, StoreError> {
            let mut fail = self.fail.lock().unwrap();
            if self.permanent {
                return Err(StoreError::Query("no such table".into()));
            }
            if *fail > 0 {
                *fail -= 1;
                return Err(StoreError::Io {
                    path: "flaky".into(),
                    source: std::io::Error::other("disk went away"),
                });
            }
            self.written.lock().unwrap().extend_from_slice(ticks);
            Ok(WriteReport {
                ticks_written: ticks.len(),
                ..Default::default()
            })
        }

        fn prune_minutes(
            &mut self,
            _before: chrono::DateTime<chrono::Utc>,
        ) -> Result<u64, StoreError> {
            Ok(0)
        }
    }

    fn tick(n: i64) -> Tick {
        Tick::from_totals(
            "h",
            DateTime::from_timestamp(n * 60, 0).unwrap(),
            60,
            [("a".to_string(), (n as u64, 1))],
        )
    }

    fn fast() -> CollectorConfig {
        CollectorConfig {
            batch_max: 7,
            linger_ms: 5,
            retry_initial_ms: 1,
            retry_max_ms: 5,
            shutdown_grace_ms: 50,
            ..CollectorConfig::default()
        }
    }

    fn everything() -> Arc<CountingPolicy> {
        Arc::new(CountingPolicy::count_everything())
    }

    #[tokio::test]
    async fn retries_a_failing_store_and_loses_nothing() {
        let store = FlakyStore::default();
        *store.fail.lock().unwrap() = 5;
        let (tx, rx) = memory::channel(4);
        let collector = Collector::new(rx, store.clone(), fast(), everything());
        let stats = collector.stats();
        let handle = tokio::spawn(collector.run(None));
        for n in 1..=100 {
            tx.publish(tick(n)).await.unwrap();
        }
        drop(tx);
        let (_, final_stats) = handle.await.unwrap().unwrap();
        let written = store.written.lock().unwrap();
        let ns: Vec<i64> = written.iter().map(|t| t.at.timestamp() / 60).collect();
        assert_eq!(
            ns,
            (1..=100).collect::<Vec<_>>(),
            "every tick once, in order"
        );
        assert_eq!(final_stats.retries, 5);
        assert_eq!(stats.borrow().ticks_written, 100);
    }

    #[tokio::test]
    async fn shutdown_with_a_dead_store_reports_what_it_could_not_write() {
        let store = FlakyStore::default();
        *store.fail.lock().unwrap() = u32::MAX;
        let (tx, rx) = memory::channel(4);
        let stop = CancellationToken::new();
        let handle =
            tokio::spawn(Collector::new(rx, store, fast(), everything()).run(Some(stop.clone())));
        tx.publish(tick(1)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        stop.cancel();
        let err = handle.await.unwrap().err().unwrap();
        assert!(
            matches!(err, CollectorError::Unflushed { lost: 1, .. }),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_stop_in_the_middle_of_a_batch_stores_the_batch() {
        let store = FlakyStore::default();
        let (tx, rx) = memory::channel(64);
        let stop = CancellationToken::new();
        // A batch that would wait a minute for more ticks.
        let options = CollectorConfig {
            batch_max: 1000,
            linger_ms: 60_000,
            ..fast()
        };
        let collector = Collector::new(rx, store.clone(), options, everything());
        let handle = tokio::spawn(collector.run(Some(stop.clone())));
        for n in 1..=40 {
            tx.publish(tick(n)).await.unwrap();
        }
        // Let the collector take them into its batch, then stop it.
        tokio::time::sleep(Duration::from_millis(50)).await;
        stop.cancel();
        let (_, stats) = tokio::time::timeout(Duration::from_secs(5), handle)
            .await
            .expect("stops at once")
            .unwrap()
            .unwrap();
        assert_eq!(stats.ticks_written, 40, "nothing the bus delivered is lost");
        assert_eq!(store.written.lock().unwrap().len(), 40);
    }

    #[tokio::test]
    async fn a_permanent_error_stops_the_collector() {
        let store = FlakyStore {
            permanent: true,
            ..FlakyStore::default()
        };
        let (tx, rx) = memory::channel(4);
        let handle = tokio::spawn(Collector::new(rx, store, fast(), everything()).run(None));
        tx.publish(tick(1)).await.unwrap();
        assert!(matches!(
            handle.await.unwrap(),
            Err(CollectorError::Store(_))
        ));
    }

    /// A store like a server's: it refuses any batch holding a tick of the
    /// app "poison" (as InfluxDB refuses a point it cannot take), or, when
    /// `refuse_all`, every batch.
    #[derive(Clone, Default)]
    struct PickyStore {
        refuse_all: bool,
        written: Arc<Mutex<Vec<Tick>>>,
    }

    impl TickWriter for PickyStore {
        fn write(&mut self, ticks: &[Tick]) -> Result<WriteReport, StoreError> {
            let poisoned = ticks
                .iter()
                .any(|t| t.apps.iter().any(|a| a.app == "poison"));
            if self.refuse_all || poisoned {
                return Err(StoreError::Http {
                    url: "http://127.0.0.1:1".into(),
                    status: 400,
                    body: "partial write: field type conflict".into(),
                });
            }
            self.written.lock().unwrap().extend_from_slice(ticks);
            Ok(WriteReport {
                ticks_written: ticks.len(),
                ..Default::default()
            })
        }

        fn prune_minutes(
            &mut self,
            _before: chrono::DateTime<chrono::Utc>,
        ) -> Result<u64, StoreError> {
            Ok(0)
        }
    }

    fn poison(n: i64) -> Tick {
        Tick::from_totals(
            "h",
            DateTime::from_timestamp(n * 60, 0).unwrap(),
            60,
            [("poison".to_string(), (1, 1))],
        )
    }

    #[tokio::test]
    async fn a_tick_the_store_refuses_is_set_aside_and_the_rest_stored() {
        let dir = tempfile::tempdir().unwrap();
        let letters = dir.path().join("rejected.ndjson");
        let store = PickyStore::default();
        let written = store.written.clone();
        let (tx, rx) = memory::channel(256);
        let rx = rx.with_dead_letters(letters.clone());
        let config = CollectorConfig {
            batch_max: 100,
            linger_ms: 50,
            ..fast()
        };
        let handle = tokio::spawn(Collector::new(rx, store, config, everything()).run(None));
        for n in 1..=100 {
            let t = if n == 37 || n == 81 {
                poison(n)
            } else {
                tick(n)
            };
            tx.publish(t).await.unwrap();
        }
        drop(tx);
        let (_, stats) = handle.await.unwrap().unwrap();
        let stored: Vec<i64> = written
            .lock()
            .unwrap()
            .iter()
            .map(|t| t.at.timestamp() / 60)
            .collect();
        assert_eq!(stored.len(), 98, "every other tick stored");
        assert!(!stored.contains(&37) && !stored.contains(&81));
        assert_eq!(stats.ticks_refused, 2);
        assert_eq!(stats.ticks_written, 98);
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(&letters)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0]["reason"]
            .as_str()
            .unwrap()
            .contains("field type conflict"));
        let back = Tick::from_json(lines[0]["tick"].as_str().unwrap()).unwrap();
        assert_eq!(back.apps[0].app, "poison", "the tick itself is kept");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&letters).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "its owner's alone");
        }
    }

    #[tokio::test]
    async fn a_store_that_refuses_every_tick_stops_the_collector() {
        let store = PickyStore {
            refuse_all: true,
            ..PickyStore::default()
        };
        let (tx, rx) = memory::channel(16);
        let handle = tokio::spawn(Collector::new(rx, store, fast(), everything()).run(None));
        for n in 1..=5 {
            tx.publish(tick(n)).await.unwrap();
        }
        assert!(matches!(
            handle.await.unwrap(),
            Err(CollectorError::Store(_))
        ));
    }
}
