//! The replay source: ticks from a file, for demos, imports and tests.
//!
//! Two formats, told apart by their first line: NDJSON ticks (the message
//! JSON of the design, one per line) and nettop CSV (its first block, which
//! is cumulative, dropped; nettop prints only the time of day, so a date is
//! needed).

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use super::context::{SourceContext, SourceError, SourceState};
use super::nettop::parse::{NettopParser, ParseOptions};
use crate::bus::Publisher;
use crate::lines::{BoundedLines, LineError};
use crate::tick::{bounds, Tick, TickDecoder};

/// What a replay file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Ndjson,
    NettopCsv,
}

/// How to read a file: the zone of its naive times (NDJSON messages in the
/// original format, nettop's time of day), and what a nettop CSV capture
/// does not say itself.
#[derive(Debug, Clone)]
pub struct CsvOptions {
    /// The local date of the capture (nettop prints only the time of day).
    pub date: Option<NaiveDate>,
    pub tz: Tz,
    pub host: String,
    /// Seconds between samples, when the capture has no time column.
    pub interval_s: u32,
    /// Drop the first block (cumulative in nettop's `-d` mode).
    pub drop_first_block: bool,
}

/// Reads ticks from a file, line by line; a bad line (not a tick, not
/// UTF-8, longer than [`bounds::MAX_LINE_BYTES`], beyond a tick's bounds)
/// is reported with its number and skipped, and the lines after it read.
pub struct TickReader {
    path: PathBuf,
    lines: BoundedLines<BufReader<File>>,
    line_no: usize,
    format: Format,
    csv: Option<CsvState>,
    decoder: TickDecoder<Tz>,
    peeked: Option<String>,
    /// Lines before the first good one that could not be read.
    bad_first: std::collections::VecDeque<SourceError>,
}

struct CsvState {
    parser: NettopParser,
    opts: CsvOptions,
    date: NaiveDate,
    blocks: u32,
    prev_time: Option<DateTime<Utc>>,
    done: bool,
}

