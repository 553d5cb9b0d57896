//! The runtime: the one place that turns the configuration into running
//! parts — source, bus (and spool), collector, status, judging — for every
//! host: `nbi run`, `watch`, `collect`, `replay`, `import` and the tray app.
//! The hosts map their flags and events onto it and hold no wiring of
//! their own.
//!
//! # Start and shutdown order
//!
//! A run ([`Runtime::run`]) starts its parts so that nothing waits on a part
//! not yet running: the store's writer (its schema) and readers, the bus,
//! the collector, the status file, judging, and the source last.
//!
//! It stops when its shutdown token is cancelled, or when the source ends
//! by itself (a replay), in the reverse order:
//! 1. the source stops and publishes its partial interval;
//! 2. the publishing side hands over what it has: the in-process bus closes
//!    and the collector drains it; the Kafka spool sends for a short grace
//!    after a signal (what is left stays spooled for the next start), or
//!    until the broker and the collector have everything when a replay ends;
//! 3. the collector stores what it received — a batch it was still
//!    gathering included — and acknowledges it (commits Kafka offsets);
//! 4. judging stops (a day being judged finishes first);
//! 5. the final status is written, and the store closes.
//!
//! # Process-wide policy
//!
//! - [`init_process`], first thing in `main`: the models' matrix multiplies
//!   run on the calling thread (handing them to a second thread costs ~8× the
//!   work).
//! - One writer connection per store for the whole process, shared by the
//!   collector and the judge; read-only readers for everything that only
//!   reads ([`crate::store::connections`]).
//! - Blocking work (SQLite, the Linux source's socket dumps, the spool's
//!   disk, training) runs on the blocking pool, never on the async workers.

pub mod status;
pub mod upkeep;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use chrono_tz::Tz;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::bus::{memory, BusError, BusStatus, Publisher, Subscriber};
use crate::collector::{Collector, CollectorError, CollectorStats};
use crate::config::{Config, ConfigError};
use crate::counting::CountingPolicy;
use crate::intel::verdict::Verdict;
use crate::schedule::Nightly;
use crate::source::pause::PauseSwitch;
use crate::source::replay::{CsvOptions, ReplayConfig};
use crate::source::{
    self, SourceContext, SourceError, SourceKind, SourceSpec, SourceStatus, StatusTx,
};
use crate::store::sqlite::SqliteStore;
use crate::store::{Store, StoreError, VerdictRecord};
pub use upkeep::Upkeep;

use crate::store::connections::{Opener, Readers, Stores, Writer};

/// Makes the process ready for the runtime; call first thing in `main`,
/// before any other thread exists (it may set an environment variable).
pub fn init_process() {
    crate::intel::use_one_math_thread();
    // What nbi writes is its owner's alone, whatever the umask it got.
    crate::files::restrict_umask();
}

/// Which store a run writes to and reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreKind {
    /// The embedded default: the SQLite file of `store.db`.
    #[default]
    Sqlite,
    /// `[influxdb]`.
    Influx,
}

/// Which bus carries ticks from the source to the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BusKind {
    /// In process: the embedded default.
    #[default]
    Memory,
    /// `[kafka]`, with a disk spool on the publishing side.
    Kafka,
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Collector(#[from] CollectorError),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("{0}")]
    Unavailable(String),
}

/// The validated configuration and what follows from it.
#[derive(Debug, Clone)]
pub struct Runtime {
    config: Arc<Config>,
    tz: Tz,
    store: StoreKind,
    /// Which network each of this machine's interfaces is on.
    networks: Arc<crate::network::Watch>,
}

/// Judging beside a run: nightly, and on start for missed days.
#[derive(Clone)]
pub struct Judging {
    /// Called with every new verdict (a notification, a refresh).
    pub on_verdict: Arc<dyn Fn(&Verdict) + Send + Sync>,
    /// Oldest unjudged day caught up, in days before the last complete day.
    pub max_catch_up: u32,
}

/// What a host hands a run to show it live or steer it (the tray app).
#[derive(Default)]
pub struct Controls {
    /// Lets the owner pause watching; `None`: never paused.
    pub pause: Option<PauseSwitch>,
    /// Where the source's status goes; `None`: a channel of its own.
    pub status: Option<StatusTx>,
    /// Receives the collector's statistics as they change.
    pub stored: Option<watch::Sender<CollectorStats>>,
}

/// One run: a source through a bus into the store.
pub struct Run {
    pub source: SourceSpec,
    pub bus: BusKind,
    /// `None`: days are not judged by this run.
    pub judging: Option<Judging>,
    pub controls: Controls,
    /// Write the status file beside the database (`nbi status` reads it).
    pub status_file: bool,
    /// Retention and data-plan notifications beside the run; `None`: none.
    pub upkeep: Option<Upkeep>,
}

