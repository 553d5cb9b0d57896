//! The Linux source on the kernel-side counters: read once an interval,
//! so an idle machine wakes it once an interval, not several times a
//! second.

use crate::bus::Publisher;
use crate::source::context::{SourceContext, SourceError};

use super::LinuxConfig;

#[cfg(nbi_bpf)]
pub(super) use with_programs::{run, start};
#[cfg(not(nbi_bpf))]
pub(super) use without_programs::{run, start};

#[cfg(nbi_bpf)]
mod with_programs {
    use std::time::Duration;

    use chrono::{DateTime, Utc};
    use tokio::time::Instant;

    use super::super::kernel::KernelCounters;
    use super::super::mode::CaptureMode;
    use super::super::procfs::ProcFs;
    use super::{LinuxConfig, Publisher, SourceContext, SourceError};
    use crate::source::context::{MonotonicStamp, SourceState};
    use crate::tick::Tick;

    /// How long the last tick may wait for room on the bus at shutdown.
    const FINAL_PUBLISH: Duration = Duration::from_secs(10);

    /// Starts the kernel-side counters, or says why they cannot run.
    pub fn start(cfg: &LinuxConfig, ctx: &SourceContext) -> Result<KernelCounters, String> {
        if !cfg.kernel_counters {
            return Err(
                "the kernel-side counters are off (source.linux_kernel_counters = false)".into(),
            );
        }
        KernelCounters::start(ctx.counting.clone(), cfg.unattributed_app.clone())
            .map(|k| k.with_networks(ctx.networks.clone()))
            .map_err(|e| e.to_string())
    }

    /// Publishes one tick per `ctx.interval` until `ctx.shutdown`, then
    /// the partial last interval.
    pub async fn run<P: Publisher>(
        mut counters: KernelCounters,
        ctx: SourceContext,
        out: P,
    ) -> Result<(), SourceError> {
        tracing::info!(mode = %CaptureMode::Kernel, "linux source: {}", CaptureMode::Kernel.describe());
        ctx.set_mode(CaptureMode::Kernel, None);
        ctx.set_state(SourceState::Watching);
        let interval = ctx.interval.max(Duration::from_secs(1));
        let mut interfaces = ProcFs::new("/proc").interfaces();
        let mut stamp = MonotonicStamp::default();
        let mut started = Instant::now();
        let mut wall: DateTime<Utc> = Utc::now();
        let mut next_emit = started + interval;
        // A first read: what sockets moved before we started is not ours.
        counters.read();
        counters.take_totals();
        counters.take_sockets();
        interfaces.unattributed((0, 0));
        loop {
            tokio::select! {
                biased;
                _ = ctx.shutdown.cancelled() => break,
                _ = tokio::time::sleep_until(next_emit) => {
                    let now = Instant::now();
                    let secs = whole_seconds(now - started);
                    if let Err(e) = publish(&mut counters, &mut interfaces, &ctx, &out, &mut stamp, wall, secs).await {
                        ctx.set_state(SourceState::Stopped);
                        return Err(e);
                    }
                    started = now;
                    wall = Utc::now();
                    next_emit += interval;
                    if next_emit <= now {
                        next_emit = now + interval;
                    }
                }
            }
        }
        let secs = whole_seconds(started.elapsed());
        let last = publish(
            &mut counters,
            &mut interfaces,
            &ctx,
            &out,
            &mut stamp,
            wall,
            secs,
        );
        match tokio::time::timeout(FINAL_PUBLISH, last).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "linux source: last tick not delivered"),
            Err(_) => tracing::warn!("linux source: last tick not delivered (the bus stayed full)"),
        }
        let s = counters.stats();
        tracing::debug!(
            reads = s.reads,
            retired = s.retired,
            lost = s.lost,
            scans = s.scans,
            unattributed_in = s.unattributed_in,
            unattributed_out = s.unattributed_out,
            "linux source stopped"
        );
        ctx.set_state(SourceState::Stopped);
        Ok(())
    }

    /// Reads the counters and publishes the interval's tick.
    async fn publish<P: Publisher>(
        counters: &mut KernelCounters,
        interfaces: &mut super::super::procfs::Interfaces,
        ctx: &SourceContext,
        out: &P,
        stamp: &mut MonotonicStamp,
        wall: DateTime<Utc>,
        secs: u32,
    ) -> Result<(), SourceError> {
        blocking(|| counters.read());
        let totals = counters.take_totals();
        let sockets = counters.take_sockets();
        let counted = sockets.iter().fold((0u64, 0u64), |(i, o), d| {
            (i.saturating_add(d.bytes_in), o.saturating_add(d.bytes_out))
        });
        if let Some(u) = interfaces.unattributed(counted) {
            ctx.set_unattributed(u);
        }
        let at = stamp.stamp(wall);
        let tick = Tick::from_flows(ctx.host.clone(), at, secs, totals);
        out.publish(tick).await?;
        ctx.record_tick(at);
        Ok(())
    }

    /// Runs `f`, which may block for a moment (asking the OS which network
    /// an interface is on), without holding up the runtime's other tasks
    /// where the runtime allows it.
    fn blocking<T>(f: impl FnOnce() -> T) -> T {
        use tokio::runtime::{Handle, RuntimeFlavor};
        match Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
            _ => f(),
        }
    }

    fn whole_seconds(d: Duration) -> u32 {
        u32::try_from(d.as_secs_f64().round() as u64)
            .unwrap_or(u32::MAX)
            .max(1)
    }
}

#[cfg(not(nbi_bpf))]
mod without_programs {
    use super::{LinuxConfig, Publisher, SourceContext, SourceError};

    /// Nothing: this build has no eBPF programs.
    pub enum Never {}

    pub fn start(_cfg: &LinuxConfig, _ctx: &SourceContext) -> Result<Never, String> {
        Err(
            "this build has no eBPF programs (clang and libbpf-dev were missing when it was built)"
                .into(),
        )
    }

    pub async fn run<P: Publisher>(
        never: Never,
        _ctx: SourceContext,
        _out: P,
    ) -> Result<(), SourceError> {
        match never {}
    }
}