impl TickReader {
    pub fn open(path: &Path, csv: Option<CsvOptions>) -> Result<TickReader, SourceError> {
        let io = |source| SourceError::Io {
            path: path.display().to_string(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let mut lines = BoundedLines::new(BufReader::new(file), bounds::MAX_LINE_BYTES);
        let mut line_no = 0;
        let mut first = None;
        let mut bad_first = std::collections::VecDeque::new();
        for line in lines.by_ref() {
            line_no += 1;
            match line {
                Ok(l) if l.trim().is_empty() => {}
                Ok(l) => {
                    first = Some(l);
                    break;
                }
                Err(LineError::Io(source)) => return Err(io(source)),
                Err(e) => bad_first.push_back(SourceError::Input {
                    path: path.display().to_string(),
                    line: line_no,
                    reason: e.to_string(),
                }),
            }
        }
        let format = match &first {
            // An empty file is an empty list of ticks, whatever its kind.
            None => Format::Ndjson,
            Some(l) if l.trim_start().starts_with('{') => Format::Ndjson,
            Some(_) => Format::NettopCsv,
        };
        let decoder = TickDecoder::new(csv.as_ref().map_or(crate::config::system_tz(), |c| c.tz));
        let csv = match format {
            Format::Ndjson => None,
            Format::NettopCsv => {
                let opts = csv.ok_or_else(|| SourceError::Input {
                    path: path.display().to_string(),
                    line: line_no,
                    reason: "this looks like nettop CSV, which needs options (a date)".into(),
                })?;
                let date = opts.date.ok_or_else(|| SourceError::Input {
                    path: path.display().to_string(),
                    line: line_no,
                    reason:
                        "nettop CSV holds only the time of day: give its date (--date YYYY-MM-DD)"
                            .into(),
                })?;
                Some(CsvState {
                    parser: NettopParser::new(ParseOptions {
                        drop_first_block: opts.drop_first_block,
                    }),
                    opts,
                    date,
                    blocks: 0,
                    prev_time: None,
                    done: false,
                })
            }
        };
        Ok(TickReader {
            path: path.to_path_buf(),
            lines,
            line_no: line_no.saturating_sub(1),
            format,
            csv,
            bad_first,
            decoder,
            peeked: first,
        })
    }

    pub fn format(&self) -> Format {
        self.format
    }

    fn next_line(&mut self) -> Option<Result<String, SourceError>> {
        if let Some(e) = self.bad_first.pop_front() {
            return Some(Err(e));
        }
        if let Some(l) = self.peeked.take() {
            self.line_no += 1;
            return Some(Ok(l));
        }
        let line = self.lines.next()?;
        self.line_no += 1;
        Some(line.map_err(|e| match e {
            LineError::Io(source) => SourceError::Io {
                path: self.path.display().to_string(),
                source,
            },
            e => self.input_error(e.to_string()),
        }))
    }

    fn input_error(&self, reason: String) -> SourceError {
        SourceError::Input {
            path: self.path.display().to_string(),
            line: self.line_no,
            reason,
        }
    }

    fn next_ndjson(&mut self) -> Option<Result<Tick, SourceError>> {
        loop {
            let line = match self.next_line()? {
                Ok(l) => l,
                Err(e) => return Some(Err(e)),
            };
            if line.trim().is_empty() {
                continue;
            }
            let decoded = self.decoder.decode(&line, None);
            return Some(decoded.map_err(|e| self.input_error(e.to_string())));
        }
    }

    fn next_csv(&mut self) -> Option<Result<Tick, SourceError>> {
        loop {
            let state = self.csv.as_mut()?;
            if state.done {
                return None;
            }
            let block = match self.next_line() {
                Some(Ok(line)) => {
                    // The corpus' own two header lines are not nettop output.
                    if line.starts_with("SOURCE:") || line.starts_with("NOTE:") {
                        continue;
                    }
                    let state = self.csv.as_mut()?;
                    match state.parser.feed_line(&line) {
                        Ok(Some(block)) => block,
                        Ok(None) => continue,
                        Err(e) => return Some(Err(self.input_error(e.to_string()))),
                    }
                }
                Some(Err(e)) => return Some(Err(e)),
                None => {
                    let state = self.csv.as_mut()?;
                    state.done = true;
                    state.parser.finish()?
                }
            };
            let state = self.csv.as_mut()?;
            let tick = state
                .tick(block)
                .and_then(|t| t.check().map(|()| t).map_err(|e| e.to_string()));
            return Some(tick.map_err(|reason| self.input_error(reason)));
        }
    }
}

impl CsvState {
    /// The tick of one sample. Errors: a capture that runs past the last
    /// date there is.
    fn tick(&mut self, block: super::nettop::parse::Block) -> Result<Tick, String> {
        let interval = i64::from(self.opts.interval_s.max(1));
        let past_the_end = || {
            format!(
                "the capture runs past the last date there is ({})",
                self.date
            )
        };
        let end = match block.time {
            Some(t) => {
                let naive = self.date.and_time(t);
                let mut end = self
                    .opts
                    .tz
                    .from_local_datetime(&naive)
                    .earliest()
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or_else(|| Utc.from_utc_datetime(&naive));
                // Past midnight the capture continues on the next day.
                if let Some(prev) = self.prev_time {
                    while end < prev {
                        end = end
                            .checked_add_signed(chrono::Duration::days(1))
                            .ok_or_else(past_the_end)?;
                    }
                }
                end
            }
            None => {
                let start = crate::store::local_day_bounds(self.date, self.opts.tz).start;
                interval
                    .checked_mul(i64::from(self.blocks) + 1)
                    .and_then(chrono::Duration::try_seconds)
                    .and_then(|d| start.checked_add_signed(d))
                    .ok_or_else(past_the_end)?
            }
        };
        let interval_s = match self.prev_time {
            Some(prev) if end > prev => (end - prev).num_seconds().clamp(1, 3600) as u32,
            _ => self.opts.interval_s.max(1),
        };
        self.prev_time = Some(end);
        self.blocks += 1;
        let at = end - chrono::Duration::seconds(i64::from(interval_s));
        Ok(Tick::from_flows(
            self.opts.host.clone(),
            at,
            interval_s,
            // What an interface was on when the capture was made is not
            // known now: networks are named by their interface alone.
            block.rows.into_iter().map(|r| crate::tick::AppFlows {
                to: r.destinations(),
                net: r.networks(|i| crate::network::by_interface_name(i).map(|s| s.id)),
                flow: crate::tick::Flow::new(r.bytes_in, r.bytes_out),
                app: r.name,
            }),
        ))
    }
}

impl Iterator for TickReader {
    type Item = Result<Tick, SourceError>;
    fn next(&mut self) -> Option<Self::Item> {
        match self.format {
            Format::Ndjson => self.next_ndjson(),
            Format::NettopCsv => self.next_csv(),
        }
    }
}

/// How a replay is paced.
#[derive(Debug, Clone)]
pub struct ReplayConfig {
    pub path: PathBuf,
    pub csv: Option<CsvOptions>,
    /// Time compression: 60 plays a minute-per-tick file at one tick a
    /// second; 0 plays as fast as the bus takes it.
    pub speed: f64,
}

pub struct ReplaySource {
    cfg: ReplayConfig,
}

/// What a replay did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayReport {
    pub ticks: u64,
    pub bad_lines: u64,
}

impl ReplaySource {
    pub fn new(cfg: ReplayConfig) -> ReplaySource {
        ReplaySource { cfg }
    }

