//! The Linux source: per-process bytes in and out from the kernel's own
//! per-socket TCP counters, without root.
//!
//! Every `poll` (default 250 ms) it dumps the TCP socket table over
//! NETLINK_SOCK_DIAG (IPv4 and IPv6) with each socket's `tcp_info`, whose
//! `tcpi_bytes_received` and `tcpi_bytes_acked` are the bytes in and out.
//! Sockets are followed by their kernel cookie; a socket's process is found
//! once, by its inode in `/proc/PID/fd`, and named after its executable
//! (`/proc/PID/exe`, else `/proc/PID/comm`). Only what a socket moved since
//! it was last seen is counted: sockets open when the source starts count
//! from then on.
//!
//! A poll whose TCP segment counters (`/proc/net/snmp`) have not moved since
//! the last dump skips the dump: no socket's byte counters can have moved
//! either, and a dump costs a walk of the kernel's whole connection table.
//! While TCP is quiet even that check leaves the async runtime alone: a
//! small thread reads the counters every `poll` and wakes the source only
//! when they move, so an idle machine wakes this process about four times
//! a second and no more (timers on the async runtime would wake it twice
//! per check).
//!
//! A connection that closes between two polls would lose its last moments,
//! so where the kernel allows it (CAP_NET_ADMIN) the source also listens to
//! sock_diag's TCP destroy notifications, which carry the final counters of
//! every closed socket; the cookie ties them to the process seen earlier.
//! [`capabilities`] says which mode this machine gets.
//!
//! Not seen: UDP, and so QUIC (HTTP/3) — sock_diag has no byte counters for
//! UDP sockets; sockets of other network namespaces (containers with their
//! own network); traffic of sockets whose process cannot be read (other
//! users' processes when not root), which is left out unless
//! [`LinuxConfig::unattributed_app`] names a bucket for it.

use std::time::Duration;

use crate::bus::Publisher;
use crate::source::context::{SourceContext, SourceError};

mod mode;

pub use mode::{CaptureMode, LinuxCapabilities};

#[cfg(all(target_os = "linux", nbi_bpf))]
mod kernel;
#[cfg(target_os = "linux")]
mod kernel_run;
#[cfg(target_os = "linux")]
mod ledger;
#[cfg(target_os = "linux")]
mod netlink;
#[cfg(target_os = "linux")]
mod poller;
#[cfg(target_os = "linux")]
mod procfs;
#[cfg(target_os = "linux")]
mod sockdiag;

/// Settings of the Linux source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinuxConfig {
    /// How often the socket table is read. Shorter catches more of the
    /// connections that close between polls when destroy notifications are
    /// unavailable, at a little more CPU.
    pub poll: Duration,
    /// Use the kernel's TCP destroy notifications when allowed.
    pub destroy_events: bool,
    /// When set, traffic of sockets whose process is unknown is counted
    /// under this app name; otherwise it is left out.
    pub unattributed_app: Option<String>,
    /// Count every socket's bytes in the kernel (eBPF) where allowed; else,
    /// or when that cannot start, poll TCP's counters.
    pub kernel_counters: bool,
}

impl Default for LinuxConfig {
    fn default() -> Self {
        LinuxConfig {
            poll: Duration::from_millis(250),
            destroy_events: true,
            unattributed_app: None,
            kernel_counters: true,
        }
    }
}

/// Whether this build has the kernel-side counters (eBPF programs compiled
/// in): a build made without clang counts TCP only.
pub const fn has_kernel_counters() -> bool {
    cfg!(all(target_os = "linux", nbi_bpf))
}

