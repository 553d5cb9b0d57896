//! Wiring of source → bus → collector → store, shared by the `nbi` command
//! and the tray app, with the status both of them show.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::bus::{memory, BusStatus, Publisher, Subscriber};
use crate::collector::{Collector, CollectorError, CollectorOptions, CollectorStats};
use crate::config::Config;
use crate::counting::CountingPolicy;
use crate::source::linux::{LinuxConfig, LinuxSource};
use crate::source::nettop::{NettopConfig, NettopSource};
use crate::source::pause::PauseSwitch;
use crate::source::replay::{ReplayConfig, ReplaySource};
use crate::source::{SourceContext, SourceError, SourceKind, SourceState, SourceStatus, StatusTx};
use crate::store::TickWriter;

/// A source, ready to run.
#[derive(Debug, Clone)]
pub enum SourceSpec {
    Nettop(NettopConfig),
    Linux(LinuxConfig),
    Replay(ReplayConfig),
}

impl SourceSpec {
    pub fn kind(&self) -> SourceKind {
        match self {
            SourceSpec::Nettop(_) => SourceKind::Nettop,
            SourceSpec::Linux(_) => SourceKind::Linux,
            SourceSpec::Replay(_) => SourceKind::Replay,
        }
    }

    /// The live source the configuration names (a replay needs its file,
    /// so it is built by the caller).
    pub fn live(config: &Config, kind: SourceKind, state_dir: &Path) -> Option<SourceSpec> {
        match kind {
            SourceKind::Nettop => Some(SourceSpec::Nettop(NettopConfig {
                program: config.source.nettop.clone(),
                pid_file: Some(state_dir.join("nettop.pid")),
                ..NettopConfig::default()
            })),
            SourceKind::Linux => Some(SourceSpec::Linux(LinuxConfig {
                poll: Duration::from_millis(config.source.linux_poll_ms),
                destroy_events: config.source.linux_destroy_events,
                unattributed_app: Some(config.source.linux_unattributed_app.trim())
                    .filter(|a| !a.is_empty())
                    .map(str::to_string),
            })),
            SourceKind::Replay => None,
        }
    }
}

/// Runs a source until it ends or `ctx.shutdown` is cancelled.
pub async fn run_source<P: Publisher>(
    spec: SourceSpec,
    ctx: SourceContext,
    out: P,
) -> Result<(), SourceError> {
    let result = match spec {
        SourceSpec::Nettop(cfg) => NettopSource::new(cfg).run(ctx.clone(), out).await,
        SourceSpec::Linux(cfg) => LinuxSource::new(cfg).run(ctx.clone(), out).await,
        SourceSpec::Replay(cfg) => {
            ReplaySource::new(cfg)
                .run(ctx.clone(), out)
                .await
                .map(|report| {
                    if report.bad_lines > 0 {
                        tracing::warn!(
                            bad_lines = report.bad_lines,
                            "replay skipped lines that were not ticks"
                        );
                    }
                    tracing::info!(ticks = report.ticks, "replay finished");
                })
        }
    };
    if let Err(e) = &result {
        ctx.set_state(SourceState::Failing {
            reason: e.to_string(),
        });
    }
    result
}

/// Runs a source like [`run_source`], stopping it while `pause` is on (state
/// `Paused`) and starting it afresh on resume. Returns when `ctx.shutdown` is
/// cancelled, when the source fails, or when it ends by itself (a replay).
pub async fn run_source_pausable<P: Publisher>(
    spec: SourceSpec,
    ctx: SourceContext,
    out: P,
    pause: &PauseSwitch,
) -> Result<(), SourceError> {
    loop {
        if pause.is_paused() {
            ctx.set_state(SourceState::Paused);
            tracing::info!("watching paused");
            tokio::select! {
                _ = ctx.shutdown.cancelled() => {
                    ctx.set_state(SourceState::Stopped);
                    return Ok(());
                }
                _ = pause.wait_for(false) => {}
            }
            tracing::info!("watching resumed");
            ctx.set_state(SourceState::Starting);
        }
        let stop = ctx.shutdown.child_token();
        let stopper = {
            let (pause, stop) = (pause.clone(), stop.clone());
            tokio::spawn(async move {
                pause.wait_for(true).await;
                stop.cancel();
            })
        };
        let run_ctx = SourceContext {
            shutdown: stop,
            ..ctx.clone()
        };
        let result = run_source(spec.clone(), run_ctx, out.clone()).await;
        stopper.abort();
        result?;
        if ctx.shutdown.is_cancelled() || !pause.is_paused() {
            return Ok(());
        }
    }
}

