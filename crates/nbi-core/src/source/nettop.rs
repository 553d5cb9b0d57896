//! The nettop source (macOS): one long-running
//! `nettop -P -d -x -n -L 0 -s <interval> -J time,bytes_in,bytes_out -t external`,
//! read as a stream; each delta sample becomes one [`Tick`]
//! (`-t external` leaves loopback out; it is dropped when loopback counts).
//!
//! nettop writes to a pseudo-terminal, so every line arrives as it is
//! printed (`child` says why and how). A sample ends at the next header,
//! or, on the terminal, when nettop has been quiet for a short gap (it
//! prints a sample at once, so there is no need to wait a whole interval);
//! rows of a sample that come after such a gap are published with that
//! sample's time. From a pipe (no terminal to be had) only the next header
//! ends a sample. A sample's time is nettop's own `time` column, not its
//! arrival, so output that comes late still lands in its interval.
//!
//! A nettop that exits, prints nothing at all for too long (three
//! intervals on a terminal; far longer from a pipe, whose output may come
//! in bursts) or prints garbage is restarted with exponential backoff and
//! the reason shows in the source's status.

mod child;
pub mod identity;
pub mod parse;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, NaiveTime, Utc};
use tokio::io::AsyncRead;
use tokio::time::Instant;

use self::child::Channel;
use self::identity::AppResolver;
pub use self::parse::{parse_str, Block, NettopParser, ParseError, ParseOptions, ProcessRow};
use super::context::{MonotonicStamp, SourceContext, SourceError, SourceState};
use crate::bus::{BusError, Publisher};
use crate::counting::Process;
use crate::lines::{LineReader, ReadEvent};
use crate::tick::{AppFlows, Flow, NetworkId, Tick};

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
    /// nettop is taken as hung after this many intervals without any
    /// output (from a terminal; see `pipe_quiet_limit`).
    pub hang_intervals: u32,
    /// nettop is restarted after more than this many unparseable lines in
    /// a row.
    pub max_garbage_lines: u32,
    /// First restart delay, doubled after each failure up to `backoff_max`.
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// A nettop that ran this long and produced ticks resets the backoff.
    pub healthy_after: Duration,
    /// Read nettop through a pseudo-terminal (else a pipe, which may
    /// deliver its output late and in bursts).
    pub terminal: bool,
    /// From a pipe, nettop is taken as hung only after this long without a
    /// byte (at least `hang_intervals` intervals): its stdio may hold
    /// several samples back.
    pub pipe_quiet_limit: Duration,
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
            terminal: true,
            pipe_quiet_limit: Duration::from_secs(30 * 60),
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

/// The sample a tick was last published for: rows of it that arrive after
/// its tick (a quiet gap came in the middle) go out as a second tick with
/// the same time, which the store adds to the first.
#[derive(Debug, Clone, Copy)]
struct Published {
    sample: u64,
    at: DateTime<Utc>,
}

/// What ended a sample.
#[derive(Debug, Clone, Copy)]
enum Closed {
    /// The next sample's first line, which came at this time.
    ByNext(DateTime<Utc>),
    /// The end of nettop's output.
    AtEnd,
    /// A quiet moment after its last row (on a terminal).
    Quiet,
}

/// How far nettop's `time` column may be from when its sample arrived
/// before it is taken as not UTC (a nettop that ignored `TZ`): on a
/// terminal a sample arrives at once; from a pipe it may be late, never
/// early.
const TERMINAL_TIME_SLACK: Duration = Duration::from_secs(120);
const PIPE_TIME_SLACK: Duration = Duration::from_secs(5);

