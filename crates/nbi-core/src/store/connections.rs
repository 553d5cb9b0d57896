//! The process's connections to its store: one writer, shared by the
//! collector and the judge, and read-only readers for everything that only
//! reads (the window, `nbi today`, the judge's own reading). With SQLite a
//! reader never takes the write lock, so a window refresh never waits for
//! (or holds up) the collector.

use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use crate::store::error::StoreError;
use crate::store::usage::WriteReport;
use crate::store::{Store, TickWriter};
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
    /// A reader lent from the pool with the writer beside it, for what
    /// reads much and writes a little (judging days). The reader goes back
    /// to the pool when the loan is dropped.
    ///
    /// # Errors
    /// A new reader that cannot be opened.
    pub fn lend(&self) -> Result<Loan<'_>, StoreError> {
        Ok(Loan {
            reader: Some(self.readers.take()?),
            writer: self.writer.clone(),
            pool: &self.readers,
        })
    }
}

/// A reader of the pool and the one writer (see [`Stores::lend`]): reads
/// never take the write lock, writes go through the writer.
pub struct Loan<'a> {
    reader: Option<Box<dyn Store>>,
    pub writer: Writer,
    pool: &'a Readers,
}

impl Loan<'_> {
    /// The lent reader.
    pub fn reader(&self) -> &dyn Store {
        match &self.reader {
            Some(r) => &**r,
            None => unreachable!("a loan holds its reader until it is dropped"),
        }
    }
}

impl Drop for Loan<'_> {
    fn drop(&mut self) {
        if let Some(r) = self.reader.take() {
            self.pool.put_back(r);
        }
    }
}