/// A fresh status for a source about to start.
pub fn status_channel(
    kind: SourceKind,
) -> (watch::Sender<SourceStatus>, watch::Receiver<SourceStatus>) {
    watch::channel(SourceStatus {
        source: kind,
        state: SourceState::Starting,
        last_tick: None,
        ticks: 0,
    })
}

/// What `nbi status` reads: written by a running pipeline next to its database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunStatus {
    pub pid: u32,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub source: SourceStatus,
    pub collector: CollectorSnapshot,
    /// The broker bus (`--bus kafka`): spool and connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bus: Option<BusStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectorSnapshot {
    pub ticks_written: u64,
    pub ticks_skipped: u64,
    #[serde(default)]
    pub ticks_merged: u64,
    pub retries: u64,
    pub last_error: Option<String>,
}

impl From<&CollectorStats> for CollectorSnapshot {
    fn from(s: &CollectorStats) -> Self {
        CollectorSnapshot {
            ticks_written: s.ticks_written,
            ticks_skipped: s.ticks_skipped,
            ticks_merged: s.ticks_merged,
            retries: s.retries,
            last_error: s.last_error.clone(),
        }
    }
}

/// The status file of the pipeline writing to `db`.
pub fn status_path(db: &Path) -> PathBuf {
    let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".status.json");
    db.with_file_name(name)
}

impl RunStatus {
    pub fn read(path: &Path) -> Option<RunStatus> {
        let text = std::fs::read_to_string(path).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Written to a temporary file and renamed, so readers never see half of it.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, path)
    }

    /// Whether the process that wrote it is still running.
    pub fn is_live(&self) -> bool {
        process_alive(self.pid)
    }
}

fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Collector(#[from] CollectorError),
    #[error(transparent)]
    Source(#[from] SourceError),
}

/// Everything a run on the embedded default needs.
pub struct EmbeddedRun {
    pub host: String,
    pub interval: Duration,
    pub counting: Arc<CountingPolicy>,
    pub source: SourceSpec,
    pub collector: CollectorOptions,
    pub bus_capacity: usize,
    pub status_file: Option<PathBuf>,
    /// Lets the owner pause watching (the tray app); `None`: never paused.
    pub pause: Option<PauseSwitch>,
    /// Where the source's status goes, for a caller that shows it live
    /// (keep a receiver from `subscribe`); `None`: a channel of its own.
    pub status: Option<StatusTx>,
    /// Receives the collector's statistics as they change, so a caller can
    /// tell when new ticks are in the store.
    pub stored: Option<watch::Sender<CollectorStats>>,
}

/// What a finished run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub collector: CollectorStats,
    pub source: SourceStatus,
}

impl EmbeddedRun {
    /// Runs source → in-process bus → collector → `store` until `shutdown`
    /// is cancelled or the source ends (a replay), then flushes. Every tick
    /// the bus accepted is stored before this returns.
    pub async fn run<St: TickWriter>(
        self,
        store: St,
        shutdown: CancellationToken,
    ) -> Result<RunReport, PipelineError> {
        let (publisher, subscriber) = memory::channel(self.bus_capacity);
        self.run_on(
            publisher,
            subscriber,
            store,
            shutdown,
            None::<std::future::Ready<()>>,
            None,
        )
        .await
    }

