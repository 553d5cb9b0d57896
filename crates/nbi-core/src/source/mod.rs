//! Sources: where ticks come from.
//!
//! A source is a long-running task that produces one [`crate::Tick`] per interval,
//! publishes it on a [`Publisher`], reports its health on a [`StatusTx`] and
//! stops when its shutdown token is cancelled.

mod context;
pub mod linux;
pub mod nettop;
pub mod pause;
pub mod replay;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use self::context::{
    status_channel, MonotonicStamp, SourceContext, SourceError, SourceKind, SourceState,
    SourceStatus, StatusTx, Unattributed,
};
use self::linux::LinuxConfig;
use self::linux::LinuxSource;
use self::nettop::NettopConfig;
use self::nettop::NettopSource;
use self::pause::PauseSwitch;
use self::replay::{ReplayConfig, ReplaySource};
use crate::bus::Publisher;
use crate::config::ConfigError;
use crate::counting::{carriers, CountingPolicy, SystemProcesses};

/// The `[source]` section: what is watched, how often, and what counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourceConfig {
    pub kind: SourceKind,
    /// Seconds per tick.
    pub interval: u32,
    /// Count traffic whose two ends are both on this machine (a local dev
    /// server, a database, a model server). Left out by default.
    pub include_loopback: bool,
    /// macOS's own daemons and Linux's system users: "count" (under their
    /// own names) or "leave_out". Told by executable path and user, never pid.
    pub system_processes: SystemProcesses,
    /// Changes to the built-in list of tunnel carriers (VPN clients).
    pub carriers: CarrierEdits,
    /// Process or app names never counted, besides the carriers.
    pub exclude: BTreeSet<String>,
    /// Replaced by `system_processes`: read from older files and turned
    /// into it (a pid does not say what a process is).
    #[serde(default, skip_serializing)]
    pub min_pid: Option<u32>,
    /// The nettop program (macOS).
    pub nettop: PathBuf,
    /// Internal poll of the Linux source, in milliseconds.
    pub linux_poll_ms: u64,
    /// Use the kernel's TCP destroy notifications when allowed (root or
    /// CAP_NET_ADMIN): the final bytes of every closed connection.
    pub linux_destroy_events: bool,
    /// Count traffic of connections whose process was never seen under this
    /// name (e.g. "(unknown)"); left out when empty.
    pub linux_unattributed_app: String,
    /// Count every socket's bytes, TCP and UDP, in the kernel (eBPF) where
    /// allowed (root, or cap_bpf,cap_net_admin,cap_perfmon); otherwise, or
    /// when false, poll TCP's counters.
    pub linux_kernel_counters: bool,
    /// Keep where each app's bytes went (remote addresses). When false no
    /// destination is read, sent or stored.
    pub destinations: bool,
}

/// Names added to and removed from the built-in tunnel carriers
/// (`nbi config` lists the result).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CarrierEdits {
    /// Process, executable or app names of further VPN clients.
    pub add: BTreeSet<String>,
    /// Built-in names to count after all.
    pub remove: BTreeSet<String>,
}

impl Default for SourceConfig {
    fn default() -> Self {
        SourceConfig {
            kind: SourceKind::platform_default(),
            interval: 60,
            include_loopback: false,
            system_processes: SystemProcesses::Count,
            carriers: CarrierEdits::default(),
            exclude: BTreeSet::new(),
            min_pid: None,
            nettop: PathBuf::from("nettop"),
            linux_poll_ms: 250,
            linux_destroy_events: true,
            linux_unattributed_app: String::new(),
            linux_kernel_counters: true,
            destinations: true,
        }
    }
}

impl SourceConfig {
    /// Seconds per tick.
    pub fn interval(&self) -> Duration {
        Duration::from_secs(u64::from(self.interval))
    }

    /// The counting policy these keys describe: what is left out wherever
    /// ticks enter.
    pub fn counting(&self) -> CountingPolicy {
        let carriers = carriers::built_in_names()
            .filter(|n| !self.carriers.remove.contains(*n))
            .map(str::to_string)
            .chain(self.carriers.add.iter().cloned())
            .collect::<Vec<_>>();
        CountingPolicy::new(
            self.include_loopback,
            self.system_processes,
            carriers,
            &self.exclude,
        )
        .with_destinations(self.destinations)
    }

