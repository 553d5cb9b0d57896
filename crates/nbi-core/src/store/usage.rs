//! What stores hold and answer: usage by app over hours, days and curves,
//! watched time, summaries, and verdicts as they are kept.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::intel::status::Status;
use crate::tick::NetworkId;

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

/// One app's bytes to one remote address over a range of days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestinationTotal {
    pub app: String,
    pub address: std::net::IpAddr,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// One app's bytes to one remote address in one local hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourlyDestination {
    pub day: NaiveDate,
    pub hour: u8,
    pub app: String,
    pub address: std::net::IpAddr,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// One app's bytes over one network in one local hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourlyNetwork {
    pub day: NaiveDate,
    pub hour: u8,
    pub app: String,
    pub network: NetworkId,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// One app's bytes over one network in one local day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyNetwork {
    pub day: NaiveDate,
    pub app: String,
    pub network: NetworkId,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// A network as the networks table keeps it: what the OS said of it, what
/// its owner said, and when bytes went over it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRecord {
    pub id: NetworkId,
    /// The OS's name for it (a Wi-Fi name, a connection's name).
    pub os_name: Option<String>,
    /// Whether the OS said it is metered; `None`: it did not say.
    pub os_metered: Option<bool>,
    /// The owner's name for it (`nbi networks name`).
    pub owner_name: Option<String>,
    /// The owner's word on metered (`nbi networks metered`), over the OS's.
    pub owner_metered: Option<bool>,
    /// The start of the first tick with bytes over it, the end of the last.
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
}

impl NetworkRecord {
    /// A network known by its id alone.
    pub fn new(id: NetworkId) -> NetworkRecord {
        NetworkRecord {
            id,
            os_name: None,
            os_metered: None,
            owner_name: None,
            owner_metered: None,
            first_seen: None,
            last_seen: None,
        }
    }

    /// The owner's name, else the OS's, else one made from the id
    /// ([`crate::network::ids::name_of_id`]).
    pub fn name(&self) -> String {
        self.owner_name
            .clone()
            .or_else(|| self.os_name.clone())
            .unwrap_or_else(|| crate::network::ids::name_of_id(&self.id))
    }

    /// The owner's word, else the OS's; not metered when neither said.
    pub fn metered(&self) -> bool {
        self.owner_metered.or(self.os_metered).unwrap_or(false)
    }
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
