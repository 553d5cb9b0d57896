//! Stores: where ticks are kept, and the queries the rest of the system asks.
//!
//! Writes are idempotent: a tick is keyed by (host, ts) and its samples by
//! (host, app, ts), so a replayed or redelivered batch never counts twice. A
//! different tick that lands on a stored key is added to it, never dropped.

mod answer;
#[cfg(feature = "influx")]
pub mod influx;
pub mod sqlite;
pub mod timeline;

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, Secret};

use crate::intel::verdict::Status;
use crate::tick::Tick;

pub use timeline::{local_day_bounds, DayBounds};

/// The `[store]` section: the embedded store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// The SQLite database file.
    pub db: PathBuf,
    /// Days the embedded store keeps every tick (minute data) for; older
    /// days keep their hourly and daily sums for ever. 0: keep every tick.
    pub keep_minutes_days: u32,
}

/// A season of minute detail: the Today view's curves, exports by the
/// minute. At 50 apps a year of every minute is a 257 MB file, a year
/// keeping minutes for 90 days 81 MB (`scripts/bench`).
pub const DEFAULT_KEEP_MINUTES_DAYS: u32 = 90;

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            db: crate::paths::default_db(),
            keep_minutes_days: DEFAULT_KEEP_MINUTES_DAYS,
        }
    }
}

/// The `[influxdb]` section: where `--store influx` writes and reads
/// (InfluxDB's v1-compatible API).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InfluxDbConfig {
    /// e.g. "http://127.0.0.1:8086"; empty when InfluxDB is not used.
    pub url: String,
    /// The database (the bucket on InfluxDB 2.x).
    pub database: String,
    /// The API token (or `token_file`, or NBI_INFLUXDB__TOKEN). Never printed.
    pub token: Option<Secret>,
    pub token_file: Option<PathBuf>,
    /// Points per write request.
    pub batch_points: usize,
}

impl Default for InfluxDbConfig {
    fn default() -> Self {
        InfluxDbConfig {
            url: String::new(),
            database: "nbi".into(),
            token: None,
            token_file: None,
            batch_points: 5000,
        }
    }
}

impl InfluxDbConfig {
    /// The token: `token` itself, else the first line of `token_file`.
    ///
    /// Errors: the file cannot be read ([`ConfigError::Unreadable`]) or
    /// holds no token ([`ConfigError::Invalid`], naming the key).
    pub fn resolved_token(&self) -> Result<Option<Secret>, ConfigError> {
        if let Some(t) = self
            .token
            .as_ref()
            .filter(|t| !t.expose().trim().is_empty())
        {
            return Ok(Some(Secret::new(t.expose().trim())));
        }
        let Some(path) = &self.token_file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable {
            path: path.clone(),
            source,
        })?;
        let token = text.lines().next().unwrap_or("").trim().to_string();
        if token.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "key `influxdb.token_file`: {} holds no token",
                path.display()
            )));
        }
        Ok(Some(Secret::new(token)))
    }

    /// Checks the keys; an error names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let url = self.url.trim();
        if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ConfigError::Invalid(format!(
                "key `influxdb.url`: expected an http:// or https:// address such as \"http://127.0.0.1:8086\", found {url:?}"
            )));
        }
        if self.batch_points == 0 {
            return Err(ConfigError::Invalid(
                "key `influxdb.batch_points`: expected at least 1".into(),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Sqlite {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("database {path} is read-only: {reason}")]
    ReadOnly { path: String, reason: String },
    #[error("database {path} was written by a newer nbi (schema {found}, this build reads up to {supported})")]
    Schema {
        path: String,
        found: i64,
        supported: i64,
    },
    #[error("InfluxDB at {url} cannot be reached: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("InfluxDB at {url} answered {status}: {body}")]
    Http {
        url: String,
        status: u16,
        body: String,
    },
    #[error("database {path} is damaged: {what} cannot be read")]
    Corrupt { path: String, what: String },
    #[error("database {path} holds no nbi data yet")]
    NotInitialized { path: String },
    #[error("creating {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid query: {0}")]
    Query(String),
}

impl StoreError {
    /// Whether trying the same write again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Sqlite { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(
                    rusqlite::ErrorCode::DatabaseBusy
                        | rusqlite::ErrorCode::DatabaseLocked
                        | rusqlite::ErrorCode::DiskFull
                        | rusqlite::ErrorCode::SystemIoFailure
                        | rusqlite::ErrorCode::CannotOpen
                )
            ),
            StoreError::Io { .. } => true,
            // A read-only file may be made writable again by its owner.
            StoreError::ReadOnly { .. } => true,
            StoreError::NotInitialized { .. } | StoreError::Unreachable { .. } => true,
            // A 4xx other than 429 (bad line, missing database, bad token)
            // will never succeed by itself; a 5xx or 429 may.
            StoreError::Http { status, .. } => *status >= 500 || *status == 429,
            StoreError::Schema { .. } | StoreError::Query(_) | StoreError::Corrupt { .. } => false,
        }
    }
}