impl<P: Publisher> Session<'_, P> {
    /// Starts one nettop, turns its samples into ticks until it fails or we
    /// stop, and leaves no process behind.
    async fn run_child(&mut self) -> Ended {
        self.child_ticks = 0;
        let program = &self.cfg.program;
        let ask = child::Ask {
            loopback: self.ctx.counting.counts_loopback(),
            // Socket rows carry each socket's interface, which networks
            // need whether destinations are kept or not.
            sockets: true,
        };
        let spawned = match child::spawn(program, self.interval, ask, self.cfg.terminal) {
            Ok(c) => c,
            Err(e) => {
                return Ended::Failed(format!("could not start {}: {e}", program.display()));
            }
        };
        let child::Spawned {
            child: mut nettop,
            stdout,
            stderr,
            channel,
            ..
        } = spawned;
        let pid = nettop.id();
        tracing::info!(pid, program = %program.display(), ?channel, "nettop started");
        if let (Some(path), Some(pid)) = (&self.cfg.pid_file, pid) {
            if let Err(e) = child::write_pid_file(path, pid) {
                tracing::warn!(path = %path.display(), error = %e, "could not write the nettop pid file");
            }
        }
        let mut last_stderr = None;
        let stop = self.read(stdout, stderr, channel, &mut last_stderr).await;
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
                "nettop printed nothing at all for {:.1} s",
                quiet.as_secs_f64()
            )),
            Stop::Garbage { lines, last } => Ended::Failed(format!(
                "nettop printed {lines} unparseable lines in a row (last: {last})"
            )),
            Stop::Read(e) => Ended::Failed(format!("reading nettop's output failed: {e}")),
        }
    }

    /// How long nettop may print nothing at all before it is taken as hung.
    /// On a terminal it prints every interval; from a pipe its output may
    /// come in bursts far apart, and late output is not a hang.
    fn quiet_limit(&self, channel: Channel) -> Duration {
        let intervals = self.interval * self.cfg.hang_intervals.clamp(1, 10_000);
        match channel {
            Channel::Terminal => intervals,
            Channel::Pipe => intervals.max(self.cfg.pipe_quiet_limit),
        }
    }

    async fn read(
        &mut self,
        stdout: impl AsyncRead + Unpin,
        stderr: impl AsyncRead + Unpin,
        channel: Channel,
        last_stderr: &mut Option<String>,
    ) -> Stop {
        let mut lines = LineReader::new(stdout, MAX_LINE);
        let mut errs = LineReader::new(stderr, MAX_LINE);
        let mut errs_open = true;
        let mut parser = NettopParser::new(ParseOptions {
            drop_first_block: true,
        });
        let quiet_limit = self.quiet_limit(channel);
        // Only where lines arrive as printed does a quiet moment end a
        // sample; from a pipe only the next header does.
        let idle_gap = match channel {
            Channel::Terminal => Some(self.cfg.idle_gap.min(self.interval / 4)),
            Channel::Pipe => None,
        };
        let mut clock = SampleClock::new(channel);
        let mut last_output = Instant::now();
        // When the last row came, while a sample may still be open.
        let mut open_since: Option<Instant> = None;
        // When the open sample's first line came.
        let mut arrived: Option<DateTime<Utc>> = None;
        let mut published: Option<Published> = None;
        let mut bad_run: u32 = 0;
        let mut stderr_lines: u32 = 0;
        loop {
            let hang_at = last_output + quiet_limit;
            let wake_at = match (open_since, idle_gap) {
                (Some(t), Some(gap)) => (t + gap).min(hang_at),
                _ => hang_at,
            };
            // A sample ends when the next one's first line comes, when
            // nettop's output ends, or (on a terminal) after a quiet moment.
            let closed: Option<(Block, u64, Closed)> = tokio::select! {
                biased;
                _ = self.ctx.shutdown.cancelled() => return Stop::Shutdown,
                event = lines.next() => {
                    last_output = Instant::now();
                    match event {
                        Ok(ReadEvent::Line) => {
                            let now = Utc::now();
                            let text = String::from_utf8_lossy(lines.line());
                            let sample = parser.sample_no();
                            match parser.feed_line(&text) {
                                Ok(_) if text.trim().is_empty() => {
                                    bad_run = 0;
                                    None
                                }
                                Ok(block) => {
                                    bad_run = 0;
                                    open_since = Some(Instant::now());
                                    arrived.get_or_insert(now);
                                    block.map(|b| (b, sample, Closed::ByNext(now)))
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
                                    None
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
                            None
                        }
                        Ok(ReadEvent::Eof) => {
                            // The sample in progress is whole: nettop prints one at once.
                            let sample = parser.sample_no();
                            match parser.finish() {
                                Some(b) => Some((b, sample, Closed::AtEnd)),
                                None => return Stop::Eof,
                            }
                        }
                        Err(e) => return Stop::Read(e),
                    }
                },
                event = errs.next(), if errs_open => {
                    match event {
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
                    }
                    None
                },
                _ = tokio::time::sleep_until(wake_at) => {
                    let gap_passed = idle_gap.is_some_and(|gap| open_since.is_some_and(|t| t.elapsed() >= gap));
                    let sample = parser.sample_no();
                    match gap_passed.then(|| parser.finish()).flatten() {
                        Some(b) => Some((b, sample, Closed::Quiet)),
                        None => {
                            if gap_passed {
                                open_since = None;
                                arrived = None;
                            }
                            if last_output.elapsed() >= quiet_limit {
                                return Stop::Hung(last_output.elapsed());
                            }
                            None
                        }
                    }
                }
            };
            let Some((block, sample, why)) = closed else {
                continue;
            };
            // The one path a sample ends by: stamped, emitted.
            let at = clock.at(
                &block,
                arrived.take().unwrap_or_else(Utc::now),
                self.interval,
            );
            if let Err(stop) = self.emit(block, sample, at, &mut published).await {
                return stop;
            }
            // Time spent on the bus is not nettop's silence.
            last_output = Instant::now();
            match why {
                // The line that ended it is the next sample's first.
                Closed::ByNext(now) => {
                    open_since = Some(last_output);
                    arrived = Some(now);
                }
                Closed::AtEnd => return Stop::Eof,
                Closed::Quiet => open_since = None,
            }
        }
    }

    /// The network of each interface the rows' sockets used. Asking the
    /// OS may take a moment (a command, a D-Bus call): off the runtime's
    /// threads.
    async fn networks_of(&self, rows: &[&ProcessRow]) -> HashMap<String, NetworkId> {
        let interfaces: BTreeSet<String> = rows
            .iter()
            .flat_map(|r| r.sockets.iter())
            // An idle socket's interface is not a network in use.
            .filter(|s| !s.interface.is_empty() && (s.bytes_in > 0 || s.bytes_out > 0))
            .map(|s| s.interface.clone())
            .collect();
        if interfaces.is_empty() {
            return HashMap::new();
        }
        let watch = self.ctx.networks.clone();
        tokio::task::spawn_blocking(move || {
            let names: Vec<&str> = interfaces.iter().map(String::as_str).collect();
            watch.resolve(&names)
        })
        .await
        .unwrap_or_default()
    }

    /// One delta sample (or the late rest of one) → one tick, published.
    async fn emit(
        &mut self,
        block: Block,
        sample: u64,
        at: DateTime<Utc>,
        published: &mut Option<Published>,
    ) -> Result<(), Stop> {
        let counting = &self.ctx.counting;
        let rows: Vec<&ProcessRow> = block
            .rows
            .iter()
            .filter(|r| r.bytes_in > 0 || r.bytes_out > 0)
            .collect();
        let procs: Vec<(&str, u32)> = rows.iter().map(|r| (r.name.as_str(), r.pid)).collect();
        let identities = self.resolver.resolve(&procs).await;
        let networks = self.networks_of(&rows).await;
        let totals = rows
            .iter()
            .zip(identities)
            .filter(|(r, id)| {
                counting
                    .judge_process(&Process {
                        name: &r.name,
                        app: &id.app,
                        exe: id.exe.as_deref(),
                        uid: None,
                    })
                    .is_ok()
            })
            .map(|(r, id)| AppFlows {
                app: id.app,
                flow: Flow::new(r.bytes_in, r.bytes_out),
                to: if counting.keeps_destinations() {
                    r.destinations()
                } else {
                    Default::default()
                },
                net: r.networks(|i| networks.get(i).cloned()),
            });
        // The rest of a sample already published keeps its time.
        let at = match published {
            Some(p) if p.sample == sample => p.at,
            _ => self.stamp.stamp(at),
        };
        let interval_s = u32::try_from(self.interval.as_secs_f64().round() as u64)
            .unwrap_or(u32::MAX)
            .max(1);
        let tick = Tick::from_flows(self.ctx.host.clone(), at, interval_s, totals);
        tokio::select! {
            biased;
            _ = self.ctx.shutdown.cancelled() => return Err(Stop::Shutdown),
            sent = self.out.publish(tick) => sent.map_err(Stop::Bus)?,
        }
        *published = Some(Published { sample, at });
        self.ctx.record_tick(at);
        self.child_ticks += 1;
        Ok(())
    }
}

/// When a sample was taken: nettop's own `time` column (UTC, as nettop
/// runs with `TZ=UTC`) on the day that puts it nearest to when the sample
/// arrived, else the arrival itself. A tick starts one interval before.
#[derive(Debug)]
struct SampleClock {
    channel: Channel,
    /// False once the column proved not to be UTC: arrival times then.
    trusted: bool,
}

impl SampleClock {
    fn new(channel: Channel) -> SampleClock {
        SampleClock {
            channel,
            trusted: true,
        }
    }

    fn at(&mut self, block: &Block, arrived: DateTime<Utc>, interval: Duration) -> DateTime<Utc> {
        let span = chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::zero());
        let taken = match block.time.filter(|_| self.trusted) {
            Some(t) => {
                let at = nearest_instant(t, arrived);
                let ahead = at - arrived;
                let slack = |d: Duration| chrono::Duration::from_std(d).unwrap_or_default();
                let off = match self.channel {
                    Channel::Terminal => ahead.abs() > slack(TERMINAL_TIME_SLACK),
                    Channel::Pipe => ahead > slack(PIPE_TIME_SLACK),
                };
                if off {
                    self.trusted = false;
                    tracing::warn!(time = %t, arrived = %arrived, "nettop's time column is not UTC; timing samples by their arrival");
                    arrived
                } else {
                    at
                }
            }
            None => arrived,
        };
        taken - span
    }
}

