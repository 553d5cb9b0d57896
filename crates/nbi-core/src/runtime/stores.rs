//! The process's connections to its store: one writer, shared by the
//! collector and the judge, and read-only readers for everything that only
//! reads (the window, `nbi today`, the judge's own reading). With SQLite a
//! reader never takes the write lock, so a window refresh never waits for
//! (or holds up) the collector.

use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::store::{
    AppTotal, DailyUsage, DayCurve, HostFilter, HourCoverage, HourlyUsage, Store, StoreError,
    StoreSummary, TickWriter, UsageQuery, VerdictRecord, VerdictStore, WriteReport,
};
use crate::tick::Tick;

/// Opens one more connection of a kind.
pub type Opener = Arc<dyn Fn() -> Result<Box<dyn Store>, StoreError> + Send + Sync>;

/// The one connection that writes: ticks (the collector) and verdicts (the
/// judge, the owner's marks). Methods block: async callers use
/// `spawn_blocking`.
#[derive(Clone)]
pub struct Writer(Arc<Mutex<Box<dyn Store>>>);

impl Writer {
    pub fn new(store: Box<dyn Store>) -> Writer {
        Writer(Arc::new(Mutex::new(store)))
    }

    /// The connection, held for the caller's writes.
    pub fn lock(&self) -> MutexGuard<'_, Box<dyn Store>> {
        // A panic while writing rolled its transaction back: the
        // connection is still good.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl TickWriter for Writer {
    fn write(&mut self, ticks: &[Tick]) -> Result<WriteReport, StoreError> {
        self.lock().write(ticks)
    }
    fn prune_minutes(&mut self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.lock().prune_minutes(before)
    }
}

/// Read-only connections, opened as needed and kept for the next reader.
#[derive(Clone)]
pub struct Readers {
    open: Opener,
    idle: Arc<Mutex<Vec<Box<dyn Store>>>>,
}

/// Idle readers kept open at most.
const IDLE_READERS: usize = 4;

impl Readers {
    pub fn new(open: Opener) -> Readers {
        Readers {
            open,
            idle: Arc::default(),
        }
    }

    /// Runs `f` on a read-only connection (blocking).
    pub fn with<T>(&self, f: impl FnOnce(&dyn Store) -> T) -> Result<T, StoreError> {
        let conn = self.take()?;
        let out = f(&*conn);
        self.put_back(conn);
        Ok(out)
    }

    /// An idle connection, or a new one.
    fn take(&self) -> Result<Box<dyn Store>, StoreError> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match idle {
            Some(c) => Ok(c),
            None => (self.open)(),
        }
    }

    fn put_back(&self, conn: Box<dyn Store>) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
    }
}

/// The writer and the readers of one store.
#[derive(Clone)]
pub struct Stores {
    pub writer: Writer,
    pub readers: Readers,
}

impl Stores {
    /// Runs `f` on a store that reads through a reader and writes through
    /// the writer: what judging a day needs (much reading, one verdict
    /// written).
    pub fn with_judge<T>(&self, f: impl FnOnce(&mut Judge) -> T) -> Result<T, StoreError> {
        let mut judge = Judge {
            reader: self.readers.take()?,
            writer: self.writer.clone(),
        };
        let out = f(&mut judge);
        self.readers.put_back(judge.reader);
        Ok(out)
    }
}

/// A reader and the writer as one [`Store`]: reads never take the write
/// lock, writes go through the one writer.
pub struct Judge {
    reader: Box<dyn Store>,
    writer: Writer,
}

impl TickWriter for Judge {
    fn write(&mut self, ticks: &[Tick]) -> Result<WriteReport, StoreError> {
        self.writer.lock().write(ticks)
    }
    fn prune_minutes(&mut self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.writer.lock().prune_minutes(before)
    }
}

impl UsageQuery for Judge {
    fn day_totals(
        &self,
        host: &HostFilter,
        day: NaiveDate,
        tz: Tz,
    ) -> Result<Vec<AppTotal>, StoreError> {
        self.reader.day_totals(host, day, tz)
    }
    fn hourly(
        &self,
        host: &HostFilter,
        from: NaiveDate,
        to: NaiveDate,
        tz: Tz,
    ) -> Result<Vec<HourlyUsage>, StoreError> {
        self.reader.hourly(host, from, to, tz)
    }
    fn coverage(
        &self,
        host: &HostFilter,
        from: NaiveDate,
        to: NaiveDate,
        tz: Tz,
    ) -> Result<Vec<HourCoverage>, StoreError> {
        self.reader.coverage(host, from, to, tz)
    }
    fn day_curve(
        &self,
        host: &HostFilter,
        day: NaiveDate,
        tz: Tz,
        step_minutes: u32,
    ) -> Result<DayCurve, StoreError> {
        self.reader.day_curve(host, day, tz, step_minutes)
    }
    fn daily(
        &self,
        host: &HostFilter,
        from: NaiveDate,
        to: NaiveDate,
        tz: Tz,
    ) -> Result<Vec<DailyUsage>, StoreError> {
        self.reader.daily(host, from, to, tz)
    }
    fn for_each_tick(
        &self,
        host: &HostFilter,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        f: &mut dyn FnMut(Tick) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.reader.for_each_tick(host, start, end, f)
    }
    fn summary(&self) -> Result<StoreSummary, StoreError> {
        self.reader.summary()
    }
}

impl VerdictStore for Judge {
    fn put_verdict(&mut self, record: &VerdictRecord) -> Result<(), StoreError> {
        self.writer.lock().put_verdict(record)
    }
    fn verdicts(
        &self,
        host: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<VerdictRecord>, StoreError> {
        self.reader.verdicts(host, from, to)
    }
    fn recent_verdicts(&self, host: &str, limit: usize) -> Result<Vec<VerdictRecord>, StoreError> {
        self.reader.recent_verdicts(host, limit)
    }
    fn mark_normal(&mut self, host: &str, day: NaiveDate) -> Result<bool, StoreError> {
        self.writer.lock().mark_normal(host, day)
    }
}
