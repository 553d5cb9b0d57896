//! Stores: where ticks are kept, and the queries the rest of the system asks.
//!
//! Writes are idempotent: a tick is keyed by (host, ts) and its samples by
//! (host, app, ts), so a replayed or redelivered batch never counts twice. A
//! different tick that lands on a stored key is added to it, never dropped.

pub(crate) mod answer;
mod config;
pub mod connections;
mod error;
#[cfg(feature = "influx")]
pub mod influx;
pub mod sqlite;
pub mod timeline;
mod usage;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::tick::Tick;

pub use config::{InfluxDbConfig, StoreConfig, DEFAULT_KEEP_MINUTES_DAYS};
pub use error::StoreError;
pub use timeline::{local_day_bounds, DayBounds};
pub use usage::{
    AppCurve, AppTotal, DailyNetwork, DailyUsage, DayCurve, DestinationTotal, HostFilter,
    HourCoverage, HourlyDestination, HourlyNetwork, HourlyUsage, NetworkRecord, StoreSummary,
    VerdictRecord, WriteReport,
};

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

    /// Per app and remote address, the bytes of the local days
    /// `from..=to`, largest first; `app` keeps one app. Empty where the
    /// sources gave no destinations.
    fn destinations(
        &self,
        host: &HostFilter,
        from: NaiveDate,
        to: NaiveDate,
        tz: Tz,
        app: Option<&str>,
    ) -> Result<Vec<DestinationTotal>, StoreError>;

    /// Per local hour, app and remote address, the bytes of the local days
    /// `from..=to`. Hours are the UTC hours they are kept in, placed at the
    /// local hour they start in (in a zone off whole hours by 30 or 45
    /// minutes a destination's hour straddles two local ones).
    fn hourly_destinations(
        &self,
        host: &HostFilter,
        from: NaiveDate,
        to: NaiveDate,
        tz: Tz,
    ) -> Result<Vec<HourlyDestination>, StoreError>;

    /// Per local hour, app and network, the bytes of the local days
    /// `from..=to` (hours placed as [`UsageQuery::hourly_destinations`]).
    /// Empty where the sources gave no networks.
    fn hourly_networks(
        &self,
        host: &HostFilter,
        from: NaiveDate,
        to: NaiveDate,
        tz: Tz,
    ) -> Result<Vec<HourlyNetwork>, StoreError>;

    /// Per local day, app and network, the bytes of the local days
    /// `from..=to`, by day, app, network. Stores without a daily roll-up in
    /// `tz` sum [`UsageQuery::hourly_networks`].
    fn daily_networks(
        &self,
        host: &HostFilter,
        from: NaiveDate,
        to: NaiveDate,
        tz: Tz,
    ) -> Result<Vec<DailyNetwork>, StoreError> {
        Ok(answer::daily_networks_from_hourly(
            self.hourly_networks(host, from, to, tz)?,
        ))
    }

    /// The networks table: every network bytes went over or the OS or the
    /// owner named, by id.
    fn networks(&self) -> Result<Vec<NetworkRecord>, StoreError>;
}

/// The owner's and the OS's word on networks, kept beside the usage.
pub trait NetworkBook: Send + 'static {
    /// Records what the OS said of networks (their names and metered
    /// flags), keeping what the owner said.
    fn record_sightings(&mut self, seen: &[crate::network::Sighting]) -> Result<(), StoreError>;

    /// The owner's name for `id` (`None`: back to the OS's).
    fn name_network(
        &mut self,
        id: &crate::tick::NetworkId,
        name: Option<&str>,
    ) -> Result<(), StoreError>;

    /// The owner's word on whether `id` is metered (`None`: back to the
    /// OS's).
    fn set_network_metered(
        &mut self,
        id: &crate::tick::NetworkId,
        metered: Option<bool>,
    ) -> Result<(), StoreError>;
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

/// A whole store, as SQLite and InfluxDB are: ticks, usage, verdicts and
/// networks.
pub trait Store: TickWriter + UsageQuery + VerdictStore + NetworkBook {}

impl<T: TickWriter + UsageQuery + VerdictStore + NetworkBook> Store for T {}
