//! The nettop source (macOS): one long-running
//! `nettop -P -d -x -L 0 -s <interval> -J bytes_in,bytes_out`, read as a
//! stream; each delta sample becomes one [`Tick`].
//!
//! A sample is complete when the next header arrives or when nettop has been
//! quiet for a short gap (it prints a sample at once, so there is no need to
//! wait a whole interval for the next header). A nettop that exits, hangs
//! or prints garbage is restarted with exponential backoff and the reason
//! shows in the source's status.

mod child;
pub mod identity;
pub mod parse;

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::io::AsyncRead;
use tokio::time::Instant;

use self::child::{LineReader, ReadEvent};
use self::identity::AppResolver;
pub use self::parse::{parse_str, Block, NettopParser, ParseError, ParseOptions, ProcessRow};
use super::{MonotonicStamp, SourceContext, SourceError, SourceState};
use crate::bus::{BusError, Publisher};
use crate::tick::Tick;

/// Longest line kept; anything longer is garbage.
const MAX_LINE: usize = 64 * 1024;

/// How the nettop source runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NettopConfig {
    /// The nettop executable.
    pub program: PathBuf,
    /// The `ps` used to find executables (app identity) and to check a stale
    /// pid before killing it.
    pub ps: PathBuf,
    /// Name apps by their executable (`.app` bundle) when `ps` can tell.
    pub resolve_apps: bool,
    /// Where the running nettop's pid is kept, so a later run can stop a
    /// nettop that outlived us.
    pub pid_file: Option<PathBuf>,
    /// Quiet time after which a sample is taken as complete (at most a
    /// quarter of the interval is used).
    pub idle_gap: Duration,
    /// nettop is taken as hung after this many intervals without a line.
    pub hang_intervals: u32,
    /// nettop is restarted after more than this many unparseable lines in
    /// a row.
    pub max_garbage_lines: u32,
    /// First restart delay, doubled after each failure up to `backoff_max`.
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// A nettop that ran this long and produced ticks resets the backoff.
    pub healthy_after: Duration,
}

impl Default for NettopConfig {
    fn default() -> Self {
        NettopConfig {
            program: PathBuf::from("nettop"),
            ps: PathBuf::from("ps"),
            resolve_apps: true,
            pid_file: None,
            idle_gap: Duration::from_millis(500),
            hang_intervals: 3,
            max_garbage_lines: 20,
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            healthy_after: Duration::from_secs(300),
        }
    }
}

/// The nettop source. See the module documentation.
#[derive(Debug, Clone)]
pub struct NettopSource {
    config: NettopConfig,
}

impl NettopSource {
    pub fn new(config: NettopConfig) -> NettopSource {
        NettopSource { config }
    }

    /// Runs until `ctx.shutdown` is cancelled (`Ok`) or the bus closes
    /// (`Err`). nettop failures are not errors: they are retried.
    pub async fn run<P: Publisher>(self, ctx: SourceContext, out: P) -> Result<(), SourceError> {
        ctx.set_state(SourceState::Starting);
        if let Some(path) = &self.config.pid_file {
            child::kill_stale(path, &self.config.ps).await;
        }
        let resolver = AppResolver::new(self.config.resolve_apps.then(|| self.config.ps.clone()));
        let mut backoff = Backoff::new(self.config.backoff_initial, self.config.backoff_max);
        let mut session = Session {
            cfg: &self.config,
            ctx: &ctx,
            out: &out,
            // Bounded so that deadlines and timestamps cannot overflow.
            interval: ctx
                .interval
                .clamp(Duration::from_millis(50), Duration::from_secs(86_400)),
            stamp: MonotonicStamp::default(),
            resolver,
            child_ticks: 0,
        };
        let mut restarts: u64 = 0;
        let result = loop {
            if ctx.shutdown.is_cancelled() {
                break Ok(());
            }
            let started = Instant::now();
            let reason = match session.run_child().await {
                Ended::Shutdown => break Ok(()),
                Ended::Bus(e) => break Err(SourceError::Bus(e)),
                Ended::Failed(reason) => reason,
            };
            if session.child_ticks > 0 && started.elapsed() >= self.config.healthy_after {
                backoff.reset();
            }
            let delay = backoff.next_delay();
            restarts += 1;
            tracing::warn!(
                reason = %reason,
                restart = restarts,
                delay_ms = delay.as_millis() as u64,
                "nettop failed; restarting it"
            );
            ctx.set_state(SourceState::Failing {
                reason: format!(
                    "{reason} (restart {restarts} in {:.1} s)",
                    delay.as_secs_f64()
                ),
            });
            tokio::select! {
                _ = ctx.shutdown.cancelled() => break Ok(()),
                _ = tokio::time::sleep(delay) => {}
            }
        };
        ctx.set_state(SourceState::Stopped);
        result
    }
}