/// Probes what the source can use here (opens and closes netlink sockets).
pub fn capabilities() -> LinuxCapabilities {
    #[cfg(target_os = "linux")]
    {
        let sock_diag = netlink::DumpSocket::open()
            .and_then(|mut d| d.dump_tcp(libc::AF_INET as u8, &mut Vec::new()))
            .is_ok();
        LinuxCapabilities {
            sock_diag,
            destroy_events: sock_diag && netlink::DestroyListener::subscribe().is_ok(),
            all_processes: std::fs::read_dir("/proc/1/fd").is_ok(),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        LinuxCapabilities {
            sock_diag: false,
            destroy_events: false,
            all_processes: false,
        }
    }
}

/// The TCP-only mode this machine allows under `cfg`.
fn fallback_mode(cfg: &LinuxConfig) -> CaptureMode {
    match capabilities().mode() {
        CaptureMode::PollingWithDestroyEvents if !cfg.destroy_events => CaptureMode::Polling,
        mode => mode,
    }
}

/// The Linux source.
#[derive(Debug, Clone)]
pub struct LinuxSource {
    cfg: LinuxConfig,
}

impl LinuxSource {
    pub fn new(cfg: LinuxConfig) -> Self {
        LinuxSource { cfg }
    }

    pub fn config(&self) -> &LinuxConfig {
        &self.cfg
    }

    /// The mode of the TCP-only path `run` falls back to when the
    /// kernel-side counters cannot start (probes netlink now).
    pub fn fallback_mode(&self) -> CaptureMode {
        fallback_mode(&self.cfg)
    }

    /// Publishes one tick per `ctx.interval` until `ctx.shutdown` is
    /// cancelled, then the partial last interval. Netlink failures are
    /// retried with backoff and reported as `Failing`; only a bus that
    /// refuses ticks ends the source with an error.
    pub async fn run<P: Publisher>(self, ctx: SourceContext, out: P) -> Result<(), SourceError> {
        #[cfg(target_os = "linux")]
        {
            run::run(self.cfg, ctx, out).await
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (ctx, out);
            Err(SourceError::Unavailable(
                "the linux source reads Linux's socket table (sock_diag) and /proc; on this system use the nettop source".to_string(),
            ))
        }
    }
}

#[cfg(target_os = "linux")]
mod run {
    use std::time::Duration;

    use chrono::{DateTime, Utc};
    use tokio::sync::watch;
    use tokio::time::Instant;

    use super::kernel_run as kernel;
    use super::poller::Poller;
    use super::procfs::ProcFs;
    use super::LinuxConfig;
    use crate::bus::Publisher;
    use crate::source::context::{MonotonicStamp, SourceContext, SourceError, SourceState};
    use crate::tick::Tick;

    /// Longest wait between retries of a failing poll.
    const MAX_BACKOFF: Duration = Duration::from_secs(30);
    /// Sockets that moved at least this much since the last poll make the
    /// next poll come `BUSY_SPEEDUP` times sooner: a connection that closes
    /// between two polls loses what it moved after the last one (when no
    /// destroy notification brings its final counters), so polls are
    /// closest together when there is traffic to lose.
    const BUSY_BYTES: u64 = 64 * 1024;
    const BUSY_SPEEDUP: u32 = 5;
    /// Fast polling never takes more than 1/MAX_DUTY of the time. A dump
    /// walks the kernel's whole connection table (2–3 ms on an ordinary
    /// machine): at 1 % the fast polls were no faster than the normal ones,
    /// and a short download lost up to a quarter second of its tail.
    const MAX_DUTY: u32 = 20;
    const MIN_POLL: Duration = Duration::from_millis(10);
    /// How long the last tick may wait for room on the bus at shutdown.
    const FINAL_PUBLISH: Duration = Duration::from_secs(10);

    /// The interval being filled.
    struct Window {
        started: Instant,
        wall: DateTime<Utc>,
        /// At least one poll succeeded in it: its tick means something.
        polled: bool,
    }

    impl Window {
        fn open() -> Window {
            Window {
                started: Instant::now(),
                wall: Utc::now(),
                polled: false,
            }
        }
    }

    pub async fn run<P: Publisher>(
        cfg: LinuxConfig,
        ctx: SourceContext,
        out: P,
    ) -> Result<(), SourceError> {
        ctx.set_state(SourceState::Starting);
        let why_not = match kernel::start(&cfg, &ctx) {
            Ok(counters) => return kernel::run(counters, ctx, out).await,
            Err(why) => why,
        };
        tracing::warn!(reason = %why_not, "linux source: counting TCP only; UDP (QUIC, DNS, calls) is not seen");
        ctx.set_mode(
            super::fallback_mode(&cfg),
            Some(format!("counting TCP only: {why_not}")),
        );
        let interval = ctx.interval.max(Duration::from_secs(1));
        let interval_s = whole_seconds(interval);
        let poll_every = cfg.poll.clamp(MIN_POLL, interval);
        let make = {
            let counting = ctx.counting.clone();
            let networks = ctx.networks.clone();
            move || {
                let p = Poller::new(
                    next_delay(poll_every, u64::MAX, Duration::ZERO),
                    cfg.destroy_events,
                    counting.clone(),
                    cfg.unattributed_app.clone(),
                )
                .with_networks(networks.clone());
                tracing::info!(mode = %p.mode(), poll_ms = poll_every.as_millis() as u64, "linux source: {}", p.mode().describe());
                p
            }
        };
        let mut interfaces = ProcFs::new("/proc").interfaces();

        let mut poller: Option<Poller> = None;
        let mut stamp = MonotonicStamp::default();
        let mut failures: u32 = 0;
        let mut ever_polled = false;
        let mut window = Window::open();
        let mut next_emit = window.started + interval;
        let mut next_poll = window.started;
        // While TCP is quiet, the watcher's signal replaces the poll timer.
        let mut moved = watch_counters(poll_every);
        let mut quiet = false;

        loop {
            let wake = if quiet {
                next_emit
            } else {
                next_poll.min(next_emit)
            };
            tokio::select! {
                biased;
                _ = ctx.shutdown.cancelled() => break,
                _ = moved.changed(), if quiet => {}
                _ = tokio::time::sleep_until(wake) => {}
            }
            moved.borrow_and_update();
            let now = Instant::now();
            match poll_once(&mut poller, &make).await {
                Ok((bytes, took, dumped)) => {
                    if failures > 0 {
                        tracing::info!("linux source: reading sockets again");
                    }
                    failures = 0;
                    ever_polled = true;
                    window.polled = true;
                    ctx.set_state(SourceState::Watching);
                    quiet = !dumped;
                    next_poll = now + next_delay(poll_every, bytes, took);
                }
                Err(reason) => {
                    quiet = false;
                    failures = failures.saturating_add(1);
                    let backoff = poll_every
                        .saturating_mul(1 << failures.min(16))
                        .min(MAX_BACKOFF);
                    tracing::warn!(%reason, failures, retry_in_ms = backoff.as_millis() as u64, "linux source: poll failed");
                    // One failed poll among many is noise; two in a row, or
                    // a first poll that fails, is not watching.
                    if failures >= 2 || !ever_polled {
                        ctx.set_state(SourceState::Failing { reason });
                    }
                    next_poll = now + backoff;
                }
            }
            if Instant::now() >= next_emit {
                let now = Instant::now();
                let elapsed = now - window.started;
                // A tick that spans much more than the interval (the
                // executor stalled, a long outage) says how long it was.
                let secs = if elapsed > interval + interval / 2 {
                    whole_seconds(elapsed)
                } else {
                    interval_s
                };
                let done = std::mem::replace(&mut window, Window::open());
                if done.polled {
                    let totals = poller.as_mut().map(Poller::take_totals).unwrap_or_default();
                    let counted = poller
                        .as_mut()
                        .map(Poller::take_counted)
                        .unwrap_or_default();
                    if let Some(u) = interfaces.unattributed(counted) {
                        ctx.set_unattributed(u);
                    }
                    let at = stamp.stamp(done.wall);
                    let tick = Tick::from_flows(ctx.host.clone(), at, secs, totals);
                    if let Err(e) = out.publish(tick).await {
                        ctx.set_state(SourceState::Stopped);
                        return Err(e.into());
                    }
                    ctx.record_tick(at);
                }
                next_emit += interval;
                if next_emit <= now {
                    next_emit = now + interval;
                }
            }
        }

        // Shutdown: one last look, then the partial interval, so that what
        // was counted since the last tick is not lost.
        if poller.is_some() && poll_once(&mut poller, &make).await.is_ok() {
            window.polled = true;
        }
        if window.polled {
            let secs = whole_seconds(window.started.elapsed());
            let totals = poller.as_mut().map(Poller::take_totals).unwrap_or_default();
            let at = stamp.stamp(window.wall);
            let tick = Tick::from_flows(ctx.host.clone(), at, secs, totals);
            match tokio::time::timeout(FINAL_PUBLISH, out.publish(tick)).await {
                Ok(Ok(())) => ctx.record_tick(at),
                Ok(Err(e)) => tracing::warn!(error = %e, "linux source: last tick not delivered"),
                Err(_) => {
                    tracing::warn!("linux source: last tick not delivered (the bus stayed full)")
                }
            }
        }
        if let Some(p) = &poller {
            let s = p.stats();
            tracing::debug!(
                polls = s.polls,
                quiet = s.quiet,
                sockets = s.sockets,
                scans = s.scans,
                destroy_events = s.destroy_events,
                overflows = s.overflows,
                unattributed_in = s.unattributed_in,
                unattributed_out = s.unattributed_out,
                "linux source stopped"
            );
        }
        ctx.set_state(SourceState::Stopped);
        Ok(())
    }

    /// Reads TCP's segment counters every `poll` on a thread of its own and
    /// bumps the channel when they move. The thread ends when the receiver
    /// is dropped. A counter that cannot be read counts as moved: the
    /// source then polls as usual.
    fn watch_counters(poll: Duration) -> watch::Receiver<u64> {
        let (tx, rx) = watch::channel(0u64);
        let spawned = std::thread::Builder::new()
            .name("nbi-tcp-counters".into())
            .spawn(move || {
                let mut counters = ProcFs::new("/proc").tcp_counters();
                let mut last = counters.read();
                while !tx.is_closed() {
                    std::thread::sleep(poll);
                    let now = counters.read();
                    if now.is_none() || now != last {
                        last = now;
                        tx.send_modify(|n| *n = n.wrapping_add(1));
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "linux source: no thread to watch TCP's counters; polling on timers");
        }
        rx
    }

    /// Runs one poll, creating the poller first if there is none (at start,
    /// or after a poll panicked); returns the bytes moved since the previous
    /// poll, how long the dump took, and whether there was one. Its cheap
    /// first part runs here on the executor: on a quiet machine that is the
    /// whole poll, and a hop to the blocking pool would cost more than the
    /// poll itself. The dump runs on the blocking pool.
    async fn poll_once<F>(
        slot: &mut Option<Poller>,
        make: &F,
    ) -> Result<(u64, Duration, bool), String>
    where
        F: Fn() -> Poller + Clone + Send + 'static,
    {
        let due = match slot.as_mut() {
            Some(p) => match p.begin() {
                Some(due) => Some(due),
                None => return Ok((0, Duration::ZERO, false)),
            },
            None => None,
        };
        let current = slot.take();
        let make = make.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let mut p = current.unwrap_or_else(make);
            let started = std::time::Instant::now();
            let r = match due {
                Some(due) => p.dump(due),
                None => p.poll(),
            };
            (p, r, started.elapsed())
        })
        .await;
        match joined {
            Ok((p, r, took)) => {
                *slot = Some(p);
                r.map(|moved| (moved, took, true))
                    .map_err(|e| e.to_string())
            }
            Err(e) => Err(format!("socket poller stopped: {e}")),
        }
    }

    /// The wait before the next poll: shorter while data moves, never so
    /// short that polling takes more than 1/MAX_DUTY of the time.
    pub(super) fn next_delay(poll_every: Duration, moved: u64, took: Duration) -> Duration {
        if moved < BUSY_BYTES {
            return poll_every;
        }
        (poll_every / BUSY_SPEEDUP)
            .max(took.saturating_mul(MAX_DUTY))
            .max(MIN_POLL)
            .min(poll_every)
    }

    fn whole_seconds(d: Duration) -> u32 {
        u32::try_from(d.as_secs_f64().round() as u64)
            .unwrap_or(u32::MAX)
            .max(1)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::time::Duration;

    use super::run::next_delay;

    #[test]
    fn polls_come_sooner_while_data_moves_but_stay_cheap() {
        let poll = Duration::from_millis(250);
        let fast = Duration::from_micros(300);
        assert_eq!(next_delay(poll, 0, fast), poll);
        assert_eq!(next_delay(poll, 1000, fast), poll, "a trickle is not busy");
        assert_eq!(next_delay(poll, 10 << 20, fast), Duration::from_millis(50));
        // A 4 ms poll (thousands of sockets) is not repeated more often than
        // every 80 ms, nor ever less often than the configured poll.
        assert_eq!(
            next_delay(poll, 10 << 20, Duration::from_millis(4)),
            Duration::from_millis(80)
        );
        assert_eq!(next_delay(poll, 10 << 20, Duration::from_secs(1)), poll);
    }
}