/// The instant of UTC time of day `t` nearest to `near`.
fn nearest_instant(t: NaiveTime, near: DateTime<Utc>) -> DateTime<Utc> {
    let day = near.date_naive();
    [day.pred_opt(), Some(day), day.succ_opt()]
        .into_iter()
        .flatten()
        .map(|d| d.and_time(t).and_utc())
        .min_by_key(|c| (*c - near).abs())
        .unwrap_or(near)
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

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_time_of_day_lands_on_the_day_nearest_its_arrival() {
        let t = |s: &str| NaiveTime::parse_from_str(s, "%H:%M:%S%.f").unwrap();
        assert_eq!(
            nearest_instant(t("10:00:00.5"), utc("2026-07-11T10:00:01Z")),
            utc("2026-07-11T10:00:00.5Z")
        );
        // Printed just before midnight, read just after.
        assert_eq!(
            nearest_instant(t("23:59:59.9"), utc("2026-07-12T00:00:02Z")),
            utc("2026-07-11T23:59:59.9Z")
        );
        assert_eq!(
            nearest_instant(t("00:00:00.1"), utc("2026-07-11T23:59:58Z")),
            utc("2026-07-12T00:00:00.1Z")
        );
    }

    fn block_at(time: &str) -> Block {
        Block {
            time: NaiveTime::parse_from_str(time, "%H:%M:%S%.f").ok(),
            rows: Vec::new(),
        }
    }

    #[test]
    fn a_sample_is_timed_by_nettop_not_by_its_arrival() {
        let minute = Duration::from_secs(60);
        // From a pipe, a sample may come minutes late: its own time counts.
        let mut pipe = SampleClock::new(Channel::Pipe);
        assert_eq!(
            pipe.at(&block_at("10:00:00.2"), utc("2026-07-11T10:07:30Z"), minute),
            utc("2026-07-11T09:59:00.2Z")
        );
        // No time column: the arrival.
        assert_eq!(
            pipe.at(&Block::default(), utc("2026-07-11T10:07:30Z"), minute),
            utc("2026-07-11T10:06:30Z")
        );
        // A time ahead of its arrival is not UTC: arrivals from then on.
        assert_eq!(
            pipe.at(&block_at("12:00:00"), utc("2026-07-11T10:00:00Z"), minute),
            utc("2026-07-11T09:59:00Z")
        );
        assert_eq!(
            pipe.at(&block_at("10:00:00"), utc("2026-07-11T10:05:00Z"), minute),
            utc("2026-07-11T10:04:00Z"),
            "distrusted for the rest of this nettop's life"
        );
        // On a terminal a sample arrives at once; two hours off is a zone.
        let mut terminal = SampleClock::new(Channel::Terminal);
        assert_eq!(
            terminal.at(&block_at("10:00:00"), utc("2026-07-11T10:00:00.3Z"), minute),
            utc("2026-07-11T09:59:00Z")
        );
        assert_eq!(
            terminal.at(&block_at("08:00:00"), utc("2026-07-11T10:00:00Z"), minute),
            utc("2026-07-11T09:59:00Z")
        );
    }

    #[test]
    fn backoff_doubles_to_its_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let seq: Vec<u64> = (0..9).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(seq, vec![1, 2, 4, 8, 16, 32, 60, 60, 60]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_secs(1));
    }
}