/// How one nettop child ended.
enum Ended {
    Shutdown,
    Bus(BusError),
    Failed(String),
}

/// Why reading a child's output stopped.
enum Stop {
    Shutdown,
    Bus(BusError),
    Eof,
    Hung(Duration),
    Garbage { lines: u32, last: String },
    Read(std::io::Error),
}

struct Session<'a, P> {
    cfg: &'a NettopConfig,
    ctx: &'a SourceContext,
    out: &'a P,
    interval: Duration,
    stamp: MonotonicStamp,
    resolver: AppResolver,
    /// Ticks published by the current child.
    child_ticks: u64,
}

impl<P: Publisher> Session<'_, P> {
    /// Starts one nettop, turns its samples into ticks until it fails or we
    /// stop, and leaves no process behind.
    async fn run_child(&mut self) -> Ended {
        self.child_ticks = 0;
        let program = &self.cfg.program;
        let mut nettop = match child::spawn(program, self.interval) {
            Ok(c) => c,
            Err(e) => {
                return Ended::Failed(format!("could not start {}: {e}", program.display()));
            }
        };
        let pid = nettop.id();
        tracing::info!(pid, program = %program.display(), "nettop started");
        if let (Some(path), Some(pid)) = (&self.cfg.pid_file, pid) {
            if let Err(e) = child::write_pid_file(path, pid) {
                tracing::warn!(path = %path.display(), error = %e, "could not write the nettop pid file");
            }
        }
        let mut last_stderr = None;
        let stop = match (nettop.stdout.take(), nettop.stderr.take()) {
            (Some(stdout), Some(stderr)) => self.read(stdout, stderr, &mut last_stderr).await,
            _ => Stop::Read(std::io::Error::other("nettop's output was not piped")),
        };
        // A nettop that closed its output gets a moment to exit by itself,
        // so its own exit status is reported; any other is killed at once.
        let grace = match stop {
            Stop::Eof => Duration::from_secs(1),
            _ => Duration::ZERO,
        };
        let status = child::stop(&mut nettop, grace).await;
        if let (Some(path), Some(pid)) = (&self.cfg.pid_file, pid) {
            child::remove_pid_file(path, pid);
        }
        let said = last_stderr
            .map(|l: String| format!(": {l}"))
            .unwrap_or_default();
        match stop {
            Stop::Shutdown => Ended::Shutdown,
            Stop::Bus(e) => Ended::Bus(e),
            Stop::Eof => Ended::Failed(match status {
                Some(s) => format!("nettop exited ({s}){said}"),
                None => format!("nettop closed its output{said}"),
            }),
            Stop::Hung(quiet) => Ended::Failed(format!(
                "nettop printed nothing for {:.1} s ({} intervals)",
                quiet.as_secs_f64(),
                self.cfg.hang_intervals.max(1)
            )),
            Stop::Garbage { lines, last } => Ended::Failed(format!(
                "nettop printed {lines} unparseable lines in a row (last: {last})"
            )),
            Stop::Read(e) => Ended::Failed(format!("reading nettop's output failed: {e}")),
        }
    }

    async fn read(
        &mut self,
        stdout: impl AsyncRead + Unpin,
        stderr: impl AsyncRead + Unpin,
        last_stderr: &mut Option<String>,
    ) -> Stop {
        let mut lines = LineReader::new(stdout, MAX_LINE);
        let mut errs = LineReader::new(stderr, MAX_LINE);
        let mut errs_open = true;
        let mut parser = NettopParser::new(ParseOptions {
            drop_first_block: true,
        });
        let hang_after = self.interval * self.cfg.hang_intervals.clamp(1, 10_000);
        let idle_gap = self.cfg.idle_gap.min(self.interval / 4);
        let mut last_progress = Instant::now();
        // When the last line came, while a sample may still be open.
        let mut open_since: Option<Instant> = None;
        // When the open sample's first line came: the end of its interval.
        let mut sample_wall: Option<DateTime<Utc>> = None;
        let mut bad_run: u32 = 0;
        let mut stderr_lines: u32 = 0;
        loop {
            let hang_at = last_progress + hang_after;
            let wake_at = open_since.map_or(hang_at, |t| (t + idle_gap).min(hang_at));
            tokio::select! {
                biased;
                _ = self.ctx.shutdown.cancelled() => return Stop::Shutdown,
                event = lines.next() => match event {
                    Ok(ReadEvent::Line) => {
                        let now = Utc::now();
                        let text = String::from_utf8_lossy(lines.line());
                        match parser.feed_line(&text) {
                            Ok(closed) => {
                                bad_run = 0;
                                if text.trim().is_empty() {
                                    continue;
                                }
                                last_progress = Instant::now();
                                open_since = Some(last_progress);
                                if let Some(block) = closed {
                                    let wall = sample_wall.take().unwrap_or(now);
                                    if let Err(stop) = self.emit(block, wall).await {
                                        return stop;
                                    }
                                    // Time spent on the bus is not nettop's silence.
                                    last_progress = Instant::now();
                                    open_since = Some(last_progress);
                                }
                                sample_wall.get_or_insert(now);
                            }
                            Err(e) => {
                                bad_run += 1;
                                if bad_run == 1 {
                                    tracing::warn!(error = %e, "unparseable nettop line");
                                } else {
                                    tracing::debug!(error = %e, "unparseable nettop line");
                                }
                                if bad_run > self.cfg.max_garbage_lines {
                                    return Stop::Garbage { lines: bad_run, last: e.to_string() };
                                }
                            }
                        }
                    }
                    Ok(ReadEvent::TooLong) => {
                        bad_run += 1;
                        if bad_run > self.cfg.max_garbage_lines {
                            return Stop::Garbage {
                                lines: bad_run,
                                last: format!("a line longer than {MAX_LINE} bytes"),
                            };
                        }
                    }
                    Ok(ReadEvent::Eof) => {
                        // The sample in progress is whole: nettop prints one at once.
                        if let Some(block) = parser.finish() {
                            let wall = sample_wall.take().unwrap_or_else(Utc::now);
                            if let Err(stop) = self.emit(block, wall).await {
                                return stop;
                            }
                        }
                        return Stop::Eof;
                    }
                    Err(e) => return Stop::Read(e),
                },
                event = errs.next(), if errs_open => match event {
                    Ok(ReadEvent::Line) => {
                        let text = String::from_utf8_lossy(errs.line());
                        let text = text.trim();
                        if !text.is_empty() {
                            // A chatty nettop must not flood the log.
                            stderr_lines += 1;
                            if stderr_lines <= 5 {
                                tracing::warn!(stderr = %text, "nettop said");
                            } else {
                                tracing::debug!(stderr = %text, "nettop said");
                            }
                            *last_stderr = Some(text.chars().take(200).collect());
                        }
                    }
                    Ok(ReadEvent::TooLong) => {}
                    Ok(ReadEvent::Eof) | Err(_) => errs_open = false,
                },
                _ = tokio::time::sleep_until(wake_at) => {
                    if open_since.is_some_and(|t| t.elapsed() >= idle_gap) {
                        open_since = None;
                        let wall = sample_wall.take();
                        if let Some(block) = parser.finish() {
                            if let Err(stop) = self.emit(block, wall.unwrap_or_else(Utc::now)).await {
                                return stop;
                            }
                            last_progress = Instant::now();
                        }
                    }
                    if last_progress.elapsed() >= hang_after {
                        return Stop::Hung(last_progress.elapsed());
                    }
                }
            }
        }
    }

    /// One delta sample → one tick, published. `wall` is when the sample
    /// arrived, i.e. the end of the interval it covers.
    async fn emit(&mut self, block: Block, wall: DateTime<Utc>) -> Result<(), Stop> {
        let filter = &self.ctx.filter;
        let rows: Vec<&ProcessRow> = block
            .rows
            .iter()
            .filter(|r| r.bytes_in > 0 || r.bytes_out > 0)
            .filter(|r| filter.admits_process(&r.name, r.pid))
            .collect();
        let procs: Vec<(&str, u32)> = rows.iter().map(|r| (r.name.as_str(), r.pid)).collect();
        let apps = self.resolver.resolve(&procs).await;
        let totals = rows
            .iter()
            .zip(apps)
            .filter(|(_, app)| filter.admits_app(app))
            .map(|(r, app)| (app, (r.bytes_in, r.bytes_out)));
        let span = chrono::Duration::from_std(self.interval).unwrap_or(chrono::Duration::zero());
        let at = self.stamp.stamp(wall - span);
        let interval_s = u32::try_from(self.interval.as_secs_f64().round() as u64)
            .unwrap_or(u32::MAX)
            .max(1);
        let tick = Tick::from_totals(self.ctx.host.clone(), at, interval_s, totals);
        tokio::select! {
            biased;
            _ = self.ctx.shutdown.cancelled() => return Err(Stop::Shutdown),
            sent = self.out.publish(tick) => sent.map_err(Stop::Bus)?,
        }
        self.ctx.record_tick(at);
        self.child_ticks += 1;
        Ok(())
    }
}

/// Restart delays: `initial`, doubling up to `max`.
#[derive(Debug)]
struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max: max.max(initial),
            next: initial,
        }
    }

    fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = self.next.saturating_mul(2).min(self.max);
        d
    }

    fn reset(&mut self) {
        self.next = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let seq: Vec<u64> = (0..9).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(seq, vec![1, 2, 4, 8, 16, 32, 60, 60, 60]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_secs(1));
    }
}