/// What one write did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WriteReport {
    /// Ticks stored now.
    pub ticks_written: usize,
    /// Ticks that were already stored (redelivered), left as they were.
    pub ticks_skipped: usize,
    /// Ticks that met a different tick already stored at the same host and
    /// second (two machines writing as one host, say), added to it.
    pub ticks_merged: usize,
    /// App samples stored now.
    pub samples_written: usize,
}

/// Which hosts a query covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostFilter {
    All,
    One(String),
}

impl HostFilter {
    pub fn name(&self) -> Option<&str> {
        match self {
            HostFilter::All => None,
            HostFilter::One(h) => Some(h),
        }
    }
}

/// Bytes of one app over some period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppTotal {
    pub app: String,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// One app's bytes in one local hour of one local day. On a day when clocks
/// go back, the repeated hour is summed into one `hour`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourlyUsage {
    pub day: NaiveDate,
    pub hour: u8,
    pub app: String,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// One app's bytes in one local day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyUsage {
    pub day: NaiveDate,
    pub app: String,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// Seconds of one local hour during which a watcher was running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourCoverage {
    pub day: NaiveDate,
    pub hour: u8,
    pub seconds: u32,
}

/// One app's curve over a local day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppCurve {
    pub app: String,
    pub bytes_in: Vec<u64>,
    pub bytes_out: Vec<u64>,
}

/// The curve of one local day: `buckets` steps of `step_minutes` from local
/// midnight (fewer or more than 24 h on DST days).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCurve {
    pub day: NaiveDate,
    pub step_minutes: u32,
    /// UTC start of the first bucket (local midnight).
    pub start: DateTime<Utc>,
    pub buckets: usize,
    pub apps: Vec<AppCurve>,
}

/// Summary of what a store holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreSummary {
    pub ticks: u64,
    pub samples: u64,
    /// Ticks added to a different tick already stored at the same host and
    /// second (each one beyond the first).
    #[serde(default)]
    pub merged_ticks: u64,
    pub hosts: Vec<String>,
    pub first_tick: Option<DateTime<Utc>>,
    pub last_tick: Option<DateTime<Utc>>,
    /// Minute data (the ticks themselves) is kept from here on; before it,
    /// only hourly sums (see `[store] keep_minutes_days`). `None`: all kept.
    #[serde(default)]
    pub minute_data_from: Option<DateTime<Utc>>,
    /// The database file's size in bytes (SQLite, with its write-ahead
    /// log); `None` for a server.
    #[serde(default)]
    pub file_bytes: Option<u64>,
}

/// A day's verdict as the store keeps it: the verdict itself as JSON (the
/// store does not interpret it) and the model it was reached with, so it can
/// be re-checked later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictRecord {
    pub host: String,
    pub day: NaiveDate,
    pub status: Status,
    pub judged_at: DateTime<Utc>,
    pub verdict_json: String,
    /// The trained model (safetensors bytes), when one was trained.
    pub model: Option<Vec<u8>>,
    /// Scale, threshold and columns of the model (JSON).
    pub model_meta: Option<String>,
    /// The owner said this day was normal: it may be used as baseline.
    pub marked_normal: bool,
}

