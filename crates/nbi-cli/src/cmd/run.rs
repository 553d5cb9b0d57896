//! `run`, `watch`, `collect` and `replay`: the pipeline in the foreground.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use nbi_core::bus::kafka::{self, KafkaPublisher, KafkaSender, KafkaSubscriber};
use nbi_core::bus::{memory, BusError, Publisher};
use nbi_core::collector::{Collector, CollectorOptions};
use nbi_core::counting::CountingPolicy;
use nbi_core::pipeline::{self, EmbeddedRun, SourceSpec};
use nbi_core::schedule::Nightly;
use nbi_core::source::replay::{CsvOptions, ReplayConfig};
use nbi_core::source::{SourceContext, SourceKind};
use nbi_core::store::sqlite::SqliteStore;
use nbi_core::Tick;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::args::{
    BusKind, CollectArgs, Global, PaceArgs, ReplayArgs, RunArgs, SourceArgs, WatchArgs,
};
use crate::context::Context;

pub async fn run(global: &Global, args: RunArgs) -> anyhow::Result<()> {
    let mut ctx = Context::load(global)?;
    let kind = ctx.apply_source(&args.source)?;
    let spec = source_spec(&ctx, kind, &args.source)?;
    let nightly = (!args.no_detect).then(|| Detection {
        nightly: Nightly {
            host: ctx.config.host.clone(),
            tz: ctx.tz,
            config: ctx.config.intel.clone(),
            max_catch_up: 14,
        },
        notify: args.notify,
    });
    run_pipeline(&ctx, spec, nightly, args.bus.bus).await
}

/// Judging days beside the pipeline: nightly, and on start for missed days.
struct Detection {
    nightly: Nightly,
    notify: bool,
}

impl Detection {
    fn spawn(
        self,
        ctx: &Context,
        stop: CancellationToken,
    ) -> anyhow::Result<tokio::task::JoinHandle<()>> {
        let notify = self.notify;
        let open = ctx.store_opener()?;
        Ok(tokio::spawn(self.nightly.run(
            open,
            move |verdict| {
                tracing::info!(day = %verdict.day, status = %verdict.status, "{}", verdict.summary);
                if !notify {
                    return;
                }
                if let Some(notice) = verdict.notice() {
                    if let Err(e) = nbi_core::notify::send(&notice) {
                        tracing::warn!(error = %e, "the unusual day could not be shown");
                    }
                }
            },
            stop,
        )))
    }
}

pub async fn replay(global: &Global, args: ReplayArgs) -> anyhow::Result<()> {
    let ctx = Context::load(global)?;
    ctx.require_sqlite("replay")?;
    let spec = replay_spec(&ctx, args.file, &args.pace);
    run_pipeline(&ctx, spec, None, BusKind::Memory).await
}

async fn run_pipeline(
    ctx: &Context,
    spec: SourceSpec,
    detection: Option<Detection>,
    bus: BusKind,
) -> anyhow::Result<()> {
    let db = ctx.db();
    let store = ctx.open_store()?;
    let shutdown = shutdown_on_signals();
    let stop_detection = CancellationToken::new();
    let detecting = detection
        .map(|d| d.spawn(ctx, stop_detection.clone()))
        .transpose()?;
    let kind = spec.kind();
    tracing::info!(source = %kind, store = %ctx.store_name(), bus = ?bus, host = %ctx.config.host, interval_s = ctx.config.source.interval, "watching");
    let run = EmbeddedRun {
        host: ctx.config.host.clone(),
        interval: ctx.config.interval(),
        counting: counting(ctx),
        source: spec,
        collector: collector_options(ctx),
        bus_capacity: ctx.config.collector.bus_capacity,
        status_file: Some(pipeline::status_path(&db)),
        pause: None,
        status: None,
        stored: None,
    };
    let report = match bus {
        BusKind::Memory => run.run(store, shutdown).await,
        BusKind::Kafka => {
            let sender_stop = CancellationToken::new();
            let (publisher, sender) = kafka_publisher(ctx, sender_stop.clone())?;
            let status = sender.status();
            let subscriber = KafkaSubscriber::new(ctx.kafka(), ctx.tz);
            let (stored_tx, stored) = tokio::sync::watch::channel(Default::default());
            let mut run = run;
            run.stored = Some(stored_tx);
            let handed_over = hand_over(
                publisher.clone(),
                sender,
                sender_stop,
                stored,
                shutdown.clone(),
            );
            run.run_on(
                publisher,
                subscriber,
                store,
                shutdown,
                Some(handed_over),
                Some(status),
            )
            .await
        }
    };
    stop_detection.cancel();
    if let Some(task) = detecting {
        let _ = task.await;
    }
    let report = report?;
    tracing::info!(
        ticks_written = report.collector.ticks_written,
        ticks_already_stored = report.collector.ticks_skipped,
        ticks_merged = report.collector.ticks_merged,
        "stopped; everything received is stored"
    );
    Ok(())
}

