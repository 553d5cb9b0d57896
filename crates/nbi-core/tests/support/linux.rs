//! Running a Linux source in a test: the source on a memory bus, its
//! status, and the bytes each app was given.
#![cfg(target_os = "linux")]

use std::time::Duration;

use nbi_core::app::app_name_for_exe;
use nbi_core::bus::memory::{self, MemorySubscriber};
use nbi_core::bus::Subscriber;
use nbi_core::counting::CountingPolicy;
use nbi_core::source::linux::{LinuxConfig, LinuxSource};
use nbi_core::source::{
    status_channel, SourceContext, SourceError, SourceKind, SourceState, SourceStatus,
};
use nbi_core::Tick;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// This test binary's app name (its sockets' app).
pub fn me() -> String {
    app_name_for_exe(&std::env::current_exe().unwrap()).unwrap()
}

/// A Linux source running on a memory bus.
pub struct Harness {
    pub rx: MemorySubscriber,
    pub status: watch::Receiver<SourceStatus>,
    pub shutdown: CancellationToken,
    pub task: JoinHandle<Result<(), SourceError>>,
    pub ticks: Vec<Tick>,
}

impl Harness {
    pub fn start(cfg: LinuxConfig, interval: Duration, counting: CountingPolicy) -> Harness {
        let (tx, rx) = memory::channel(256);
        let (status_tx, status) = status_channel(SourceKind::Linux);
        let shutdown = CancellationToken::new();
        let ctx = SourceContext {
            host: "test".to_string(),
            interval,
            counting: std::sync::Arc::new(counting),
            networks: std::sync::Arc::new(nbi_core::network::Watch::this_machine()),
            status: status_tx,
            shutdown: shutdown.clone(),
        };
        let task = tokio::spawn(LinuxSource::new(cfg).run(ctx, tx));
        Harness {
            rx,
            status,
            shutdown,
            task,
            ticks: Vec::new(),
        }
    }

    /// Waits until the source is watching (its first read is done).
    pub async fn watching(&mut self) {
        let waited = tokio::time::timeout(
            Duration::from_secs(10),
            self.status
                .wait_for(|s| matches!(s.state, SourceState::Watching)),
        )
        .await
        .map(|r| r.map(|_| ()));
        assert!(
            matches!(waited, Ok(Ok(()))),
            "the source never started watching: {:?}",
            self.status.borrow().state
        );
    }

    pub async fn next_tick(&mut self, within: Duration) -> Tick {
        let batch = tokio::time::timeout(within, self.rx.next_batch(1, Duration::ZERO))
            .await
            .expect("no tick in time")
            .unwrap();
        let tick = batch.into_iter().next().expect("the bus closed").tick;
        self.ticks.push(tick.clone());
        tick
    }

    /// Stops the source and returns every tick it published.
    pub async fn stop(mut self) -> Vec<Tick> {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("the source did not stop")
            .unwrap()
            .unwrap();
        loop {
            let batch = self.rx.next_batch(64, Duration::ZERO).await.unwrap();
            if batch.is_empty() {
                break;
            }
            self.ticks.extend(batch.into_iter().map(|d| d.tick));
        }
        assert_eq!(
            self.status.borrow().state,
            SourceState::Stopped,
            "a stopped source says so"
        );
        self.ticks
    }
}

/// Bytes (in, out) of `app` in each tick.
pub fn per_tick(ticks: &[Tick], app: &str) -> Vec<(u64, u64)> {
    ticks
        .iter()
        .map(|t| {
            t.apps
                .iter()
                .find(|a| a.app == app)
                .map_or((0, 0), |a| (a.bytes_in, a.bytes_out))
        })
        .collect()
}

pub fn sum(ticks: &[Tick], app: &str) -> (u64, u64) {
    per_tick(ticks, app)
        .into_iter()
        .fold((0, 0), |(i, o), (a, b)| (i + a, o + b))
}

pub fn pct(part: u64, whole: u64) -> f64 {
    100.0 * part as f64 / whole as f64
}