/// The collector's side of a store: ticks in. Methods block: async
/// callers use `spawn_blocking`.
pub trait TickWriter: Send + 'static {
    /// Stores ticks atomically (all or none): a tick already stored as it
    /// is is skipped, a different one at a stored (host, second) is added
    /// to it.
    fn write(&mut self, ticks: &[Tick]) -> Result<WriteReport, StoreError>;

    /// Retention: deletes what is kept per tick before `before`, keeping
    /// the hourly and daily sums (history, the detector and export read
    /// those there). Returns the ticks deleted. A server with retention
    /// policies of its own (InfluxDB) keeps what they say and deletes
    /// nothing here.
    fn prune_minutes(&mut self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// What is asked about usage: totals, hours, curves, watched time.
pub trait UsageQuery: Send + 'static {
    /// Per-app totals of one local day, largest first.
    fn day_totals(
        &self,
        host: &HostFilter,
        day: NaiveDate,
        tz: Tz,
    ) -> Result<Vec<AppTotal>, StoreError>;

    /// Per-app bytes per local hour over the local days `from..=to`.
    fn hourly(
        &self,
        host: &HostFilter,
        from: NaiveDate,
        to: NaiveDate,
        tz: Tz,
    ) -> Result<Vec<HourlyUsage>, StoreError>;

    /// Watched seconds per local hour over the local days `from..=to`; hours
    /// absent from the result were not watched at all.
    fn coverage(
        &self,
        host: &HostFilter,
        from: NaiveDate,
        to: NaiveDate,
        tz: Tz,
    ) -> Result<Vec<HourCoverage>, StoreError>;

    /// The curve of one local day per app, at `step_minutes` (1–60) steps.
    fn day_curve(
        &self,
        host: &HostFilter,
        day: NaiveDate,
        tz: Tz,
        step_minutes: u32,
    ) -> Result<DayCurve, StoreError>;

    /// Per-app bytes per local day over the local days `from..=to`, by day
    /// then app; only days and apps with traffic. Stores without a daily
    /// roll-up in `tz` sum [`UsageQuery::hourly`].
    fn daily(
        &self,
        host: &HostFilter,
        from: NaiveDate,
        to: NaiveDate,
        tz: Tz,
    ) -> Result<Vec<DailyUsage>, StoreError> {
        Ok(answer::daily_from_hourly(self.hourly(host, from, to, tz)?))
    }

    /// Hands `f` every tick stored in the UTC range `[start, end)`, in time
    /// order (then by host). Where only hourly sums are kept (older than
    /// `[store] keep_minutes_days`), each hour comes as one tick of 3600 s.
    /// An error from `f` stops the walk and is returned.
    fn for_each_tick(
        &self,
        host: &HostFilter,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        f: &mut dyn FnMut(Tick) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;

    fn summary(&self) -> Result<StoreSummary, StoreError>;
}

/// The verdicts on days: written by the judge, marked by the owner.
pub trait VerdictStore: Send + 'static {
    /// Stores (or replaces) the verdict of `record.host`/`record.day`; an
    /// owner's "normal" mark on that day is kept.
    fn put_verdict(&mut self, record: &VerdictRecord) -> Result<(), StoreError>;

    /// Verdicts of the days `from..=to`, oldest first.
    fn verdicts(
        &self,
        host: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<VerdictRecord>, StoreError>;

    /// The verdict of one day, if it was judged.
    fn verdict(&self, host: &str, day: NaiveDate) -> Result<Option<VerdictRecord>, StoreError> {
        Ok(self
            .verdicts(host, day, day)?
            .into_iter()
            .find(|r| r.day == day))
    }

    /// The `limit` latest verdicts, newest first.
    fn recent_verdicts(&self, host: &str, limit: usize) -> Result<Vec<VerdictRecord>, StoreError> {
        // Far enough back for any history; stores with an index do better.
        let from = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(NaiveDate::MIN);
        let mut all = self.verdicts(host, from, NaiveDate::MAX)?;
        all.reverse();
        all.truncate(limit);
        Ok(all)
    }

    /// Marks a judged day as normal; false when the day has no verdict.
    fn mark_normal(&mut self, host: &str, day: NaiveDate) -> Result<bool, StoreError>;
}

/// A whole store, as SQLite and InfluxDB are: ticks, usage and verdicts.
pub trait Store: TickWriter + UsageQuery + VerdictStore {}

impl<T: TickWriter + UsageQuery + VerdictStore> Store for T {}

/// A store chosen at run time (SQLite or InfluxDB) is a store too.
impl TickWriter for Box<dyn Store> {
    fn write(&mut self, ticks: &[Tick]) -> Result<WriteReport, StoreError> {
        (**self).write(ticks)
    }
    fn prune_minutes(&mut self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        (**self).prune_minutes(before)
    }
}

impl UsageQuery for Box<dyn Store> {
    fn day_totals(
        &self,
        host: &HostFilter,
        day: NaiveDate,
        tz: Tz,
    ) -> Result<Vec<AppTotal>, StoreError> {
        (**self).day_totals(host, day, tz)
    }
    fn hourly(
        &self,
        host: &HostFilter,
        from: NaiveDate,
        to: NaiveDate,
        tz: Tz,
    ) -> Result<Vec<HourlyUsage>, StoreError> {
        (**self).hourly(host, from, to, tz)
    }
    fn coverage(
        &self,
        host: &HostFilter,
        from: NaiveDate,
        to: NaiveDate,
        tz: Tz,
    ) -> Result<Vec<HourCoverage>, StoreError> {
        (**self).coverage(host, from, to, tz)
    }
    fn day_curve(
        &self,
        host: &HostFilter,
        day: NaiveDate,
        tz: Tz,
        step_minutes: u32,
    ) -> Result<DayCurve, StoreError> {
        (**self).day_curve(host, day, tz, step_minutes)
    }
    fn daily(
        &self,
        host: &HostFilter,
        from: NaiveDate,
        to: NaiveDate,
        tz: Tz,
    ) -> Result<Vec<DailyUsage>, StoreError> {
        (**self).daily(host, from, to, tz)
    }
    fn for_each_tick(
        &self,
        host: &HostFilter,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        f: &mut dyn FnMut(Tick) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        (**self).for_each_tick(host, start, end, f)
    }
    fn summary(&self) -> Result<StoreSummary, StoreError> {
        (**self).summary()
    }
}

impl VerdictStore for Box<dyn Store> {
    fn put_verdict(&mut self, record: &VerdictRecord) -> Result<(), StoreError> {
        (**self).put_verdict(record)
    }
    fn verdict(&self, host: &str, day: NaiveDate) -> Result<Option<VerdictRecord>, StoreError> {
        (**self).verdict(host, day)
    }
    fn verdicts(
        &self,
        host: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<VerdictRecord>, StoreError> {
        (**self).verdicts(host, from, to)
    }
    fn recent_verdicts(&self, host: &str, limit: usize) -> Result<Vec<VerdictRecord>, StoreError> {
        (**self).recent_verdicts(host, limit)
    }
    fn mark_normal(&mut self, host: &str, day: NaiveDate) -> Result<bool, StoreError> {
        (**self).mark_normal(host, day)
    }
}