pub async fn watch(global: &Global, args: WatchArgs) -> anyhow::Result<()> {
    let mut ctx = Context::load(global)?;
    let kind = ctx.apply_source(&args.source)?;
    let spec = source_spec(&ctx, kind, &args.source)?;
    let shutdown = shutdown_on_signals();
    let (status, _rx) = pipeline::status_channel(kind);
    let source_ctx = SourceContext {
        host: ctx.config.host.clone(),
        interval: ctx.config.interval(),
        counting: counting(&ctx),
        status,
        shutdown: shutdown.clone(),
    };
    if args.bus.bus == BusKind::Kafka {
        let sender_stop = CancellationToken::new();
        let (publisher, sender) = kafka_publisher(&ctx, sender_stop.clone())?;
        tracing::info!(source = %kind, topic = %ctx.config.kafka.topic, brokers = %ctx.config.kafka.brokers, host = %ctx.config.host, "watching");
        let watched = pipeline::run_source(spec, source_ctx, publisher.clone()).await;
        // A source that ended by itself (a replay): hand everything over
        // first. After a signal, what is left stays spooled for next time.
        publisher.drained(&shutdown).await;
        sender_stop.cancel();
        sender.join().await.context("sending to Kafka")?;
        return watched.context("watching");
    }
    let out = StdoutPublisher::default();
    match pipeline::run_source(spec, source_ctx, out).await {
        // A closed stdout (`nbi watch | head`) is a normal end.
        Err(nbi_core::source::SourceError::Bus(BusError::Closed)) => Ok(()),
        other => other.context("watching"),
    }
}

/// What `run --bus kafka` waits for once its source has returned: after a
/// signal, only the sender's short grace (what is left stays spooled); when
/// the source ended by itself (a replay), until the broker has every tick
/// and the collector has stored as many as were sent.
async fn hand_over(
    publisher: KafkaPublisher,
    sender: KafkaSender,
    sender_stop: CancellationToken,
    mut stored: tokio::sync::watch::Receiver<nbi_core::collector::CollectorStats>,
    shutdown: CancellationToken,
) {
    publisher.drained(&shutdown).await;
    let sent = sender.status().borrow().sent;
    sender_stop.cancel();
    if let Err(e) = sender.join().await {
        tracing::warn!(error = %e, "the Kafka sender");
    }
    while !shutdown.is_cancelled() {
        let s = stored.borrow_and_update().clone();
        if s.ticks_handled() >= sent {
            break;
        }
        tokio::select! {
            _ = shutdown.cancelled() => {}
            r = stored.changed() => if r.is_err() { break },
        }
    }
}

/// The spooled Kafka publisher of `[kafka]`; its sender stops (after a
/// short grace to send what it holds) once `shutdown` is cancelled.
fn kafka_publisher(
    ctx: &Context,
    shutdown: CancellationToken,
) -> anyhow::Result<(KafkaPublisher, KafkaSender)> {
    let dir = ctx.spool_dir()?;
    let max = ctx.config.kafka.spool_max_mb.saturating_mul(1 << 20);
    kafka::publisher(ctx.kafka(), dir.clone(), max, shutdown)
        .with_context(|| format!("opening the Kafka spool {}", dir.display()))
}