    /// Checks the keys; an error names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.interval == 0 || self.interval > 3600 {
            return Err(ConfigError::Invalid(format!(
                "key `source.interval`: expected 1 to 3600 seconds, found {}",
                self.interval
            )));
        }
        if self.linux_poll_ms < 10 {
            return Err(ConfigError::Invalid(format!(
                "key `source.linux_poll_ms`: expected at least 10 ms, found {}",
                self.linux_poll_ms
            )));
        }
        Ok(())
    }

    /// The live source `kind` (nettop or Linux) as these keys set it up;
    /// `state_dir` keeps its small files (nettop's pid file). `None` for a
    /// replay, which needs its file ([`SourceSpec::Replay`]).
    pub fn live(&self, kind: SourceKind, state_dir: &Path) -> Option<SourceSpec> {
        match kind {
            SourceKind::Nettop => Some(SourceSpec::Nettop(NettopConfig {
                program: self.nettop.clone(),
                pid_file: Some(state_dir.join("nettop.pid")),
                ..NettopConfig::default()
            })),
            SourceKind::Linux => Some(SourceSpec::Linux(LinuxConfig {
                poll: Duration::from_millis(self.linux_poll_ms),
                destroy_events: self.linux_destroy_events,
                unattributed_app: Some(self.linux_unattributed_app.trim())
                    .filter(|a| !a.is_empty())
                    .map(str::to_string),
                kernel_counters: self.linux_kernel_counters,
            })),
            SourceKind::Replay => None,
        }
    }
}

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
}

/// Runs a source until it ends or `ctx.shutdown` is cancelled.
pub async fn run<P: Publisher>(
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

/// Runs a source like [`run`], stopping it while `pause` is on (state
/// `Paused`) and starting it afresh on resume. Returns when `ctx.shutdown` is
/// cancelled, when the source fails, or when it ends by itself (a replay).
pub async fn run_pausable<P: Publisher>(
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
        let result = run(spec.clone(), run_ctx, out.clone()).await;
        stopper.abort();
        result?;
        if ctx.shutdown.is_cancelled() || !pause.is_paused() {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use std::sync::Arc;
    use tokio::sync::watch;
    use tokio_util::sync::CancellationToken;

    #[test]
    fn a_clock_that_jumps_back_never_reuses_a_stamp() {
        let mut m = MonotonicStamp::default();
        let t = |s| DateTime::from_timestamp(s, 0).unwrap();
        assert_eq!(m.stamp(t(1000)), t(1000));
        assert_eq!(m.stamp(t(1060)), t(1060));
        // The wall clock jumps an hour back, then runs on.
        assert_eq!(m.stamp(t(1060 - 3600 + 30)), t(1061));
        assert_eq!(m.stamp(t(1120)), t(1120));
        // Forward jumps are kept as they are.
        assert_eq!(m.stamp(t(90_000)), t(90_000));
    }

    #[tokio::test]
    async fn a_source_that_ends_by_itself_ends_the_pausable_run() {
        use crate::bus::{memory, Subscriber};
        let dir = tempfile::tempdir().unwrap();
        let at: DateTime<Utc> = "2026-07-14T08:00:00Z".parse().unwrap();
        let lines: Vec<String> = (0..3)
            .map(|i| {
                crate::tick::Tick::from_totals(
                    "h",
                    at + chrono::Duration::minutes(i),
                    60,
                    [("Slack".to_string(), (1u64, 1u64))],
                )
                .to_json()
            })
            .collect();
        let path = dir.path().join("ticks.ndjson");
        std::fs::write(&path, lines.join("\n")).unwrap();
        let spec = SourceSpec::Replay(ReplayConfig {
            path,
            csv: None,
            speed: 0.0,
        });
        let (tx, rx) = watch::channel(SourceStatus {
            source: SourceKind::Replay,
            state: SourceState::Starting,
            last_tick: None,
            ticks: 0,
            mode: None,
            mode_note: None,
            unattributed: None,
        });
        let (publisher, mut subscriber) = memory::channel(16);
        let ctx = SourceContext {
            host: "h".into(),
            interval: Duration::from_secs(60),
            counting: Arc::new(CountingPolicy::count_everything()),
            networks: Arc::new(crate::network::Watch::offline()),
            status: tx,
            shutdown: CancellationToken::new(),
        };
        run_pausable(spec, ctx, publisher, &PauseSwitch::default())
            .await
            .unwrap();
        assert_eq!(rx.borrow().state, SourceState::Finished);
        let got = subscriber
            .next_batch(10, Duration::from_millis(10))
            .await
            .unwrap();
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn source_names_parse_and_print() {
        for k in [SourceKind::Nettop, SourceKind::Linux, SourceKind::Replay] {
            assert_eq!(k.as_str().parse::<SourceKind>(), Ok(k));
        }
        let err = "pcap".parse::<SourceKind>().unwrap_err();
        assert!(err.contains("pcap") && err.contains("nettop, linux or replay"));
    }
}
