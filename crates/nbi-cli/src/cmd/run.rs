//! `run`, `watch`, `collect` and `replay`: the runtime in the foreground,
//! its parts chosen by flags.

use std::sync::Arc;

use anyhow::Context as _;
use nbi_core::bus::{BusError, Publisher};
use nbi_core::lines::{LineReader, ReadEvent};
use nbi_core::runtime::upkeep::{self, Upkeep};
use nbi_core::runtime::{Controls, Judging, Run, WatchSink};
use nbi_core::tick::{bounds, TickDecoder};
use nbi_core::Tick;
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::args::{BusKind, CollectArgs, Global, ReplayArgs, RunArgs, WatchArgs};
use crate::context::{bus_kind, Context};

pub async fn run(global: &Global, args: RunArgs) -> anyhow::Result<()> {
    let (ctx, source) = Context::with_source(global, &args.source)?;
    let notify = args.notify;
    let judging = (!args.no_detect).then(|| Judging {
        on_verdict: Arc::new(move |verdict| {
            tracing::info!(day = %verdict.day, status = %verdict.status, "{}", verdict.summary);
            if let Some(notice) = verdict.notice().filter(|_| notify) {
                if let Err(e) = nbi_core::notify::send(&notice) {
                    tracing::warn!(error = %e, "the unusual day could not be shown");
                }
            }
        }),
        max_catch_up: 14,
    });
    let upkeep = Upkeep {
        on_plan: Some(Arc::new(move |usage, level| {
            let notice = upkeep::plan_notice(usage, level);
            tracing::warn!(
                used_bytes = usage.used_bytes,
                limit_bytes = usage.limit_bytes,
                "{}: {}",
                notice.title,
                notice.body
            );
            if notify {
                if let Err(e) = nbi_core::notify::send(&notice) {
                    tracing::warn!(error = %e, "the data plan notice could not be shown");
                }
            }
        })),
    };
    let run = Run {
        source,
        bus: bus_kind(args.bus.bus),
        judging,
        controls: Controls::default(),
        status_file: true,
        upkeep: Some(upkeep),
    };
    let stores = ctx.rt.open_stores()?;
    ctx.rt.run(run, &stores, shutdown_on_signals()).await?;
    Ok(())
}

pub async fn replay(global: &Global, args: ReplayArgs) -> anyhow::Result<()> {
    let ctx = Context::load(global)?;
    ctx.require_sqlite("replay")?;
    let run = Run {
        source: ctx
            .rt
            .replay_source(args.file, args.pace.speed, args.pace.date),
        bus: nbi_core::runtime::BusKind::Memory,
        judging: None,
        controls: Controls::default(),
        status_file: true,
        upkeep: None,
    };
    let stores = ctx.rt.open_stores()?;
    ctx.rt.run(run, &stores, shutdown_on_signals()).await?;
    Ok(())
}

pub async fn watch(global: &Global, args: WatchArgs) -> anyhow::Result<()> {
    let (ctx, source) = Context::with_source(global, &args.source)?;
    let sink = match args.bus.bus {
        BusKind::Kafka => WatchSink::Kafka,
        BusKind::Memory => WatchSink::Publisher(StdoutPublisher::default()),
    };
    ctx.rt
        .watch(source, sink, shutdown_on_signals())
        .await
        .context("watching")
}

pub async fn collect(global: &Global, args: CollectArgs) -> anyhow::Result<()> {
    let ctx = Context::load(global)?;
    let shutdown = shutdown_on_signals();
    if args.bus.bus == BusKind::Kafka {
        let stats = ctx.rt.collect_kafka(shutdown).await?;
        tracing::info!(
            ticks_written = stats.ticks_written,
            ticks_already_stored = stats.ticks_skipped,
            ticks_merged = stats.ticks_merged,
            "stopped; every tick read is stored and committed"
        );
        return Ok(());
    }
    // NDJSON on stdin, through the in-process bus.
    let (publisher, subscriber) = ctx.rt.memory_bus();
    let collecting = {
        let rt = ctx.rt.clone();
        tokio::spawn(async move { rt.collect(subscriber, None).await })
    };
    // Lines of bounded length; one that is too long or not UTF-8 is
    // skipped with its number, like one that is not a tick.
    let mut lines = LineReader::new(tokio::io::stdin(), bounds::MAX_LINE_BYTES);
    let (mut line_no, mut bad) = (0u64, 0u64);
    // Naive (original-format) times are the watcher's local time: the zone
    // of the configuration, in order across a fall-back's repeated hour.
    let mut decoder = TickDecoder::new(ctx.tz);
    loop {
        let event = tokio::select! {
            _ = shutdown.cancelled() => break,
            e = lines.next() => e.context("reading ticks from stdin")?,
        };
        let line = match event {
            ReadEvent::Eof => break,
            ReadEvent::TooLong => Err(format!(
                "a line longer than {} bytes",
                bounds::MAX_LINE_BYTES
            )),
            ReadEvent::Line => std::str::from_utf8(lines.line())
                .map_err(|_| "a line that is not UTF-8 text".to_string()),
        };
        line_no += 1;
        let decoded = line.and_then(|l| match l.trim().is_empty() {
            true => Ok(None),
            false => decoder.decode(l, None).map(Some).map_err(|e| e.to_string()),
        });
        match decoded {
            Ok(Some(tick)) => publisher.publish(tick).await?,
            Ok(None) => {}
            Err(e) => {
                bad += 1;
                tracing::warn!("stdin line {line_no}: skipping, not a tick: {e}");
            }
        }
    }
    drop(publisher);
    let stats = collecting.await.context("collector task")??;
    tracing::info!(
        ticks_written = stats.ticks_written,
        ticks_already_stored = stats.ticks_skipped,
        ticks_merged = stats.ticks_merged,
        bad_lines = bad,
        "collected"
    );
    Ok(())
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