pub async fn collect(global: &Global, args: CollectArgs) -> anyhow::Result<()> {
    let ctx = Context::load(global)?;
    let store = ctx.open_store()?;
    let shutdown = shutdown_on_signals();
    if args.bus.bus == BusKind::Kafka {
        tracing::info!(topic = %ctx.config.kafka.topic, group = %ctx.config.kafka.group, store = %ctx.store_name(), "collecting");
        let subscriber = KafkaSubscriber::new(ctx.kafka(), ctx.tz);
        let collector = Collector::new(subscriber, store, collector_options(&ctx));
        let (_, stats) = collector.run(Some(shutdown)).await?;
        tracing::info!(
            ticks_written = stats.ticks_written,
            ticks_already_stored = stats.ticks_skipped,
            ticks_merged = stats.ticks_merged,
            "stopped; every tick read is stored and committed"
        );
        return Ok(());
    }
    let (publisher, subscriber) = memory::channel(ctx.config.collector.bus_capacity);
    let collector = Collector::new(subscriber, store, collector_options(&ctx));
    let collecting = tokio::spawn(collector.run(None));
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let (mut line_no, mut bad) = (0u64, 0u64);
    // Naive (original-format) times are the watcher's local time: the zone
    // of the configuration, in order across a fall-back's repeated hour.
    let mut decoder = nbi_core::tick::TickDecoder::new(ctx.tz);
    loop {
        let line = tokio::select! {
            _ = shutdown.cancelled() => break,
            l = lines.next_line() => l.context("reading ticks from stdin")?,
        };
        let Some(line) = line else { break };
        line_no += 1;
        if line.trim().is_empty() {
            continue;
        }
        match decoder.decode(&line, None) {
            Ok(tick) => publisher.publish(tick).await?,
            Err(e) => {
                bad += 1;
                tracing::warn!("stdin line {line_no}: skipping, not a tick: {e}");
            }
        }
    }
    drop(publisher);
    let (_, stats) = collecting.await.context("collector task")??;
    tracing::info!(
        ticks_written = stats.ticks_written,
        ticks_already_stored = stats.ticks_skipped,
        ticks_merged = stats.ticks_merged,
        bad_lines = bad,
        "collected"
    );
    Ok(())
}

pub fn open_store(db: &std::path::Path) -> anyhow::Result<SqliteStore> {
    SqliteStore::open(db).with_context(|| format!("opening the store {}", db.display()))
}

fn collector_options(ctx: &Context) -> CollectorOptions {
    CollectorOptions {
        batch_max: ctx.config.collector.batch_max,
        linger: Duration::from_millis(ctx.config.collector.linger_ms),
        counting: counting(ctx),
        ..CollectorOptions::default()
    }
}

/// The counting policy of the configuration, shared by the run's parts.
fn counting(ctx: &Context) -> Arc<CountingPolicy> {
    Arc::new(ctx.config.counting())
}

fn source_spec(ctx: &Context, kind: SourceKind, args: &SourceArgs) -> anyhow::Result<SourceSpec> {
    if kind == SourceKind::Replay {
        let file = args
            .replay_file
            .clone()
            .context("--source replay needs --replay-file FILE")?;
        return Ok(replay_spec(ctx, file, &args.pace));
    }
    anyhow::ensure!(
        args.replay_file.is_none(),
        "--replay-file is only for --source replay"
    );
    let state_dir = ctx.state_dir()?;
    SourceSpec::live(&ctx.config, kind, &state_dir)
        .with_context(|| format!("source {kind} cannot run live"))
}

fn replay_spec(ctx: &Context, file: std::path::PathBuf, pace: &PaceArgs) -> SourceSpec {
    SourceSpec::Replay(ReplayConfig {
        path: file,
        csv: Some(CsvOptions {
            date: pace.date,
            tz: ctx.tz,
            host: ctx.config.host.clone(),
            interval_s: ctx.config.source.interval,
            drop_first_block: true,
        }),
        speed: pace.speed.max(0.0),
    })
}

/// Cancelled at the first Ctrl-C or SIGTERM; a second one exits at once.
pub fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("stopping: flushing what has been received");
        t.cancel();
        wait_for_signal().await;
        tracing::warn!("second signal: exiting without waiting");
        std::process::exit(130);
    });
    token
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Ticks to stdout, one JSON message per line, flushed each time.
#[derive(Clone, Default)]
struct StdoutPublisher {
    out: Arc<Mutex<Option<tokio::io::Stdout>>>,
}

impl Publisher for StdoutPublisher {
    async fn publish(&self, tick: Tick) -> Result<(), BusError> {
        let mut guard = self.out.lock().await;
        let out = guard.get_or_insert_with(tokio::io::stdout);
        let mut line = tick.to_json();
        line.push('\n');
        let closed = |_| BusError::Closed;
        out.write_all(line.as_bytes()).await.map_err(closed)?;
        out.flush().await.map_err(closed)
    }
}