    /// Publishes every tick of the file, paced by `speed`, then reports
    /// `Finished`. Bad lines are logged with their line number and skipped.
    pub async fn run<P: Publisher>(
        self,
        ctx: SourceContext,
        out: P,
    ) -> Result<ReplayReport, SourceError> {
        let path = self.cfg.path.clone();
        let csv = self.cfg.csv.clone();
        let reader = tokio::task::spawn_blocking(move || TickReader::open(&path, csv))
            .await
            .map_err(|e| SourceError::Unavailable(e.to_string()))??;
        ctx.set_state(SourceState::Watching);
        let mut report = ReplayReport::default();
        // Reading is blocking file I/O: a thread feeds a small channel.
        let (tx, mut rx) = tokio::sync::mpsc::channel(256);
        let feeder = tokio::task::spawn_blocking(move || {
            for item in reader {
                if tx.blocking_send(item).is_err() {
                    break;
                }
            }
        });
        while let Some(item) = tokio::select! {
            biased;
            _ = ctx.shutdown.cancelled() => None,
            item = rx.recv() => item,
        } {
            match item {
                Ok(tick) => {
                    let at = tick.at;
                    let pause = if self.cfg.speed > 0.0 {
                        Duration::from_secs_f64(f64::from(tick.interval_s) / self.cfg.speed)
                    } else {
                        Duration::ZERO
                    };
                    let (counted, _) = ctx.counting.apply(tick);
                    out.publish(counted).await?;
                    ctx.record_tick(at);
                    report.ticks += 1;
                    if !pause.is_zero() {
                        tokio::select! {
                            _ = ctx.shutdown.cancelled() => break,
                            _ = tokio::time::sleep(pause) => {}
                        }
                    }
                }
                Err(e @ SourceError::Input { .. }) => {
                    tracing::warn!(error = %e, "skipping a line that is not a tick");
                    report.bad_lines += 1;
                }
                Err(e) => return Err(e),
            }
        }
        drop(rx);
        let _ = feeder.await;
        ctx.set_state(if ctx.shutdown.is_cancelled() {
            SourceState::Stopped
        } else {
            SourceState::Finished
        });
        Ok(report)
    }
}