/// What a finished run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub collector: CollectorStats,
    pub source: SourceStatus,
}

/// Where `watch` sends ticks.
pub enum WatchSink<P> {
    /// Any publisher (stdout as NDJSON, a test's channel).
    Publisher(P),
    /// `[kafka]`, through the spool.
    Kafka,
}

impl Runtime {
    /// Checks `config` (an error names the key) and keeps it, with the
    /// address table it names loaded (the shipped one, with a warning,
    /// when the user's cannot be read).
    pub fn new(mut config: Config, store: StoreKind) -> Result<Runtime, RuntimeError> {
        let tz = config.tz()?;
        let (namer, why) = config.destinations.namer();
        if let Some(why) = why {
            tracing::warn!("{why}");
        }
        config.intel.names = namer;
        Ok(Runtime {
            config: Arc::new(config),
            tz,
            store,
            networks: Arc::new(crate::network::Watch::this_machine()),
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    pub fn host(&self) -> &str {
        &self.config.host
    }

    pub fn store_kind(&self) -> StoreKind {
        self.store
    }

    pub fn db(&self) -> &Path {
        &self.config.store.db
    }

    /// How the store is named in logs and status.
    pub fn store_name(&self) -> String {
        match self.store {
            StoreKind::Sqlite => self.db().display().to_string(),
            StoreKind::Influx => format!(
                "InfluxDB {} database {}",
                self.config.influxdb.url, self.config.influxdb.database
            ),
        }
    }

    pub fn counting(&self) -> Arc<CountingPolicy> {
        Arc::new(self.config.counting())
    }

    /// Where the running parts keep their small files (nettop's pid file,
    /// the spool): the database's directory, made when missing.
    pub fn state_dir(&self) -> Result<PathBuf, RuntimeError> {
        let dir = self
            .db()
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        std::fs::create_dir_all(&dir).map_err(|source| StoreError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        Ok(dir)
    }

    /// The live source `kind` as `[source]` sets it up.
    pub fn live_source(&self, kind: SourceKind) -> Result<SourceSpec, RuntimeError> {
        let state_dir = self.state_dir()?;
        self.config.source.live(kind, &state_dir).ok_or_else(|| {
            RuntimeError::Unavailable(format!("source {kind} cannot run live: it replays a file"))
        })
    }

    /// A replay of `file` (NDJSON ticks, or a nettop capture of local
    /// `date`), `speed` times faster than it was recorded (0: as fast as it
    /// is stored).
    pub fn replay_source(&self, file: PathBuf, speed: f64, date: Option<NaiveDate>) -> SourceSpec {
        SourceSpec::Replay(ReplayConfig {
            path: file,
            csv: Some(self.csv_options(date)),
            speed: speed.max(0.0),
        })
    }

    /// How files are read: naive times in `timezone`, nettop captures of
    /// local `date` as this host at `source.interval`.
    pub fn csv_options(&self, date: Option<NaiveDate>) -> CsvOptions {
        CsvOptions {
            date,
            tz: self.tz,
            host: self.config.host.clone(),
            interval_s: self.config.source.interval,
            drop_first_block: true,
        }
    }

    /// Opens one connection to the store, able to write (creating the
    /// SQLite file and its schema when missing).
    pub fn open_store(&self) -> Result<Box<dyn Store>, RuntimeError> {
        Ok(self.opener(false)?()?)
    }

    /// The store's writer and readers (creating the SQLite file when
    /// missing).
    pub fn open_stores(&self) -> Result<Stores, RuntimeError> {
        let writer = Writer::new(self.open_store()?);
        Ok(Stores {
            writer,
            readers: Readers::new(self.opener(true)?),
        })
    }

    /// Readers alone, for commands that only read; `None` when the SQLite
    /// file does not exist yet (nothing stored).
    pub fn open_readers(&self) -> Result<Option<Readers>, RuntimeError> {
        if self.store == StoreKind::Sqlite && !self.db().exists() {
            return Ok(None);
        }
        Ok(Some(Readers::new(self.opener(true)?)))
    }

    /// Opens connections of one kind; the InfluxDB token is resolved now,
    /// so a missing token file is an error at start, not at midnight.
    fn opener(&self, read_only: bool) -> Result<Opener, RuntimeError> {
        match self.store {
            StoreKind::Sqlite => {
                let db = self.db().to_path_buf();
                let tz = self.tz;
                Ok(Arc::new(move || {
                    let store = if read_only {
                        SqliteStore::open_read_only(&db)?
                    } else {
                        let mut s = SqliteStore::open(&db)?;
                        s.keep_days_in(tz)?;
                        s
                    };
                    Ok(Box::new(store) as Box<dyn Store>)
                }))
            }
            StoreKind::Influx => self.influx_opener(),
        }
    }

    #[cfg(feature = "influx")]
    fn influx_opener(&self) -> Result<Opener, RuntimeError> {
        use crate::store::influx::InfluxStore;
        let cfg = self.config.influxdb.clone();
        if cfg.url.trim().is_empty() {
            return Err(ConfigError::Invalid(
                "--store influx needs the InfluxDB address: key `influxdb.url` in the config, or NBI_INFLUXDB__URL".into(),
            )
            .into());
        }
        let token = cfg.resolved_token()?;
        let tz = self.tz;
        let namer = self.config.intel.names.clone();
        Ok(Arc::new(move || {
            let store = InfluxStore::new(&cfg, token.clone())
                .with_zone(tz)
                .with_namer(namer.clone());
            Ok(Box::new(store) as Box<dyn Store>)
        }))
    }

    #[cfg(not(feature = "influx"))]
    fn influx_opener(&self) -> Result<Opener, RuntimeError> {
        Err(RuntimeError::Unavailable(
            "this build has no InfluxDB store (cargo feature `influx`)".into(),
        ))
    }

    /// Judges `day` now (default: the last complete local day) and stores
    /// the verdict: "Check now" and `nbi detect`. Blocking.
    pub fn judge_day(
        &self,
        stores: &Stores,
        day: Option<NaiveDate>,
    ) -> Result<VerdictRecord, RuntimeError> {
        let now = chrono::Utc::now();
        let day = day.unwrap_or_else(|| crate::intel::last_complete_day(now, self.tz));
        let host = self.host().to_string();
        let (tz, intel) = (self.tz, &self.config.intel);
        let mut loan = stores.lend()?;
        crate::intel::judge_and_store(&mut loan, &host, day, tz, intel, now)
            .map_err(|e| RuntimeError::Unavailable(format!("judging {day}: {e}")))?;
        loan.reader().verdict(&host, day)?.ok_or_else(|| {
            RuntimeError::Unavailable(format!("the verdict of {day} was not stored"))
        })
    }

    /// The owner says `day` was normal: later baselines may learn from it.
    /// `None` when the day has not been judged. Blocking.
    pub fn mark_normal(
        &self,
        stores: &Stores,
        day: NaiveDate,
    ) -> Result<Option<VerdictRecord>, RuntimeError> {
        if !stores.writer.lock().mark_normal(self.host(), day)? {
            return Ok(None);
        }
        self.verdict_of(stores, day)
    }

    /// The stored verdict of `day`, read through a reader. Blocking.
    pub fn verdict_of(
        &self,
        stores: &Stores,
        day: NaiveDate,
    ) -> Result<Option<VerdictRecord>, RuntimeError> {
        Ok(stores.readers.with(|r| r.verdict(self.host(), day))??)
    }

    /// The owner's "this is my new normal from `day`" (see
    /// [`crate::intel::new_normal`]): returns how many verdicts were
    /// marked normal. Blocking.
    pub fn new_normal(&self, stores: &Stores, day: NaiveDate) -> Result<usize, RuntimeError> {
        let host = self.host().to_string();
        // Reads and writes a few verdicts: all through the writer.
        let mut writer = stores.writer.lock();
        crate::intel::new_normal(&mut **writer, &host, day)
            .map_err(|e| RuntimeError::Unavailable(format!("a new normal from {day}: {e}")))
    }

    /// The nightly judge of this host.
    pub fn nightly(&self, max_catch_up: u32) -> Nightly {
        Nightly {
            host: self.config.host.clone(),
            tz: self.tz,
            config: self.config.intel.clone(),
            max_catch_up,
            // Beside the database, as its status file.
            same_day_file: self
                .state_dir()
                .ok()
                .map(|_| status::beside_db(self.db(), ".same-day.json")),
        }
    }

    /// Runs `run` until `shutdown` is cancelled or its source ends by itself
    /// (a replay), in the order the module documentation gives. Every tick
    /// the bus accepted is stored before this returns (with Kafka after a
    /// signal: stored, or still spooled for the next start).
    ///
    /// `stores` are the process's connections ([`Runtime::open_stores`]):
    /// the collector and the judge write through its one writer.
    pub async fn run(
        &self,
        run: Run,
        stores: &Stores,
        shutdown: CancellationToken,
    ) -> Result<RunReport, RuntimeError> {
        let kind = run.source.kind();
        tracing::info!(source = %kind, store = %self.store_name(), bus = ?run.bus, host = %self.config.host, interval_s = self.config.source.interval, "watching");
        let stop_judging = CancellationToken::new();
        let judging = run
            .judging
            .clone()
            .map(|j| tokio::spawn(self.judge_nightly(stores, j, stop_judging.clone())));
        let upkeep = run
            .upkeep
            .clone()
            .map(|u| tokio::spawn(self.upkeep(stores, u, stop_judging.clone())));
        let parts = Parts {
            rt: self,
            source: run.source,
            controls: run.controls,
            status_file: run.status_file.then(|| status::status_path(self.db())),
            writer: stores.writer.clone(),
        };
        let report = match run.bus {
            BusKind::Memory => {
                let (publisher, subscriber) = self.memory_bus();
                parts
                    .run(
                        publisher,
                        subscriber,
                        shutdown,
                        None::<std::future::Ready<()>>,
                        None,
                    )
                    .await
            }
            BusKind::Kafka => self.run_on_kafka(parts, shutdown).await,
        };
        stop_judging.cancel();
        if let Some(task) = judging {
            let _ = task.await;
        }
        if let Some(task) = upkeep {
            let _ = task.await;
        }
        let report = report?;
        tracing::info!(
            ticks_written = report.collector.ticks_written,
            ticks_already_stored = report.collector.ticks_skipped,
            ticks_merged = report.collector.ticks_merged,
            "stopped; everything received is stored"
        );
        Ok(report)
    }

    #[cfg(feature = "kafka")]
    async fn run_on_kafka(
        &self,
        mut parts: Parts<'_>,
        shutdown: CancellationToken,
    ) -> Result<RunReport, RuntimeError> {
        use crate::bus::kafka::KafkaSubscriber;
        let sender_stop = CancellationToken::new();
        let (publisher, sender) = self.kafka_publisher(sender_stop.clone())?;
        let status = sender.status();
        let subscriber = KafkaSubscriber::new(self.kafka_config(), self.tz);
        let (stored_tx, stored) = watch::channel(CollectorStats::default());
        // The host's own receiver of the collector's statistics, if any,
        // is fed from ours.
        let host_stored = parts.controls.stored.replace(stored_tx);
        let forward = host_stored.map(|out| {
            let mut rx = stored.clone();
            tokio::spawn(async move {
                loop {
                    out.send_replace(rx.borrow_and_update().clone());
                    if rx.changed().await.is_err() {
                        break;
                    }
                }
            })
        });
        let handed_over = hand_over(
            publisher.clone(),
            sender,
            sender_stop,
            stored,
            shutdown.clone(),
        );
        let report = parts
            .run(
                publisher,
                subscriber,
                shutdown,
                Some(handed_over),
                Some(status),
            )
            .await;
        if let Some(f) = forward {
            let _ = f.await;
        }
        report
    }

    #[cfg(not(feature = "kafka"))]
    async fn run_on_kafka(
        &self,
        _parts: Parts<'_>,
        _shutdown: CancellationToken,
    ) -> Result<RunReport, RuntimeError> {
        Err(kafka_unavailable())
    }

    /// Runs `source` into `sink` until `shutdown` or the source's end; no
    /// store. With Kafka, a source that ended by itself (a replay) hands
    /// everything to the broker first; after a signal, what is left stays
    /// spooled for next time.
    pub async fn watch<P: Publisher>(
        &self,
        source: SourceSpec,
        sink: WatchSink<P>,
        shutdown: CancellationToken,
    ) -> Result<(), RuntimeError> {
        let kind = source.kind();
        let (status, _rx) = status::channel(kind);
        let ctx = self.source_context(kind, status, shutdown.clone());
        match sink {
            WatchSink::Publisher(out) => match source::run(source, ctx, out).await {
                // A closed output (`nbi watch | head`) is a normal end.
                Err(SourceError::Bus(BusError::Closed)) => Ok(()),
                other => Ok(other?),
            },
            WatchSink::Kafka => self.watch_into_kafka(source, ctx, shutdown).await,
        }
    }

    #[cfg(feature = "kafka")]
    async fn watch_into_kafka(
        &self,
        source: SourceSpec,
        ctx: SourceContext,
        shutdown: CancellationToken,
    ) -> Result<(), RuntimeError> {
        let sender_stop = CancellationToken::new();
        let (publisher, sender) = self.kafka_publisher(sender_stop.clone())?;
        let k = &self.config.kafka;
        tracing::info!(source = %source.kind(), topic = %k.topic, brokers = %k.brokers, host = %self.config.host, "watching");
        let watched = source::run(source, ctx, publisher.clone()).await;
        publisher.drained(&shutdown).await;
        sender_stop.cancel();
        sender.join().await?;
        Ok(watched?)
    }

    #[cfg(not(feature = "kafka"))]
    async fn watch_into_kafka(
        &self,
        _source: SourceSpec,
        _ctx: SourceContext,
        _shutdown: CancellationToken,
    ) -> Result<(), RuntimeError> {
        Err(kafka_unavailable())
    }

    /// The in-process bus, its refused ticks set aside beside the database
    /// (`<db>.rejected.ndjson`).
    pub fn memory_bus(&self) -> (memory::MemoryPublisher, memory::MemorySubscriber) {
        let (publisher, subscriber) = memory::channel(self.config.collector.bus_capacity);
        let rejected = status::beside_db(self.db(), ".rejected.ndjson");
        (publisher, subscriber.with_dead_letters(rejected))
    }

    /// Stores what `subscriber` delivers until it closes (stdin's end) or
    /// `stop` is cancelled (a broker never closes).
    pub async fn collect<S: Subscriber>(
        &self,
        subscriber: S,
        stop: Option<CancellationToken>,
    ) -> Result<CollectorStats, RuntimeError> {
        let stores = self.open_stores()?;
        let collector = Collector::new(
            subscriber,
            stores.writer.clone(),
            self.config.collector.clone(),
            self.counting(),
        );
        // A collector that runs for days keeps its store's retention too.
        let stop_upkeep = CancellationToken::new();
        let upkeep = tokio::spawn(self.upkeep(&stores, Upkeep::default(), stop_upkeep.clone()));
        let result = collector.run(stop).await;
        stop_upkeep.cancel();
        let _ = upkeep.await;
        let (_, stats) = result?;
        Ok(stats)
    }

    /// Collects from `[kafka]` until `stop`: every tick read is stored and
    /// committed before this returns.
    #[cfg(feature = "kafka")]
    pub async fn collect_kafka(
        &self,
        stop: CancellationToken,
    ) -> Result<CollectorStats, RuntimeError> {
        use crate::bus::kafka::KafkaSubscriber;
        let k = &self.config.kafka;
        tracing::info!(topic = %k.topic, group = %k.group, store = %self.store_name(), "collecting");
        let subscriber = KafkaSubscriber::new(self.kafka_config(), self.tz);
        self.collect(subscriber, Some(stop)).await
    }

    #[cfg(not(feature = "kafka"))]
    pub async fn collect_kafka(
        &self,
        _stop: CancellationToken,
    ) -> Result<CollectorStats, RuntimeError> {
        Err(kafka_unavailable())
    }

    /// `[kafka]` as this host's clients use it.
    pub fn kafka_config(&self) -> crate::bus::KafkaConfig {
        self.config.kafka.for_host(&self.config.host)
    }

    /// The spooled Kafka publisher of `[kafka]`; its sender stops (after a
    /// short grace to send what it holds) once `stop` is cancelled.
    #[cfg(feature = "kafka")]
    pub fn kafka_publisher(
        &self,
        stop: CancellationToken,
    ) -> Result<
        (
            crate::bus::kafka::KafkaPublisher,
            crate::bus::kafka::KafkaSender,
        ),
        RuntimeError,
    > {
        let dir = self.config.kafka.spool_dir_in(&self.state_dir()?);
        let max = self.config.kafka.spool_max_mb.saturating_mul(1 << 20);
        crate::bus::kafka::publisher(self.kafka_config(), dir.clone(), max, stop).map_err(|e| {
            RuntimeError::Unavailable(format!("opening the Kafka spool {}: {e}", dir.display()))
        })
    }

    fn source_context(
        &self,
        kind: SourceKind,
        status: StatusTx,
        shutdown: CancellationToken,
    ) -> SourceContext {
        SourceContext {
            host: self.config.host.clone(),
            interval: self.config.interval(),
            counting: self.counting(),
            networks: self.networks_for(kind),
            status,
            shutdown,
        }
    }

    /// Retention and data-plan notifications until `stop` (see
    /// [`upkeep`]); a host whose runs come and go spawns it apart from
    /// them, as [`Runtime::judge_nightly`].
    pub fn upkeep(
        &self,
        stores: &Stores,
        upkeep: Upkeep,
        stop: CancellationToken,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let task = upkeep::UpkeepTask {
            host: self.config.host.clone(),
            tz: self.tz,
            keep_minutes_days: match self.store {
                StoreKind::Sqlite => self.config.store.keep_minutes_days,
                StoreKind::Influx => 0,
            },
            plans: self.config.plan.clone(),
            networks: Some(self.networks.clone()),
            // Beside the database, as its status file: per database (its
            // directory made if need be; without one, nothing remembered).
            alerts_file: self
                .state_dir()
                .ok()
                .map(|_| status::beside_db(self.db(), ".plan-alerts.json")),
            names_file: self.names_file(),
            upkeep,
        };
        task.run(stores.clone(), stop)
    }

    /// Which network each interface is on, for a source of `kind`: this
    /// machine's answers for a live source of its own OS; interface names
    /// alone for a replay (what an interface was on when the capture was
    /// made is not known now) and for nettop's stand-in off macOS.
    fn networks_for(&self, kind: SourceKind) -> Arc<crate::network::Watch> {
        let live = match kind {
            SourceKind::Linux => true,
            SourceKind::Nettop => cfg!(target_os = "macos"),
            SourceKind::Replay => false,
        };
        if live {
            self.networks.clone()
        } else {
            Arc::new(crate::network::Watch::offline())
        }
    }

    /// The network this machine's live source saw carry bytes last
    /// (within three intervals), named and flagged as the networks table
    /// says (the owner's word over the OS's).
    pub fn network_in_use(
        &self,
        store: &dyn crate::store::UsageQuery,
    ) -> Result<Option<crate::view::NetworkInUse>, StoreError> {
        let within = self.config.interval().saturating_mul(3);
        let Some(seen) = self.networks.in_use(within).into_iter().next() else {
            return Ok(None);
        };
        let record = store.networks()?.into_iter().find(|r| r.id == seen.id);
        let (name, metered) = match record {
            Some(mut r) => {
                r.os_name = r.os_name.or(Some(seen.name));
                r.os_metered = r.os_metered.or(seen.metered);
                (r.name(), r.metered())
            }
            None => (seen.name, seen.metered.unwrap_or(false)),
        };
        Ok(Some(crate::view::NetworkInUse {
            id: seen.id.to_string(),
            name,
            metered,
        }))
    }

    /// Where reverse DNS names of destinations are kept (beside the
    /// database); `None` when `destinations.reverse_dns` is off.
    pub fn names_file(&self) -> Option<std::path::PathBuf> {
        self.config
            .destinations
            .reverse_dns
            .then(|| status::beside_db(self.db(), ".names.json"))
    }

    /// The reverse DNS names found so far (none when lookups are off).
    pub fn names(&self) -> Option<crate::destination::names::NameCache> {
        self.names_file()
            .map(|p| crate::destination::names::NameCache::load(&p))
    }

    /// Each data plan's current billing period and its usage so far, in
    /// configuration order; empty without a plan (`[[plan]] limit`).
    pub fn plan_usages(
        &self,
        store: &dyn crate::store::UsageQuery,
    ) -> Result<Vec<crate::plan::PlanUsage>, StoreError> {
        let today = chrono::Utc::now().with_timezone(&self.tz).date_naive();
        crate::plan::usages(store, &self.config.plan, &self.config.host, today, self.tz)
    }

    /// Judges due days now and then every night until `stop`; the verdicts
    /// go to `judging.on_verdict`. Reads through a reader, writes verdicts
    /// through the writer. A host whose runs come and go (the tray app,
    /// whose replay may end) spawns this apart from them; [`Runtime::run`]
    /// starts and stops it with the run when [`Run::judging`] is set.
    pub fn judge_nightly(
        &self,
        stores: &Stores,
        judging: Judging,
        stop: CancellationToken,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let nightly = self.nightly(judging.max_catch_up);
        let on_verdict = judging.on_verdict;
        nightly.run_with(stores.clone(), move |v| on_verdict(v), stop)
    }
}

#[cfg(not(feature = "kafka"))]
fn kafka_unavailable() -> RuntimeError {
    RuntimeError::Unavailable("this build has no Kafka bus (cargo feature `kafka`)".into())
}

/// The parts of one run, wired to a bus.
struct Parts<'a> {
    rt: &'a Runtime,
    source: SourceSpec,
    controls: Controls,
    status_file: Option<PathBuf>,
    writer: Writer,
}

impl Parts<'_> {
    /// Runs the source into `publisher` and a collector from `subscriber`.
    ///
    /// A bus that closes when its publishers are gone (memory) ends the
    /// collector by itself: pass `bus_done: None`. A broker never closes:
    /// `bus_done` resolves once the publishing side has handed over what it
    /// could, and the collector is stopped then.
    async fn run<P, Sub, D>(
        mut self,
        publisher: P,
        subscriber: Sub,
        shutdown: CancellationToken,
        bus_done: Option<D>,
        bus_status: Option<watch::Receiver<BusStatus>>,
    ) -> Result<RunReport, RuntimeError>
    where
        P: Publisher,
        Sub: Subscriber,
        D: std::future::Future<Output = ()>,
    {
        let (status_tx, status_rx) = match self.controls.status.take() {
            Some(tx) => {
                let rx = tx.subscribe();
                (tx, rx)
            }
            None => status::channel(self.source.kind()),
        };
        let collector = Collector::new(
            subscriber,
            self.writer.clone(),
            self.rt.config.collector.clone(),
            self.rt.counting(),
        );
        let stats = collector.stats();
        let ctx = self
            .rt
            .source_context(self.source.kind(), status_tx, shutdown.clone());
        let writer_stop = CancellationToken::new();
        let writer = self.status_file.clone().map(|path| {
            tokio::spawn(status::write_status(
                path,
                status_rx.clone(),
                stats.clone(),
                bus_status.clone(),
                writer_stop.clone(),
            ))
        });
        let forwarder = self.controls.stored.clone().map(|out| {
            tokio::spawn(status::forward_stats(
                stats.clone(),
                out,
                writer_stop.clone(),
            ))
        });
        let collector_stop = bus_done.as_ref().map(|_| CancellationToken::new());
        let collecting = tokio::spawn(collector.run(collector_stop.clone()));
        // The source last: everything it publishes into is running.
        let source_result = match &self.controls.pause {
            Some(pause) => source::run_pausable(self.source, ctx, publisher, pause).await,
            None => source::run(self.source, ctx, publisher).await,
        };
        if let Some(done) = bus_done {
            done.await;
        }
        if let Some(stop) = collector_stop {
            stop.cancel();
        }
        let collected = collecting.await.map_err(|_| CollectorError::Worker)?;
        shutdown.cancel();
        writer_stop.cancel();
        if let Some(w) = writer {
            let _ = w.await;
        }
        if let Some(f) = forwarder {
            let _ = f.await;
        }
        let (_, collector_stats) = collected?;
        if let Some(out) = &self.controls.stored {
            out.send_replace(collector_stats.clone());
        }
        let report = RunReport {
            collector: collector_stats,
            source: status_rx.borrow().clone(),
        };
        if let Some(path) = &self.status_file {
            let bus = bus_status.map(|b| b.borrow().clone());
            status::write_once(path, &report.source, &report.collector, bus, None);
        }
        source_result?;
        Ok(report)
    }
}

/// What `run --bus kafka` waits for once its source has returned: after a
/// signal, only the sender's short grace (what is left stays spooled); when
/// the source ended by itself (a replay), until the broker has every tick
/// and the collector has stored as many as were sent.
#[cfg(feature = "kafka")]
async fn hand_over(
    publisher: crate::bus::kafka::KafkaPublisher,
    sender: crate::bus::kafka::KafkaSender,
    sender_stop: CancellationToken,
    mut stored: watch::Receiver<CollectorStats>,
    shutdown: CancellationToken,
) {
    publisher.drained(&shutdown).await;
    let sent = sender.status().borrow().sent;
    sender_stop.cancel();
    if let Err(e) = sender.join().await {
        tracing::warn!(error = %e, "the Kafka sender");
    }
    while !shutdown.is_cancelled() {
        if stored.borrow_and_update().ticks_handled() >= sent {
            break;
        }
        tokio::select! {
            _ = shutdown.cancelled() => {}
            r = stored.changed() => if r.is_err() { break },
        }
    }
}

/// How long quitting waits for the last ticks to be stored, for hosts that
/// must not hang on exit (the tray app).
pub const FLUSH_WAIT: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::HostFilter;
    use crate::tick::Tick;
    use chrono::{DateTime, Utc};

    /// A runtime on a database in `dir`, in UTC, host "h".
    fn runtime(dir: &Path, collector: crate::collector::CollectorConfig) -> Runtime {
        let mut config = Config {
            host: "h".into(),
            timezone: "UTC".into(),
            collector,
            ..Config::default()
        };
        config.store.db = dir.join("db.sqlite");
        config.source.include_loopback = true;
        Runtime::new(config, StoreKind::Sqlite).unwrap()
    }

    /// A replay of `n` one-minute ticks, `speed` times faster than real.
    fn replay(rt: &Runtime, dir: &Path, n: i64, speed: f64) -> SourceSpec {
        let start: DateTime<Utc> = "2026-07-14T08:00:00Z".parse().unwrap();
        let lines: Vec<String> = (0..n)
            .map(|i| {
                Tick::from_totals(
                    "h",
                    start + chrono::Duration::minutes(i),
                    60,
                    [("Slack".to_string(), (1000u64, 10u64))],
                )
                .to_json()
            })
            .collect();
        let path = dir.join("ticks.ndjson");
        std::fs::write(&path, lines.join("\n")).unwrap();
        rt.replay_source(path, speed, None)
    }

    async fn until<T: Clone>(
        rx: &mut watch::Receiver<T>,
        what: &str,
        f: impl FnMut(&T) -> bool,
    ) -> T {
        tokio::time::timeout(Duration::from_secs(10), rx.wait_for(f))
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .map(|v| v.clone())
            .unwrap()
    }

    fn stored_ticks(stores: &Stores) -> u64 {
        stores.readers.with(|r| r.summary().unwrap().ticks).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_paused_source_takes_no_ticks_until_resumed() {
        let dir = tempfile::tempdir().unwrap();
        let rt = runtime(
            dir.path(),
            crate::collector::CollectorConfig {
                linger_ms: 20,
                bus_capacity: 16,
                ..Default::default()
            },
        );
        let pause = PauseSwitch::default();
        let (status, mut status_rx) = status::channel(SourceKind::Replay);
        let (stored, mut stored_rx) = watch::channel(CollectorStats::default());
        let run = Run {
            // One tick per 20 ms.
            source: replay(&rt, dir.path(), 400, 3000.0),
            bus: BusKind::Memory,
            judging: None,
            controls: Controls {
                pause: Some(pause.clone()),
                status: Some(status),
                stored: Some(stored),
            },
            status_file: false,
            upkeep: None,
        };
        let stores = rt.open_stores().unwrap();
        let shutdown = CancellationToken::new();
        let running = {
            let (rt, stores, shutdown) = (rt.clone(), stores.clone(), shutdown.clone());
            tokio::spawn(async move { rt.run(run, &stores, shutdown).await })
        };

        until(&mut status_rx, "five ticks", |s| s.ticks >= 5).await;
        pause.pause();
        let paused = until(&mut status_rx, "paused", |s| {
            s.state == source::SourceState::Paused
        })
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let still = status_rx.borrow().clone();
        assert_eq!(still.state, source::SourceState::Paused);
        assert_eq!(still.ticks, paused.ticks, "no tick while paused");
        let written = until(&mut stored_rx, "the ticks before the pause stored", |c| {
            c.ticks_written >= paused.ticks
        })
        .await;
        assert_eq!(written.ticks_written, paused.ticks);

        pause.resume();
        until(&mut status_rx, "ticks again", |s| {
            s.state == source::SourceState::Watching && s.ticks > paused.ticks
        })
        .await;
        shutdown.cancel();
        let report = tokio::time::timeout(Duration::from_secs(10), running)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(report.source.state, source::SourceState::Stopped);
        assert_eq!(stored_ticks(&stores), report.collector.ticks_written);
    }

    /// A shutdown while the collector's batch is still gathering: the
    /// source stops first, the collector then stores everything the bus
    /// delivered (its half-gathered batch too), and the final status says
    /// so — the order the module documentation gives.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_shutdown_stores_everything_published_in_order() {
        let dir = tempfile::tempdir().unwrap();
        // A batch would gather for a minute: only the shutdown writes it.
        let rt = runtime(
            dir.path(),
            crate::collector::CollectorConfig {
                batch_max: 100_000,
                linger_ms: 60_000,
                ..Default::default()
            },
        );
        let (status, mut status_rx) = status::channel(SourceKind::Replay);
        let run = Run {
            source: replay(&rt, dir.path(), 100_000, 3000.0),
            bus: BusKind::Memory,
            judging: None,
            controls: Controls {
                status: Some(status),
                ..Controls::default()
            },
            status_file: true,
            upkeep: None,
        };
        let stores = rt.open_stores().unwrap();
        let shutdown = CancellationToken::new();
        let running = {
            let (rt, stores, shutdown) = (rt.clone(), stores.clone(), shutdown.clone());
            tokio::spawn(async move { rt.run(run, &stores, shutdown).await })
        };
        until(&mut status_rx, "ticks published", |s| s.ticks >= 20).await;
        assert_eq!(stored_ticks(&stores), 0, "still gathering");
        shutdown.cancel();
        let report = tokio::time::timeout(Duration::from_secs(10), running)
            .await
            .expect("stops without waiting for the linger")
            .unwrap()
            .unwrap();
        let published = report.source.ticks;
        assert!(published >= 20);
        assert_eq!(report.collector.ticks_written, published);
        assert_eq!(stored_ticks(&stores), published, "nothing lost");
        let file = status::RunStatus::read(&status::status_path(rt.db())).unwrap();
        assert_eq!(file.source.state, source::SourceState::Stopped);
        assert_eq!(file.collector.ticks_written, published);
    }

    /// Readers never go through the writer: they read while it is held.
    #[test]
    fn readers_read_while_the_writer_is_busy() {
        let dir = tempfile::tempdir().unwrap();
        let rt = runtime(dir.path(), Default::default());
        let stores = rt.open_stores().unwrap();
        let at: DateTime<Utc> = "2026-07-14T08:00:00Z".parse().unwrap();
        let mut writer = stores.writer.clone();
        crate::store::TickWriter::write(
            &mut writer,
            &[Tick::from_totals(
                "h",
                at,
                60,
                [("Slack".to_string(), (5u64, 1u64))],
            )],
        )
        .unwrap();
        let held = stores.writer.lock();
        let readers = stores.readers.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let totals = readers.with(|r| {
                r.day_totals(&HostFilter::All, at.date_naive(), chrono_tz::UTC)
                    .unwrap()
            });
            let _ = tx.send(totals);
        });
        let totals = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("read while the writer was held")
            .unwrap();
        drop(held);
        assert_eq!(totals[0].bytes_in, 5);
    }

    #[test]
    fn readers_of_a_store_not_yet_made_say_so() {
        let dir = tempfile::tempdir().unwrap();
        let rt = runtime(dir.path(), Default::default());
        assert!(rt.open_readers().unwrap().is_none(), "nothing stored yet");
        rt.open_stores().unwrap();
        assert!(rt.open_readers().unwrap().is_some());
    }
}