    /// Runs the source into `publisher` and a collector from `subscriber`
    /// into `store`.
    ///
    /// A bus that closes when its publishers are gone (memory) ends the
    /// collector by itself: pass `bus_done: None`. A broker never closes:
    /// `bus_done` resolves once the publishing side has handed over what it
    /// could (the spool's sender stopped), and the collector is stopped then.
    pub async fn run_on<P, Sub, St, D>(
        mut self,
        publisher: P,
        subscriber: Sub,
        store: St,
        shutdown: CancellationToken,
        bus_done: Option<D>,
        bus_status: Option<watch::Receiver<BusStatus>>,
    ) -> Result<RunReport, PipelineError>
    where
        P: Publisher,
        Sub: Subscriber,
        St: TickWriter,
        D: std::future::Future<Output = ()>,
    {
        let (status_tx, status_rx) = match self.status.take() {
            Some(tx) => {
                let rx = tx.subscribe();
                (tx, rx)
            }
            None => status_channel(self.source.kind()),
        };
        let collector = Collector::new(subscriber, store, self.collector.clone());
        let stats = collector.stats();
        let ctx = SourceContext {
            host: self.host.clone(),
            interval: self.interval,
            counting: self.counting.clone(),
            status: status_tx,
            shutdown: shutdown.clone(),
        };
        let writer_stop = CancellationToken::new();
        let writer = self.status_file.clone().map(|path| {
            tokio::spawn(write_status(
                path,
                status_rx.clone(),
                stats.clone(),
                bus_status.clone(),
                writer_stop.clone(),
            ))
        });
        let forwarder = self
            .stored
            .clone()
            .map(|out| tokio::spawn(forward_stats(stats.clone(), out, writer_stop.clone())));
        let collector_stop = bus_done.as_ref().map(|_| CancellationToken::new());
        let collecting = tokio::spawn(collector.run(collector_stop.clone()));
        let source_result = match &self.pause {
            Some(pause) => run_source_pausable(self.source, ctx, publisher, pause).await,
            None => run_source(self.source, ctx, publisher).await,
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
        if let Some(out) = &self.stored {
            out.send_replace(collector_stats.clone());
        }
        let report = RunReport {
            collector: collector_stats,
            source: status_rx.borrow().clone(),
        };
        if let Some(path) = &self.status_file {
            let bus = bus_status.map(|b| b.borrow().clone());
            write_once(path, &report.source, &report.collector, bus, None);
        }
        source_result?;
        Ok(report)
    }
}

async fn forward_stats(
    mut stats: watch::Receiver<CollectorStats>,
    out: watch::Sender<CollectorStats>,
    stop: CancellationToken,
) {
    loop {
        out.send_replace(stats.borrow_and_update().clone());
        tokio::select! {
            _ = stop.cancelled() => break,
            r = stats.changed() => if r.is_err() { break },
        }
    }
}

async fn write_status(
    path: PathBuf,
    mut source: watch::Receiver<SourceStatus>,
    mut stats: watch::Receiver<CollectorStats>,
    mut bus: Option<watch::Receiver<BusStatus>>,
    shutdown: CancellationToken,
) {
    let started = Utc::now();
    loop {
        let s = source.borrow_and_update().clone();
        let c = stats.borrow_and_update().clone();
        let b = bus.as_mut().map(|b| b.borrow_and_update().clone());
        write_once(&path, &s, &c, b, Some(started));
        let bus_changed = async {
            match bus.as_mut() {
                Some(b) => b.changed().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => break,
            r = source.changed() => if r.is_err() { break },
            r = stats.changed() => if r.is_err() { break },
            r = bus_changed => if r.is_err() { break },
        }
        // At most a few writes a second, however busy the pipeline is.
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn write_once(
    path: &Path,
    s: &SourceStatus,
    c: &CollectorStats,
    bus: Option<BusStatus>,
    started: Option<DateTime<Utc>>,
) {
    let started_at = started
        .or_else(|| RunStatus::read(path).map(|r| r.started_at))
        .unwrap_or_else(Utc::now);
    let status = RunStatus {
        pid: std::process::id(),
        started_at,
        updated_at: Utc::now(),
        source: s.clone(),
        collector: c.into(),
        bus,
    };
    if let Err(e) = status.write(path) {
        tracing::warn!(path = %path.display(), error = %e, "cannot write the status file");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;
    use crate::tick::Tick;

    /// A replay of `n` one-minute ticks, played at one tick per 20 ms.
    fn replay_file(dir: &Path, n: i64) -> SourceSpec {
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
        SourceSpec::Replay(ReplayConfig {
            path,
            csv: None,
            speed: 3000.0,
        })
    }

    async fn until<T>(rx: &mut watch::Receiver<T>, what: &str, f: impl FnMut(&T) -> bool) -> T
    where
        T: Clone,
    {
        tokio::time::timeout(Duration::from_secs(10), rx.wait_for(f))
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .map(|v| v.clone())
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_paused_source_takes_no_ticks_until_resumed() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
        let spec = replay_file(dir.path(), 400);
        let pause = PauseSwitch::default();
        let (status, mut status_rx) = status_channel(spec.kind());
        let (stored, mut stored_rx) = watch::channel(CollectorStats::default());
        let run = EmbeddedRun {
            host: "h".into(),
            interval: Duration::from_secs(60),
            counting: Arc::new(CountingPolicy::count_everything()),
            source: spec,
            collector: CollectorOptions {
                linger: Duration::from_millis(20),
                ..CollectorOptions::default()
            },
            bus_capacity: 16,
            status_file: None,
            pause: Some(pause.clone()),
            status: Some(status),
            stored: Some(stored),
        };
        let shutdown = CancellationToken::new();
        let running = tokio::spawn(run.run(store, shutdown.clone()));

        until(&mut status_rx, "five ticks", |s| s.ticks >= 5).await;
        pause.pause();
        let paused = until(&mut status_rx, "paused", |s| s.state == SourceState::Paused).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let still = status_rx.borrow().clone();
        assert_eq!(still.state, SourceState::Paused);
        assert_eq!(still.ticks, paused.ticks, "no tick while paused");
        let written = until(&mut stored_rx, "the ticks before the pause stored", |c| {
            c.ticks_written >= paused.ticks
        })
        .await;
        assert_eq!(written.ticks_written, paused.ticks);

        pause.resume();
        until(&mut status_rx, "ticks again", |s| {
            s.state == SourceState::Watching && s.ticks > paused.ticks
        })
        .await;
        until(&mut stored_rx, "new ticks stored", |c| {
            c.ticks_written > paused.ticks
        })
        .await;
        shutdown.cancel();
        let report = tokio::time::timeout(Duration::from_secs(10), running)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(report.source.state, SourceState::Stopped);
        assert_eq!(
            stored_rx.borrow().ticks_written,
            report.collector.ticks_written
        );
    }

    #[tokio::test]
    async fn a_source_that_ends_by_itself_ends_the_pausable_run() {
        let dir = tempfile::tempdir().unwrap();
        let spec = SourceSpec::Replay(ReplayConfig {
            speed: 0.0,
            ..match replay_file(dir.path(), 3) {
                SourceSpec::Replay(c) => c,
                _ => unreachable!(),
            }
        });
        let (tx, rx) = status_channel(SourceKind::Replay);
        let (publisher, mut subscriber) = memory::channel(16);
        let ctx = SourceContext {
            host: "h".into(),
            interval: Duration::from_secs(60),
            counting: Arc::new(CountingPolicy::count_everything()),
            status: tx,
            shutdown: CancellationToken::new(),
        };
        run_source_pausable(spec, ctx, publisher, &PauseSwitch::default())
            .await
            .unwrap();
        assert_eq!(rx.borrow().state, SourceState::Finished);
        let got = subscriber
            .next_batch(10, Duration::from_millis(10))
            .await
            .unwrap();
        assert_eq!(got.len(), 3);
    }
}
