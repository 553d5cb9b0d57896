//! The embedded store: one SQLite file in WAL mode.
//!
//! A tick is one row keyed by (ts, host) holding its apps' bytes packed in a
//! small blob: a year of per-minute history of 50 apps is half a million
//! rows, not 26 million, and a day's curve reads 1,440 rows. Samples are
//! still keyed by (host, app, ts): a tick seen again only adds the apps it
//! did not have. In the same transaction the store keeps an hourly roll-up
//! and an hourly coverage table (seconds watched), so the
//! queries the intelligence and the UI ask stay fast after years of history,
//! and a daily roll-up in one time zone (the configured one, named in
//! `meta`), so a year of history by day or month reads a few thousand rows.
//!
//! Retention ([`SqliteStore::prune_minutes`]) deletes the ticks themselves
//! before a day; the hourly, daily and coverage tables are kept for ever,
//! and so is each deleted tick's identity (a digest of its content), so a
//! message delivered again after its day was pruned still counts once.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use super::timeline::{
    local_day_bounds, local_day_hour, offsets_aligned, whole_hour_offsets, DayBounds,
};
use super::{
    answer, AppCurve, AppTotal, DailyUsage, DayCurve, HostFilter, HourCoverage, HourlyUsage,
    StoreError, StoreSummary, TickWriter, UsageQuery, VerdictRecord, VerdictStore, WriteReport,
};
use crate::tick::AppUsage;
use crate::tick::Tick;

const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS hosts (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS apps (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
-- One row per tick, even one with no traffic: it records that the watcher
-- ran. `apps` packs (app_id, bytes_in, bytes_out) varints, by app_id.
CREATE TABLE IF NOT EXISTS ticks (
    ts INTEGER NOT NULL, host_id INTEGER NOT NULL, interval_s INTEGER NOT NULL,
    apps BLOB NOT NULL,
    PRIMARY KEY (ts, host_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hourly (
    hour_ts INTEGER NOT NULL, host_id INTEGER NOT NULL, app_id INTEGER NOT NULL,
    bytes_in INTEGER NOT NULL, bytes_out INTEGER NOT NULL,
    PRIMARY KEY (hour_ts, host_id, app_id)) WITHOUT ROWID;
-- Per local day of the zone in meta `daily_zone` (days since 0001-01-01,
-- chrono's num_days_from_ce); complete for that zone, or unused without it.
CREATE TABLE IF NOT EXISTS daily (
    day INTEGER NOT NULL, host_id INTEGER NOT NULL, app_id INTEGER NOT NULL,
    bytes_in INTEGER NOT NULL, bytes_out INTEGER NOT NULL,
    PRIMARY KEY (day, host_id, app_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS coverage (
    hour_ts INTEGER NOT NULL, host_id INTEGER NOT NULL, seconds INTEGER NOT NULL,
    PRIMARY KEY (hour_ts, host_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS verdicts (
    host TEXT NOT NULL, day TEXT NOT NULL, status TEXT NOT NULL, judged_at INTEGER NOT NULL,
    verdict TEXT NOT NULL, model BLOB, model_meta TEXT, marked_normal INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (host, day)) WITHOUT ROWID;
-- Ticks that arrived at a (ts, host) already stored with other content
-- (two machines writing as host `default` in the same second): each
-- message's digest, so that their sum is kept and a redelivery of either
-- adds nothing. A key with one message needs no row: its content is stored.
CREATE TABLE IF NOT EXISTS merged (
    ts INTEGER NOT NULL, host_id INTEGER NOT NULL, digest INTEGER NOT NULL,
    PRIMARY KEY (ts, host_id, digest)) WITHOUT ROWID;
-- Ticks deleted by retention keep their identity here (the digest of their
-- content), so that a redelivery of an old message still counts once.
CREATE TABLE IF NOT EXISTS pruned (
    ts INTEGER NOT NULL, host_id INTEGER NOT NULL, digest INTEGER NOT NULL,
    PRIMARY KEY (ts, host_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO counters (name, value) VALUES ('ticks', 0), ('samples', 0), ('merged', 0);
";

/// Where a query reads: the hourly roll-up when its steps are whole local
/// hours, else the ticks themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    Samples,
    Hourly,
}

impl Table {
    /// For buckets of `step_secs` from local midnight over `bounds`.
    fn for_steps(step_secs: i64, tz: Tz, bounds: DayBounds) -> Table {
        if step_secs % 3600 == 0 && offsets_aligned(tz, bounds, 3600) {
            Table::Hourly
        } else {
            Table::Samples
        }
    }
}

/// An open SQLite store.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    hosts: HashMap<String, i64>,
    apps: HashMap<String, i64>,
    /// The zone the daily roll-up is kept in (meta `daily_zone`).
    daily_zone: Option<Tz>,
    /// Ticks before this are pruned: only hourly sums remain (meta
    /// `minute_data_from`, seconds).
    minute_data_from: Option<i64>,
    /// Opened by [`SqliteStore::open_read_only`].
    read_only: bool,
}

const META_DAILY_ZONE: &str = "daily_zone";
const META_MINUTE_DATA_FROM: &str = "minute_data_from";

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` for reading and writing.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let conn = Connection::open(path).map_err(|e| sqlite_err(path, e))?;
        let store = SqliteStore::init(conn, path)?;
        if store.conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false) {
            return Err(StoreError::ReadOnly {
                path: path.display().to_string(),
                reason: "the file or its directory is not writable by this user".into(),
            });
        }
        Ok(store)
    }

    /// Opens an existing database for queries only (works on read-only files).
    pub fn open_read_only(path: &Path) -> Result<SqliteStore, StoreError> {
        if !path.exists() {
            return Err(StoreError::Io {
                path: path.display().to_string(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let open = |uri: &str| -> rusqlite::Result<(Connection, i64)> {
            let conn = Connection::open_with_flags(uri, flags)?;
            conn.busy_timeout(Duration::from_secs(5))?;
            let version = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
            Ok((conn, version))
        };
        let uri = file_uri(path);
        let (conn, version) = match open(&uri) {
            Ok(v) => v,
            // A WAL database in a directory we cannot write cannot get its
            // shared-memory file; nobody can be writing it then, so read it
            // as immutable.
            Err(e)
                if matches!(
                    e.sqlite_error_code(),
                    Some(rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly)
                ) =>
            {
                open(&format!("{uri}?immutable=1")).map_err(|e| sqlite_err(path, e))?
            }
            Err(e) => return Err(sqlite_err(path, e)),
        };
        check_version(path, version)?;
        if version == 0 {
            return Err(StoreError::NotInitialized {
                path: path.display().to_string(),
            });
        }
        let mut store = SqliteStore::with_meta(conn, path)?;
        store.read_only = true;
        Ok(store)
    }

    fn init(conn: Connection, path: &Path) -> Result<SqliteStore, StoreError> {
        let e = |err| sqlite_err(path, err);
        conn.busy_timeout(Duration::from_secs(5)).map_err(e)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(e)?;
        check_version(path, version)?;
        if conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false) {
            return SqliteStore::with_meta(conn, path);
        }
        // Pages that retention frees go back to the file system
        // (`PRAGMA incremental_vacuum`); set before the first table exists.
        if version == 0 {
            conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
                .map_err(e)?;
        }
        // WAL: readers (the UI, `nbi today`) never block the collector.
        // synchronous=NORMAL in WAL mode survives a killed process; only a
        // power cut can lose the last commits, never corrupt the file.
        conn.pragma_update(None, "journal_mode", "WAL").map_err(e)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(e)?;
        // One transaction, so a reader sees either no schema (version 0)
        // or all of it.
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
        ))
        .map_err(e)?;
        SqliteStore::with_meta(conn, path)
    }

    /// The store over an open connection, with what `meta` says of its
    /// roll-ups (nothing, when the schema is not there yet).
    fn with_meta(conn: Connection, path: &Path) -> Result<SqliteStore, StoreError> {
        let mut store = SqliteStore {
            conn,
            path: path.to_path_buf(),
            hosts: HashMap::new(),
            apps: HashMap::new(),
            daily_zone: None,
            minute_data_from: None,
            read_only: false,
        };
        let has_meta: bool = store
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(|e| store.err(e))?;
        if has_meta {
            store.daily_zone = store
                .meta(META_DAILY_ZONE)?
                .and_then(|z| z.parse::<Tz>().ok());
            store.minute_data_from = store
                .meta(META_MINUTE_DATA_FROM)?
                .and_then(|t| t.parse::<i64>().ok());
        }
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keeps the daily roll-up in `tz` from now on (the configured zone),
    /// rebuilding it when it was kept in another zone or never: from the
    /// ticks, and from the hourly sums where ticks were pruned (there, in
    /// zones whose hours are not whole UTC hours, an hour counts on the day
    /// it starts). A store opened read-only only reads it.
    pub fn keep_days_in(&mut self, tz: Tz) -> Result<(), StoreError> {
        if self.daily_zone == Some(tz) || self.conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(true) {
            return Ok(());
        }
        let started = std::time::Instant::now();
        self.rebuild_daily(tz).map_err(|e| self.err(e))?;
        self.daily_zone = Some(tz);
        tracing::info!(zone = %tz, took_ms = started.elapsed().as_millis() as u64, db = %self.path.display(), "daily sums rebuilt for the configured time zone");
        Ok(())
    }

    fn rebuild_daily(&mut self, tz: Tz) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM daily", [])?;
        let mut sums: HashMap<(i32, i64, i64), (u64, u64)> = HashMap::new();
        let cut = self.minute_data_from.unwrap_or(i64::MIN);
        {
            let mut last: Option<(i64, i32)> = None;
            let mut day_of = |ts: i64| -> i32 {
                match last {
                    Some((t, d)) if t == ts => d,
                    _ => {
                        let d = local_day_number(ts, tz);
                        last = Some((ts, d));
                        d
                    }
                }
            };
            let mut hourly = tx.prepare(
                "SELECT hour_ts, host_id, app_id, bytes_in, bytes_out FROM hourly WHERE hour_ts < ?1",
            )?;
            let mut rows = hourly.query([cut])?;
            while let Some(r) = rows.next()? {
                let e = sums
                    .entry((day_of(int_at(r, 0)), int_at(r, 1), int_at(r, 2)))
                    .or_default();
                e.0 += int_at(r, 3).max(0) as u64;
                e.1 += int_at(r, 4).max(0) as u64;
            }
            let mut ticks = tx.prepare("SELECT ts, host_id, apps FROM ticks WHERE ts >= ?1")?;
            let mut rows = ticks.query([cut])?;
            while let Some(r) = rows.next()? {
                let (day, host) = (day_of(int_at(r, 0)), int_at(r, 1));
                let blob = r.get_ref(2)?.as_blob().unwrap_or(&[]);
                // A damaged blob is reported by the queries that read it.
                let _ = for_each_packed(blob, |app, i, o| {
                    let e = sums.entry((day, host, app)).or_default();
                    e.0 += i;
                    e.1 += o;
                });
            }
        }
        {
            let mut insert = tx.prepare(
                "INSERT INTO daily (day, host_id, app_id, bytes_in, bytes_out) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for ((day, host, app), (i, o)) in sums {
                insert.execute(params![day, host, app, clamp(i), clamp(o)])?;
            }
        }
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [META_DAILY_ZONE, tz.name()],
        )?;
        tx.commit()
    }

    /// Retention: deletes the ticks before `before` (and what only they
    /// needed), keeping the hourly, daily and coverage sums, and gives the
    /// freed pages back to the file system. Returns the ticks deleted.
    /// `before` only moves forward: an earlier one deletes nothing. With no
    /// tick before `before`, nothing changes.
    pub fn prune_minutes(&mut self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let cut = before.timestamp();
        if self.minute_data_from.is_some_and(|t| t >= cut) {
            return Ok(0);
        }
        let deleted = (|| -> rusqlite::Result<u64> {
            let tx = self.conn.transaction()?;
            {
                let mut keep = tx.prepare(
                    "INSERT OR REPLACE INTO pruned (ts, host_id, digest) VALUES (?1, ?2, ?3)",
                )?;
                let mut old =
                    tx.prepare("SELECT ts, host_id, interval_s, apps FROM ticks WHERE ts < ?1")?;
                let mut rows = old.query([cut])?;
                while let Some(r) = rows.next()? {
                    let blob = r.get_ref(3)?.as_blob().unwrap_or(&[]);
                    let mut samples = Vec::new();
                    // A damaged blob keeps a digest nothing will match.
                    let _ = for_each_packed(blob, |a, i, o| samples.push((a, i, o)));
                    keep.execute(params![
                        int_at(r, 0),
                        int_at(r, 1),
                        content_digest(int_at(r, 2), &samples)
                    ])?;
                }
            }
            let n = tx.execute("DELETE FROM ticks WHERE ts < ?1", [cut])?;
            if n == 0 {
                // Nothing older: the minutes imported later stay whole
                // until the next round.
                return Ok(0);
            }
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [META_MINUTE_DATA_FROM, &cut.to_string()],
            )?;
            tx.commit()?;
            Ok(n as u64)
        })()
        .map_err(|e| self.err(e))?;
        if deleted > 0 {
            self.minute_data_from = Some(cut);
            self.give_back_free_pages()?;
        }
        Ok(deleted)
    }

    /// Frees the pages of deleted rows: incrementally where the file was
    /// made so, else once by a full `VACUUM`, which makes it so.
    fn give_back_free_pages(&mut self) -> Result<(), StoreError> {
        let mode: i64 = self
            .conn
            .pragma_query_value(None, "auto_vacuum", |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if mode == 2 {
            // Each step of the pragma frees one page: run it to its end.
            let mut stmt = self
                .conn
                .prepare("PRAGMA incremental_vacuum")
                .map_err(|e| self.err(e))?;
            let mut rows = stmt.query([]).map_err(|e| self.err(e))?;
            while rows.next().map_err(|e| self.err(e))?.is_some() {}
        } else {
            self.conn
                .execute_batch("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;")
                .map_err(|e| self.err(e))?;
        }
        // The write-ahead log holds the old pages until a checkpoint.
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(|e| self.err(e))
    }

    /// Where a query of `step_secs` buckets over `bounds` reads: the ticks
    /// only where they are kept.
    fn table_for(&self, step_secs: i64, tz: Tz, bounds: DayBounds) -> Table {
        match Table::for_steps(step_secs, tz, bounds) {
            Table::Samples if self.pruned_from(bounds.start.timestamp()) => Table::Hourly,
            t => t,
        }
    }

    /// Whether some of the time from `ts` on has only hourly sums.
    fn pruned_from(&self, ts: i64) -> bool {
        self.rollups().1.is_some_and(|cut| ts < cut)
    }

    /// The daily roll-up's zone and where minute data starts. A connection
    /// that only reads asks the file each time: the writer may have pruned
    /// or rebuilt since it opened.
    fn rollups(&self) -> (Option<Tz>, Option<i64>) {
        if !self.read_only {
            return (self.daily_zone, self.minute_data_from);
        }
        let read = |key: &str| -> Option<String> {
            self.conn
                .prepare_cached("SELECT value FROM meta WHERE key = ?1")
                .and_then(|mut st| st.query_row([key], |r| r.get(0)).optional())
                .ok()
                .flatten()
        };
        (
            read(META_DAILY_ZONE).and_then(|z| z.parse().ok()),
            read(META_MINUTE_DATA_FROM).and_then(|t| t.parse().ok()),
        )
    }

    /// Sets a small piece of metadata (e.g. `label = demo`).
    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        sqlite_err(&self.path, e)
    }

    fn host_id_for_query(&self, host: &HostFilter) -> Result<Option<Option<i64>>, StoreError> {
        match host {
            HostFilter::All => Ok(Some(None)),
            HostFilter::One(name) => {
                let id: Option<i64> = self
                    .conn
                    .query_row("SELECT id FROM hosts WHERE name = ?1", [name], |r| r.get(0))
                    .optional()
                    .map_err(|e| self.err(e))?;
                // An unknown host has no data: Ok(None).
                Ok(id.map(Some))
            }
        }
    }

    fn host_names(&self) -> Result<HashMap<i64, String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, name FROM hosts")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    fn app_names(&self) -> Result<HashMap<i64, String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, name FROM apps")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Runs `sql` — a query whose `?1..?2` is a time range and `?3` a host
    /// id or NULL for all — and hands each row to `f`.
    fn each_row_in(
        &self,
        sql: &str,
        host: Option<i64>,
        bounds: DayBounds,
        mut f: impl FnMut(&rusqlite::Row<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        let mut rows = stmt
            .query(params![
                bounds.start.timestamp(),
                bounds.end.timestamp(),
                host
            ])
            .map_err(|e| self.err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            f(row)?;
        }
        Ok(())
    }

    /// Visits (ts, app_id, in, out) of `table` in `bounds`.
    fn scan(
        &self,
        host: Option<i64>,
        bounds: DayBounds,
        table: Table,
        mut visit: impl FnMut(i64, i64, u64, u64),
    ) -> Result<(), StoreError> {
        match table {
            Table::Hourly => self.each_row_in(
                "SELECT hour_ts, app_id, bytes_in, bytes_out FROM hourly
                 WHERE hour_ts >= ?1 AND hour_ts < ?2 AND (?3 IS NULL OR host_id = ?3)",
                host,
                bounds,
                |row| {
                    visit(
                        int_at(row, 0),
                        int_at(row, 1),
                        int_at(row, 2).max(0) as u64,
                        int_at(row, 3).max(0) as u64,
                    );
                    Ok(())
                },
            ),
            Table::Samples => self.each_row_in(
                "SELECT ts, apps FROM ticks
                 WHERE ts >= ?1 AND ts < ?2 AND (?3 IS NULL OR host_id = ?3)",
                host,
                bounds,
                |row| {
                    let ts = int_at(row, 0);
                    let blob = row
                        .get_ref(1)
                        .ok()
                        .and_then(|v| v.as_blob().ok())
                        .unwrap_or(&[]);
                    for_each_packed(blob, |app, i, o| visit(ts, app, i, o)).map_err(|()| {
                        StoreError::Corrupt {
                            path: self.path.display().to_string(),
                            what: format!("the apps of the tick at {ts}"),
                        }
                    })
                },
            ),
        }
    }

    fn write_tx(&mut self, ticks: &[Tick]) -> rusqlite::Result<(WriteReport, Vec<NewName>)> {
        let tx = self.conn.transaction()?;
        let mut report = WriteReport::default();
        let mut new_names = Vec::new();
        {
            let mut insert_tick = tx.prepare_cached(
                "INSERT OR IGNORE INTO ticks (ts, host_id, interval_s, apps) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut stored_apps =
                tx.prepare_cached("SELECT apps FROM ticks WHERE ts = ?1 AND host_id = ?2")?;
            let mut update_apps =
                tx.prepare_cached("UPDATE ticks SET apps = ?3 WHERE ts = ?1 AND host_id = ?2")?;
            let mut stored_interval =
                tx.prepare_cached("SELECT interval_s FROM ticks WHERE ts = ?1 AND host_id = ?2")?;
            let mut merged_digests =
                tx.prepare_cached("SELECT digest FROM merged WHERE ts = ?1 AND host_id = ?2")?;
            let mut add_digest = tx.prepare_cached(
                "INSERT OR IGNORE INTO merged (ts, host_id, digest) VALUES (?1, ?2, ?3)",
            )?;
            let mut pruned_digest =
                tx.prepare_cached("SELECT digest FROM pruned WHERE ts = ?1 AND host_id = ?2")?;
            let mut add_coverage = tx.prepare_cached(
                "INSERT INTO coverage (hour_ts, host_id, seconds) VALUES (?1, ?2, ?3)
                 ON CONFLICT (hour_ts, host_id) DO UPDATE SET seconds = seconds + excluded.seconds",
            )?;
            let mut add_daily = tx.prepare_cached(
                "INSERT INTO daily (day, host_id, app_id, bytes_in, bytes_out)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (day, host_id, app_id) DO UPDATE SET
                   bytes_in = bytes_in + excluded.bytes_in,
                   bytes_out = bytes_out + excluded.bytes_out",
            )?;
            let mut add_hourly = tx.prepare_cached(
                "INSERT INTO hourly (hour_ts, host_id, app_id, bytes_in, bytes_out)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (hour_ts, host_id, app_id) DO UPDATE SET
                   bytes_in = bytes_in + excluded.bytes_in,
                   bytes_out = bytes_out + excluded.bytes_out",
            )?;
            for tick in ticks {
                let host_id = id_of(&tx, &self.hosts, &mut new_names, Kind::Host, &tick.host)?;
                let ts = tick.at.timestamp();
                let hour_ts = ts - ts.rem_euclid(3600);
                let mut samples = Vec::with_capacity(tick.apps.len());
                for usage in &tick.apps {
                    let app_id = id_of(&tx, &self.apps, &mut new_names, Kind::App, &usage.app)?;
                    samples.push((app_id, usage.bytes_in, usage.bytes_out));
                }
                samples.sort_unstable_by_key(|s| s.0);
                // A key whose tick retention deleted: known by its digest.
                let pruned = if self.minute_data_from.is_some_and(|cut| ts < cut) {
                    pruned_digest
                        .query_row(params![ts, host_id], |r| r.get::<_, i64>(0))
                        .optional()?
                } else {
                    None
                };
                // What to add to the hourly sums, and how many samples are new.
                let (fresh, new_samples) = if let Some(stored) = pruned {
                    let digest = content_digest(i64::from(tick.interval_s), &samples);
                    let known = Known::read(&mut merged_digests, ts, host_id)?;
                    if known.is_redelivery(digest, || digest == stored) {
                        report.ticks_skipped += 1;
                        (Vec::new(), 0)
                    } else {
                        report.ticks_merged += 1;
                        known.record(&mut add_digest, ts, host_id, digest, || stored)?;
                        (samples, 0)
                    }
                } else if insert_tick.execute(params![
                    ts,
                    host_id,
                    tick.interval_s,
                    pack(&samples)
                ])? == 1
                {
                    report.ticks_written += 1;
                    add_coverage.execute(params![hour_ts, host_id, tick.interval_s])?;
                    let n = samples.len();
                    (samples, n)
                } else {
                    // The same message again adds nothing; another one at
                    // the same host and second is added to it.
                    let blob: Vec<u8> =
                        stored_apps.query_row(params![ts, host_id], |r| r.get(0))?;
                    let interval: i64 =
                        stored_interval.query_row(params![ts, host_id], |r| r.get(0))?;
                    let mut stored = Vec::new();
                    for_each_packed(&blob, |a, i, o| stored.push((a, i, o))).map_err(|()| {
                        rusqlite::Error::InvalidColumnType(
                            0,
                            "apps".into(),
                            rusqlite::types::Type::Blob,
                        )
                    })?;
                    let digest = content_digest(i64::from(tick.interval_s), &samples);
                    let known = Known::read(&mut merged_digests, ts, host_id)?;
                    if known.is_redelivery(digest, || {
                        i64::from(tick.interval_s) == interval && samples == stored
                    }) {
                        report.ticks_skipped += 1;
                        (Vec::new(), 0)
                    } else {
                        report.ticks_merged += 1;
                        known.record(&mut add_digest, ts, host_id, digest, || {
                            content_digest(interval, &stored)
                        })?;
                        let summed = sum_samples(&stored, &samples);
                        update_apps.execute(params![ts, host_id, pack(&summed)])?;
                        let n = summed.len() - stored.len();
                        (samples, n)
                    }
                };
                report.samples_written += new_samples;
                let day = self.daily_zone.map(|tz| local_day_number(ts, tz));
                for (app_id, i, o) in fresh {
                    let (i, o) = (clamp(i), clamp(o));
                    add_hourly.execute(params![hour_ts, host_id, app_id, i, o])?;
                    if let Some(day) = day {
                        add_daily.execute(params![day, host_id, app_id, i, o])?;
                    }
                }
            }
            tx.execute(
                "UPDATE counters SET value = value + ?1 WHERE name = 'ticks'",
                [report.ticks_written as i64],
            )?;
            tx.execute(
                "UPDATE counters SET value = value + ?1 WHERE name = 'samples'",
                [report.samples_written as i64],
            )?;
            tx.execute(
                "UPDATE counters SET value = value + ?1 WHERE name = 'merged'",
                [report.ticks_merged as i64],
            )?;
        }
        tx.commit()?;
        Ok((report, new_names))
    }
}

const VERDICT_COLUMNS: &str =
    "host, day, status, judged_at, verdict, model, model_meta, marked_normal";

fn verdict_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<VerdictRecord> {
    let day: String = r.get(1)?;
    let day = NaiveDate::parse_from_str(&day, "%Y-%m-%d").map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(VerdictRecord {
        host: r.get(0)?,
        day,
        status: {
            let text: String = r.get(2)?;
            text.parse().map_err(|e: String| {
                rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, e.into())
            })?
        },
        judged_at: DateTime::from_timestamp(r.get(3)?, 0).unwrap_or_default(),
        verdict_json: r.get(4)?,
        model: r.get(5)?,
        model_meta: r.get(6)?,
        marked_normal: r.get::<_, i64>(7)? != 0,
    })
}

/// A database written before verdicts existed, opened read-only, has no
/// verdicts table: it simply has no verdicts.
fn no_verdicts_table(e: &rusqlite::Error) -> bool {
    e.to_string().contains("no such table: verdicts")
}

/// A `file:` URI for `path`, escaping what URIs reserve.
fn file_uri(path: &Path) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut uri = String::from("file:");
    for ch in abs.to_string_lossy().chars() {
        match ch {
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            '%' => uri.push_str("%25"),
            c => uri.push(c),
        }
    }
    uri
}

fn check_version(path: &Path, found: i64) -> Result<(), StoreError> {
    if found > SCHEMA_VERSION {
        return Err(StoreError::Schema {
            path: path.display().to_string(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

fn sqlite_err(path: &Path, source: rusqlite::Error) -> StoreError {
    if source.sqlite_error_code() == Some(rusqlite::ErrorCode::ReadOnly) {
        return StoreError::ReadOnly {
            path: path.display().to_string(),
            reason: source.to_string(),
        };
    }
    StoreError::Sqlite {
        path: path.display().to_string(),
        source,
    }
}

/// Column `i` of a row of NOT NULL integers. Reads the raw value, which
/// skips rusqlite's per-value conversion checks on the hot scan paths.
/// The local day of `ts` in `tz`, as the daily table keys it.
fn local_day_number(ts: i64, tz: Tz) -> i32 {
    let at = DateTime::from_timestamp(ts, 0).unwrap_or_default();
    at.with_timezone(&tz).date_naive().num_days_from_ce()
}

/// The database's size on disk: the file and its write-ahead log.
fn file_bytes(path: &Path) -> u64 {
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    size(path) + size(Path::new(&wal))
}

fn int_at(row: &rusqlite::Row<'_>, i: usize) -> i64 {
    row.get_ref(i)
        .ok()
        .and_then(|v| v.as_i64().ok())
        .unwrap_or(0)
}

/// The digests of the messages already added up at one (ts, host) key;
/// empty while the key holds one message (its content is its identity).
struct Known(Vec<i64>);

impl Known {
    fn read(
        stmt: &mut rusqlite::CachedStatement<'_>,
        ts: i64,
        host: i64,
    ) -> rusqlite::Result<Known> {
        stmt.query_map(params![ts, host], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()
            .map(Known)
    }

    /// Whether the message of `digest` was stored already: one of the
    /// known digests, or, with none, the one stored message (`same`).
    fn is_redelivery(&self, digest: i64, same: impl FnOnce() -> bool) -> bool {
        if self.0.is_empty() {
            same()
        } else {
            self.0.contains(&digest)
        }
    }

    /// Records a new message at the key: its digest, and the first
    /// message's (`stored`) when the key held only that one.
    fn record(
        &self,
        add: &mut rusqlite::CachedStatement<'_>,
        ts: i64,
        host: i64,
        digest: i64,
        stored: impl FnOnce() -> i64,
    ) -> rusqlite::Result<()> {
        if self.0.is_empty() {
            add.execute(params![ts, host, stored()])?;
        }
        add.execute(params![ts, host, digest])?;
        Ok(())
    }
}

/// Packs (app_id, in, out) triples as LEB128 varints.
/// A message's identity: FNV-1a over its interval and its samples (app id,
/// bytes in, bytes out, by app id), as an SQLite integer.
fn content_digest(interval_s: i64, samples: &[(i64, u64, u64)]) -> i64 {
    const PRIME: u64 = 0x0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |v: u64| {
        for b in v.to_le_bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(PRIME);
        }
    };
    eat(interval_s as u64);
    for &(app, i, o) in samples {
        eat(app as u64);
        eat(i);
        eat(o);
    }
    h as i64
}

/// Two sorted sample lists added app by app.
fn sum_samples(a: &[(i64, u64, u64)], b: &[(i64, u64, u64)]) -> Vec<(i64, u64, u64)> {
    let mut out: Vec<(i64, u64, u64)> = a.to_vec();
    for &(app, i, o) in b {
        match out.binary_search_by_key(&app, |s| s.0) {
            Ok(k) => {
                out[k].1 = out[k].1.saturating_add(i);
                out[k].2 = out[k].2.saturating_add(o);
            }
            Err(k) => out.insert(k, (app, i, o)),
        }
    }
    out
}

fn pack(samples: &[(i64, u64, u64)]) -> Vec<u8> {
    fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    let mut out = Vec::with_capacity(samples.len() * 8);
    for &(app, i, o) in samples {
        varint(&mut out, app.max(0) as u64);
        varint(&mut out, i.min(i64::MAX as u64));
        varint(&mut out, o.min(i64::MAX as u64));
    }
    out
}

/// Calls `f` with each packed triple; `Err` if the blob is cut or malformed.
fn for_each_packed(mut blob: &[u8], mut f: impl FnMut(i64, u64, u64)) -> Result<(), ()> {
    fn varint(blob: &mut &[u8]) -> Result<u64, ()> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = blob.split_first().ok_or(())?;
            *blob = rest;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(())
    }
    while !blob.is_empty() {
        let app = varint(&mut blob)?;
        let i = varint(&mut blob)?;
        let o = varint(&mut blob)?;
        f(i64::try_from(app).map_err(|_| ())?, i, o);
    }
    Ok(())
}

fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[derive(Clone, Copy)]
enum Kind {
    Host,
    App,
}

/// A name given an id inside a transaction; cached only once it commits.
struct NewName {
    kind: Kind,
    name: String,
    id: i64,
}

fn id_of(
    tx: &rusqlite::Transaction<'_>,
    cache: &HashMap<String, i64>,
    pending: &mut Vec<NewName>,
    kind: Kind,
    name: &str,
) -> rusqlite::Result<i64> {
    if let Some(id) = cache.get(name) {
        return Ok(*id);
    }
    if let Some(n) = pending.iter().find(|n| {
        matches!(
            (n.kind, kind),
            (Kind::Host, Kind::Host) | (Kind::App, Kind::App)
        ) && n.name == name
    }) {
        return Ok(n.id);
    }
    let (insert, select) = match kind {
        Kind::Host => (
            "INSERT OR IGNORE INTO hosts (name) VALUES (?1)",
            "SELECT id FROM hosts WHERE name = ?1",
        ),
        Kind::App => (
            "INSERT OR IGNORE INTO apps (name) VALUES (?1)",
            "SELECT id FROM apps WHERE name = ?1",
        ),
    };
    tx.prepare_cached(insert)?.execute([name])?;
    let id = tx.prepare_cached(select)?.query_row([name], |r| r.get(0))?;
    pending.push(NewName {
        kind,
        name: name.to_string(),
        id,
    });
    Ok(id)
}

impl TickWriter for SqliteStore {
    fn write(&mut self, ticks: &[Tick]) -> Result<WriteReport, StoreError> {
        if ticks.is_empty() {
            return Ok(WriteReport::default());
        }
        let (report, new_names) = self.write_tx(ticks).map_err(|e| self.err(e))?;
        for n in new_names {
            match n.kind {
                Kind::Host => self.hosts.insert(n.name, n.id),
                Kind::App => self.apps.insert(n.name, n.id),
            };
        }
        Ok(report)
    }

    fn prune_minutes(&mut self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        SqliteStore::prune_minutes(self, before)
    }
}

impl UsageQuery for SqliteStore {
    fn day_totals(
        &self,
        host: &HostFilter,
        day: NaiveDate,
        tz: Tz,
    ) -> Result<Vec<AppTotal>, StoreError> {
        let Some(host_id) = self.host_id_for_query(host)? else {
            return Ok(Vec::new());
        };
        let bounds = local_day_bounds(day, tz);
        let mut sums: HashMap<i64, (u64, u64)> = HashMap::new();
        self.scan(
            host_id,
            bounds,
            self.table_for(3600, tz, bounds),
            |_, app, i, o| {
                let e = sums.entry(app).or_default();
                e.0 += i;
                e.1 += o;
            },
        )?;
        let names = self.app_names()?;
        let mut out: Vec<AppTotal> = sums
            .into_iter()
            .filter_map(|(id, (bytes_in, bytes_out))| {
                Some(AppTotal {
                    app: names.get(&id)?.clone(),
                    bytes_in,
                    bytes_out,
                })
            })
            .collect();
        answer::sort_totals(&mut out);
        Ok(out)
    }

    fn hourly(
        &self,
        host: &HostFilter,
        from: NaiveDate,
        to: NaiveDate,
        tz: Tz,
    ) -> Result<Vec<HourlyUsage>, StoreError> {
        let bounds = answer::range(from, to, tz)?;
        let Some(host_id) = self.host_id_for_query(host)? else {
            return Ok(Vec::new());
        };
        let mut sums: HashMap<(NaiveDate, u8, i64), (u64, u64)> = HashMap::new();
        // Converting each row's UTC hour to local time is the costly part;
        // consecutive rows share an hour, so remember the last one.
        let mut last: Option<(i64, (NaiveDate, u8))> = None;
        self.scan(
            host_id,
            bounds,
            self.table_for(3600, tz, bounds),
            |ts, app, i, o| {
                let key = match last {
                    Some((t, k)) if t == ts => k,
                    _ => {
                        let at = DateTime::from_timestamp(ts, 0).unwrap_or_default();
                        let k = local_day_hour(at, tz);
                        last = Some((ts, k));
                        k
                    }
                };
                let e = sums.entry((key.0, key.1, app)).or_default();
                e.0 += i;
                e.1 += o;
            },
        )?;
        let names = self.app_names()?;
        let mut out: Vec<HourlyUsage> = sums
            .into_iter()
            .filter_map(|((day, hour, id), (bytes_in, bytes_out))| {
                Some(HourlyUsage {
                    day,
                    hour,
                    app: names.get(&id)?.clone(),
                    bytes_in,
                    bytes_out,
                })
            })
            .collect();
        answer::sort_hourly(&mut out);
        Ok(out)
    }

    fn coverage(
        &self,
        host: &HostFilter,
        from: NaiveDate,
        to: NaiveDate,
        tz: Tz,
    ) -> Result<Vec<HourCoverage>, StoreError> {
        let bounds = answer::range(from, to, tz)?;
        let Some(host_id) = self.host_id_for_query(host)? else {
            return Ok(Vec::new());
        };
        let whole = whole_hour_offsets(tz, bounds);
        let sql = if whole {
            "SELECT hour_ts, seconds FROM coverage
             WHERE hour_ts >= ?1 AND hour_ts < ?2 AND (?3 IS NULL OR host_id = ?3)"
        } else {
            "SELECT ts, interval_s FROM ticks
             WHERE ts >= ?1 AND ts < ?2 AND (?3 IS NULL OR host_id = ?3)"
        };
        let mut seconds: HashMap<(NaiveDate, u8), u64> = HashMap::new();
        self.each_row_in(sql, host_id, bounds, |row| {
            let at = DateTime::from_timestamp(int_at(row, 0), 0).unwrap_or_default();
            *seconds.entry(local_day_hour(at, tz)).or_default() += int_at(row, 1).max(0) as u64;
            Ok(())
        })?;
        Ok(answer::coverage(seconds))
    }

    fn day_curve(
        &self,
        host: &HostFilter,
        day: NaiveDate,
        tz: Tz,
        step_minutes: u32,
    ) -> Result<DayCurve, StoreError> {
        let mut curve = answer::curve_frame(day, tz, step_minutes)?;
        let bounds = local_day_bounds(day, tz);
        let step = i64::from(step_minutes) * 60;
        let buckets = curve.buckets;
        let Some(host_id) = self.host_id_for_query(host)? else {
            return Ok(curve);
        };
        let start = bounds.start.timestamp();
        // App ids are small and dense: index by id, not through a hash map.
        let mut by_app: Vec<Option<(Vec<u64>, Vec<u64>)>> = Vec::new();
        // Whole-hour steps read the hourly roll-up (24 rows per app, not 1440).
        let table = self.table_for(step, tz, bounds);
        // A day whose ticks were pruned has hours only.
        let (step, buckets) = if table == Table::Hourly && step % 3600 != 0 {
            curve = answer::curve_frame(day, tz, 60)?;
            (3600, curve.buckets)
        } else {
            (step, buckets)
        };
        self.scan(host_id, bounds, table, |ts, app, i, o| {
            let b = (((ts - start) / step) as usize).min(buckets.saturating_sub(1));
            let Ok(slot) = usize::try_from(app) else {
                return;
            };
            if slot >= by_app.len() {
                by_app.resize_with(slot + 1, || None);
            }
            let e = by_app[slot].get_or_insert_with(|| (vec![0; buckets], vec![0; buckets]));
            e.0[b] += i;
            e.1[b] += o;
        })?;
        let by_app = by_app
            .into_iter()
            .enumerate()
            .filter_map(|(id, v)| Some((id as i64, v?)));
        let names = self.app_names()?;
        curve.apps = by_app
            .into_iter()
            .filter_map(|(id, (bytes_in, bytes_out))| {
                Some(AppCurve {
                    app: names.get(&id)?.clone(),
                    bytes_in,
                    bytes_out,
                })
            })
            .collect();
        answer::sort_curves(&mut curve.apps);
        Ok(curve)
    }

    fn daily(
        &self,
        host: &HostFilter,
        from: NaiveDate,
        to: NaiveDate,
        tz: Tz,
    ) -> Result<Vec<DailyUsage>, StoreError> {
        if self.rollups().0 != Some(tz) {
            return Ok(answer::daily_from_hourly(self.hourly(host, from, to, tz)?));
        }
        answer::range(from, to, tz)?;
        let Some(host_id) = self.host_id_for_query(host)? else {
            return Ok(Vec::new());
        };
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT day, app_id, sum(bytes_in), sum(bytes_out) FROM daily
                 WHERE day >= ?1 AND day <= ?2 AND (?3 IS NULL OR host_id = ?3)
                 GROUP BY day, app_id",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = stmt
            .query(params![
                from.num_days_from_ce(),
                to.num_days_from_ce(),
                host_id
            ])
            .map_err(|e| self.err(e))?;
        let names = self.app_names()?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let (Some(day), Some(app)) = (
                i32::try_from(int_at(r, 0))
                    .ok()
                    .and_then(NaiveDate::from_num_days_from_ce_opt),
                names.get(&int_at(r, 1)),
            ) else {
                continue;
            };
            let (bytes_in, bytes_out) = (int_at(r, 2).max(0) as u64, int_at(r, 3).max(0) as u64);
            if bytes_in + bytes_out > 0 {
                out.push(DailyUsage {
                    day,
                    app: app.clone(),
                    bytes_in,
                    bytes_out,
                });
            }
        }
        answer::sort_daily(&mut out);
        Ok(out)
    }

    fn for_each_tick(
        &self,
        host: &HostFilter,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        f: &mut dyn FnMut(Tick) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let Some(host_id) = self.host_id_for_query(host)? else {
            return Ok(());
        };
        let hosts = self.host_names()?;
        let apps = self.app_names()?;
        let host_name = |id: i64| hosts.get(&id).cloned().unwrap_or_default();
        let (start, end) = (start.timestamp(), end.timestamp());
        // Hours whose ticks were pruned: one tick of 3600 s per hour.
        let cut = self
            .rollups()
            .1
            .unwrap_or(i64::MIN)
            .clamp(start, end.max(start));
        if start < cut {
            let mut hours: BTreeMap<(i64, i64), Vec<AppUsage>> = BTreeMap::new();
            self.each_row_in(
                "SELECT hour_ts, host_id, app_id, bytes_in, bytes_out FROM hourly
                 WHERE hour_ts >= ?1 AND hour_ts < ?2 AND (?3 IS NULL OR host_id = ?3)",
                host_id,
                DayBounds {
                    start: DateTime::from_timestamp(start, 0).unwrap_or_default(),
                    end: DateTime::from_timestamp(cut, 0).unwrap_or_default(),
                },
                |r| {
                    if let Some(app) = apps.get(&int_at(r, 2)) {
                        hours
                            .entry((int_at(r, 0), int_at(r, 1)))
                            .or_default()
                            .push(AppUsage {
                                app: app.clone(),
                                bytes_in: int_at(r, 3).max(0) as u64,
                                bytes_out: int_at(r, 4).max(0) as u64,
                            });
                    }
                    Ok(())
                },
            )?;
            for ((ts, host), usage) in hours {
                let at = DateTime::from_timestamp(ts, 0).unwrap_or_default();
                let totals = usage
                    .into_iter()
                    .map(|u| (u.app, (u.bytes_in, u.bytes_out)));
                f(Tick::from_totals(host_name(host), at, 3600, totals))?;
            }
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT ts, host_id, interval_s, apps FROM ticks
                 WHERE ts >= ?1 AND ts < ?2 AND (?3 IS NULL OR host_id = ?3)
                 ORDER BY ts, host_id",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = stmt
            .query(params![cut.max(start), end, host_id])
            .map_err(|e| self.err(e))?;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let ts = int_at(r, 0);
            let blob = r
                .get_ref(3)
                .ok()
                .and_then(|v| v.as_blob().ok())
                .unwrap_or(&[]);
            let mut totals = Vec::new();
            for_each_packed(blob, |app, i, o| {
                if let Some(name) = apps.get(&app) {
                    totals.push((name.clone(), (i, o)));
                }
            })
            .map_err(|()| StoreError::Corrupt {
                path: self.path.display().to_string(),
                what: format!("the apps of the tick at {ts}"),
            })?;
            let interval = u32::try_from(int_at(r, 2)).unwrap_or(0);
            let at = DateTime::from_timestamp(ts, 0).unwrap_or_default();
            f(Tick::from_totals(
                host_name(int_at(r, 1)),
                at,
                interval,
                totals,
            ))?;
        }
        Ok(())
    }

    fn summary(&self) -> Result<StoreSummary, StoreError> {
        let counter = |name: &str| -> Result<u64, StoreError> {
            let v: Option<i64> = self
                .conn
                .query_row("SELECT value FROM counters WHERE name = ?1", [name], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(|e| self.err(e))?;
            Ok(v.unwrap_or(0).max(0) as u64)
        };
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name FROM hosts ORDER BY name")
            .map_err(|e| self.err(e))?;
        let hosts = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        let (first, last): (Option<i64>, Option<i64>) = self
            .conn
            .query_row(
                "SELECT min(first), max(last) FROM (
                   SELECT min(ts) AS first, max(ts) AS last FROM ticks
                   UNION ALL SELECT min(hour_ts), NULL FROM coverage)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| self.err(e))?;
        Ok(StoreSummary {
            ticks: counter("ticks")?,
            samples: counter("samples")?,
            merged_ticks: counter("merged")?,
            hosts,
            first_tick: first.and_then(|t| DateTime::<Utc>::from_timestamp(t, 0)),
            last_tick: last.and_then(|t| DateTime::<Utc>::from_timestamp(t, 0)),
            minute_data_from: self
                .minute_data_from
                .and_then(|t| DateTime::<Utc>::from_timestamp(t, 0)),
            file_bytes: Some(file_bytes(&self.path)),
        })
    }
}

impl VerdictStore for SqliteStore {
    fn put_verdict(&mut self, v: &VerdictRecord) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO verdicts (host, day, status, judged_at, verdict, model, model_meta, marked_normal)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (host, day) DO UPDATE SET
                   status = excluded.status, judged_at = excluded.judged_at,
                   verdict = excluded.verdict, model = excluded.model,
                   model_meta = excluded.model_meta,
                   marked_normal = marked_normal OR excluded.marked_normal",
                params![
                    v.host,
                    v.day.format("%Y-%m-%d").to_string(),
                    v.status.name(),
                    v.judged_at.timestamp(),
                    v.verdict_json,
                    v.model,
                    v.model_meta,
                    v.marked_normal
                ],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    fn verdicts(
        &self,
        host: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<VerdictRecord>, StoreError> {
        let sql = format!(
            "SELECT {VERDICT_COLUMNS} FROM verdicts WHERE host = ?1 AND day >= ?2 AND day <= ?3
             ORDER BY day"
        );
        let run = || -> rusqlite::Result<Vec<VerdictRecord>> {
            let mut stmt = self.conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(
                params![
                    host,
                    from.format("%Y-%m-%d").to_string(),
                    to.format("%Y-%m-%d").to_string()
                ],
                verdict_row,
            )?;
            rows.collect()
        };
        match run() {
            Ok(v) => Ok(v),
            Err(e) if no_verdicts_table(&e) => Ok(Vec::new()),
            Err(e) => Err(self.err(e)),
        }
    }

    fn recent_verdicts(&self, host: &str, limit: usize) -> Result<Vec<VerdictRecord>, StoreError> {
        let sql = format!(
            "SELECT {VERDICT_COLUMNS} FROM verdicts WHERE host = ?1 ORDER BY day DESC LIMIT ?2"
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let run = || -> rusqlite::Result<Vec<VerdictRecord>> {
            let mut stmt = self.conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![host, limit], verdict_row)?;
            rows.collect()
        };
        match run() {
            Ok(v) => Ok(v),
            Err(e) if no_verdicts_table(&e) => Ok(Vec::new()),
            Err(e) => Err(self.err(e)),
        }
    }

    fn mark_normal(&mut self, host: &str, day: NaiveDate) -> Result<bool, StoreError> {
        self.conn
            .execute(
                "UPDATE verdicts SET marked_normal = 1 WHERE host = ?1 AND day = ?2",
                params![host, day.format("%Y-%m-%d").to_string()],
            )
            .map(|n| n > 0)
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn record(day: NaiveDate, status: &str) -> VerdictRecord {
        VerdictRecord {
            host: "mbp".into(),
            day,
            status: status.parse().unwrap(),
            judged_at: utc(2026, 7, 12, 0, 10),
            verdict_json: format!("{{\"status\":\"{status}\"}}"),
            model: Some(vec![1, 2, 3]),
            model_meta: Some("{}".into()),
            marked_normal: false,
        }
    }

    #[test]
    fn verdicts_are_stored_replaced_and_marked_normal() {
        let (_d, mut s) = open();
        let d1 = NaiveDate::from_ymd_opt(2026, 7, 10).unwrap();
        let d2 = NaiveDate::from_ymd_opt(2026, 7, 11).unwrap();
        assert!(s.verdict("mbp", d1).unwrap().is_none());
        assert!(!s.mark_normal("mbp", d1).unwrap(), "nothing to mark yet");
        s.put_verdict(&record(d2, "anomalous")).unwrap();
        s.put_verdict(&record(d1, "normal")).unwrap();
        let all = s.verdicts("mbp", d1, d2).unwrap();
        assert_eq!(all.iter().map(|v| v.day).collect::<Vec<_>>(), vec![d1, d2]);
        assert_eq!(all[1], record(d2, "anomalous"));
        assert!(s.mark_normal("mbp", d2).unwrap());
        // Judging the day again keeps the owner's mark.
        s.put_verdict(&record(d2, "anomalous")).unwrap();
        let v = s.verdict("mbp", d2).unwrap().unwrap();
        assert!(v.marked_normal);
        assert!(s.verdicts("other", d1, d2).unwrap().is_empty());
        let recent = s.recent_verdicts("mbp", 5).unwrap();
        assert_eq!(
            recent.iter().map(|v| v.day).collect::<Vec<_>>(),
            vec![d2, d1]
        );
        assert_eq!(s.recent_verdicts("mbp", 1).unwrap()[0].day, d2);
        assert!(s.recent_verdicts("other", 5).unwrap().is_empty());
    }

    #[test]
    fn recent_verdicts_of_a_store_that_never_judged_are_none() {
        let (_d, s) = open();
        assert!(s.recent_verdicts("mbp", 7).unwrap().is_empty());
    }

    fn tz(name: &str) -> Tz {
        name.parse().unwrap()
    }

    fn tick(host: &str, at: DateTime<Utc>, apps: &[(&str, u64, u64)]) -> Tick {
        Tick::from_totals(
            host,
            at,
            60,
            apps.iter().map(|(a, i, o)| (a.to_string(), (*i, *o))),
        )
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    fn open() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("nested/nbi.sqlite")).unwrap();
        (dir, store)
    }

    #[test]
    fn rewriting_a_batch_never_double_counts() {
        let (_d, mut s) = open();
        let batch = vec![
            tick(
                "mbp",
                utc(2026, 7, 11, 10, 0),
                &[("Slack", 100, 10), ("Safari", 5, 1)],
            ),
            tick("mbp", utc(2026, 7, 11, 10, 1), &[("Slack", 50, 5)]),
        ];
        let first = s.write(&batch).unwrap();
        assert_eq!((first.ticks_written, first.samples_written), (2, 3));
        let again = s.write(&batch).unwrap();
        assert_eq!((again.ticks_written, again.ticks_skipped), (0, 2));
        let day = NaiveDate::from_ymd_opt(2026, 7, 11).unwrap();
        let totals = s.day_totals(&HostFilter::All, day, tz("UTC")).unwrap();
        assert_eq!(
            totals,
            vec![
                AppTotal {
                    app: "Slack".into(),
                    bytes_in: 150,
                    bytes_out: 15
                },
                AppTotal {
                    app: "Safari".into(),
                    bytes_in: 5,
                    bytes_out: 1
                },
            ]
        );
        let sum = s.summary().unwrap();
        assert_eq!((sum.ticks, sum.samples), (2, 3));
    }

    #[test]
    fn another_tick_at_the_same_host_and_second_is_added_and_redeliveries_are_not() {
        let (_d, mut s) = open();
        let at = utc(2026, 7, 11, 10, 0);
        let first = tick("default", at, &[("Slack", 100, 10)]);
        // Another machine writing as "default" in the same second.
        let second = tick("default", at, &[("Slack", 999, 99), ("Mail", 5, 6)]);
        s.write(std::slice::from_ref(&first)).unwrap();
        let r = s.write(std::slice::from_ref(&first)).unwrap();
        assert_eq!(
            (r.ticks_written, r.ticks_skipped, r.ticks_merged),
            (0, 1, 0)
        );
        let r = s.write(std::slice::from_ref(&second)).unwrap();
        assert_eq!(
            (
                r.ticks_written,
                r.ticks_skipped,
                r.ticks_merged,
                r.samples_written
            ),
            (0, 0, 1, 1),
            "kept, and Mail is a new sample"
        );
        // Either message again, in any order, adds nothing more.
        let r = s.write(&[second.clone(), first.clone(), second]).unwrap();
        assert_eq!((r.ticks_skipped, r.ticks_merged), (3, 0));
        let day = at.date_naive();
        let totals = s.day_totals(&HostFilter::All, day, tz("UTC")).unwrap();
        assert_eq!(
            totals,
            vec![
                AppTotal {
                    app: "Slack".into(),
                    bytes_in: 1099,
                    bytes_out: 109
                },
                AppTotal {
                    app: "Mail".into(),
                    bytes_in: 5,
                    bytes_out: 6
                },
            ]
        );
        let hourly = s.hourly(&HostFilter::All, day, day, tz("UTC")).unwrap();
        let slack: u64 = hourly
            .iter()
            .filter(|h| h.app == "Slack")
            .map(|h| h.bytes_in)
            .sum();
        assert_eq!(slack, 1099, "the hourly sums agree with the ticks");
        let curve = s.day_curve(&HostFilter::All, day, tz("UTC"), 1).unwrap();
        let slack_curve: u64 = curve
            .apps
            .iter()
            .filter(|a| a.app == "Slack")
            .flat_map(|a| a.bytes_in.iter())
            .sum();
        assert_eq!(slack_curve, 1099);
        let cov = s.coverage(&HostFilter::All, day, day, tz("UTC")).unwrap();
        assert_eq!(cov[0].seconds, 60, "watched time is not counted twice");
        let summary = s.summary().unwrap();
        assert_eq!((summary.samples, summary.merged_ticks), (2, 1));
    }

    #[test]
    fn packed_samples_round_trip_and_damage_is_an_error() {
        let samples = vec![(1, 0, 0), (2, 127, 128), (300, u64::MAX >> 1, 1 << 40)];
        let blob = pack(&samples);
        let mut back = Vec::new();
        for_each_packed(&blob, |a, i, o| back.push((a, i, o))).unwrap();
        assert_eq!(back, samples);
        for cut in 1..blob.len() {
            let mut n = 0;
            let r = for_each_packed(&blob[..cut], |_, _, _| n += 1);
            // Either a clean prefix of whole triples or an error, never a panic.
            assert!(r.is_err() || n < samples.len(), "cut at {cut}");
        }
        assert!(for_each_packed(&[0xff; 11], |_, _, _| ()).is_err());

        let (_d, mut s) = open();
        let at = utc(2026, 7, 11, 10, 0);
        s.write(&[tick("h", at, &[("A", 1, 2)])]).unwrap();
        s.conn
            .execute("UPDATE ticks SET apps = x'ffff'", [])
            .unwrap();
        let err = s
            .day_curve(&HostFilter::All, at.date_naive(), tz("UTC"), 1)
            .unwrap_err();
        assert!(err.to_string().contains("damaged"), "{err}");
    }

    #[test]
    fn hosts_are_kept_apart_and_summed_for_all() {
        let (_d, mut s) = open();
        let at = utc(2026, 7, 11, 10, 0);
        s.write(&[
            tick("a", at, &[("Slack", 1, 0)]),
            tick("b", at, &[("Slack", 2, 0)]),
        ])
        .unwrap();
        let day = at.date_naive();
        let one = s
            .day_totals(&HostFilter::One("b".into()), day, tz("UTC"))
            .unwrap();
        assert_eq!(one[0].bytes_in, 2);
        let all = s.day_totals(&HostFilter::All, day, tz("UTC")).unwrap();
        assert_eq!(all[0].bytes_in, 3);
        assert!(s
            .day_totals(&HostFilter::One("nope".into()), day, tz("UTC"))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn hourly_buckets_by_local_hour_across_dst() {
        let (_d, mut s) = open();
        let berlin = tz("Europe/Berlin");
        // 2026-10-25: 02:00–03:00 local happens twice (00:00Z and 01:00Z).
        let ticks: Vec<Tick> = (0..25)
            .map(|h| {
                tick(
                    "mbp",
                    utc(2026, 10, 24, 22, 0) + chrono::Duration::hours(h),
                    &[("Mail", 10, 1)],
                )
            })
            .collect();
        s.write(&ticks).unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 10, 25).unwrap();
        let rows = s.hourly(&HostFilter::All, day, day, berlin).unwrap();
        assert_eq!(rows.len(), 24, "25 hours fold into 24 local hours");
        let two = rows.iter().find(|r| r.hour == 2).unwrap();
        assert_eq!(two.bytes_in, 20, "the repeated hour is summed");
        assert!(rows
            .iter()
            .filter(|r| r.hour != 2)
            .all(|r| r.bytes_in == 10));
        let cov = s.coverage(&HostFilter::All, day, day, berlin).unwrap();
        assert_eq!(cov.iter().find(|c| c.hour == 2).unwrap().seconds, 120);
        assert_eq!(cov.len(), 24);
    }

    #[test]
    fn half_hour_zones_read_raw_samples() {
        let (_d, mut s) = open();
        let kolkata = tz("Asia/Kolkata");
        // 18:29Z and 18:31Z straddle local midnight (00:00 IST = 18:30Z).
        s.write(&[
            tick("mbp", utc(2026, 7, 10, 18, 29), &[("Slack", 7, 0)]),
            tick("mbp", utc(2026, 7, 10, 18, 31), &[("Slack", 11, 0)]),
        ])
        .unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 7, 11).unwrap();
        let totals = s.day_totals(&HostFilter::All, day, kolkata).unwrap();
        assert_eq!(totals[0].bytes_in, 11);
        let rows = s.hourly(&HostFilter::All, day, day, kolkata).unwrap();
        assert_eq!((rows[0].hour, rows[0].bytes_in), (0, 11));
    }

    #[test]
    fn day_curve_buckets_at_the_requested_step() {
        let (_d, mut s) = open();
        s.write(&[
            tick("mbp", utc(2026, 7, 11, 0, 0), &[("Slack", 1, 2)]),
            tick("mbp", utc(2026, 7, 11, 0, 4), &[("Slack", 10, 20)]),
            tick(
                "mbp",
                utc(2026, 7, 11, 0, 5),
                &[("Slack", 100, 200), ("Music", 1000, 0)],
            ),
            tick("mbp", utc(2026, 7, 11, 23, 59), &[("Slack", 5, 5)]),
            tick("mbp", utc(2026, 7, 12, 0, 0), &[("Slack", 9999, 9999)]),
        ])
        .unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 7, 11).unwrap();
        let c = s.day_curve(&HostFilter::All, day, tz("UTC"), 5).unwrap();
        assert_eq!(c.buckets, 288);
        assert_eq!(c.apps[0].app, "Music");
        let slack = c.apps.iter().find(|a| a.app == "Slack").unwrap();
        assert_eq!(&slack.bytes_in[..2], &[11, 100]);
        assert_eq!(slack.bytes_out[287], 5);
        assert_eq!(slack.bytes_in.iter().sum::<u64>(), 116);
        assert!(s.day_curve(&HostFilter::All, day, tz("UTC"), 0).is_err());
        assert!(s.day_curve(&HostFilter::All, day, tz("UTC"), 61).is_err());
    }

    #[test]
    fn roll_ups_give_the_same_curves_as_the_raw_samples() {
        let (_d, mut s) = open();
        let ticks: Vec<Tick> = (0..600)
            .map(|m| {
                tick(
                    "mbp",
                    utc(2026, 3, 28, 20, 0) + chrono::Duration::minutes(m * 7),
                    &[("A", m as u64 + 1, 2), ("B", 3, m as u64 % 5)],
                )
            })
            .collect();
        s.write(&ticks).unwrap();
        for zone in [
            "Europe/Berlin",
            "UTC",
            "America/New_York",
            "Asia/Kolkata",
            "Asia/Kathmandu",
        ] {
            let day = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap();
            let minutes = s.day_curve(&HostFilter::All, day, tz(zone), 1).unwrap();
            for step in [5u32, 15, 60] {
                let coarse = s.day_curve(&HostFilter::All, day, tz(zone), step).unwrap();
                assert_eq!(coarse.buckets * step as usize, minutes.buckets, "{zone}");
                for (c, m) in coarse.apps.iter().zip(&minutes.apps) {
                    assert_eq!(c.app, m.app);
                    let folded: Vec<u64> = m
                        .bytes_in
                        .chunks(step as usize)
                        .map(|x| x.iter().sum())
                        .collect();
                    assert_eq!(c.bytes_in, folded, "{zone} step {step} {}", c.app);
                }
            }
            let hours = s.hourly(&HostFilter::All, day, day, tz(zone)).unwrap();
            let total: u64 = hours.iter().map(|h| h.bytes_in).sum();
            let raw: u64 = minutes.apps.iter().flat_map(|a| &a.bytes_in).sum();
            assert_eq!(total, raw, "{zone}");
        }
    }

    #[test]
    fn coverage_counts_ticks_without_traffic() {
        let (_d, mut s) = open();
        s.write(&[tick("mbp", utc(2026, 7, 11, 3, 0), &[])])
            .unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 7, 11).unwrap();
        let cov = s.coverage(&HostFilter::All, day, day, tz("UTC")).unwrap();
        assert_eq!(
            cov,
            vec![HourCoverage {
                day,
                hour: 3,
                seconds: 60
            }]
        );
        assert!(s
            .day_totals(&HostFilter::All, day, tz("UTC"))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_newer_schema_is_refused_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let err = SqliteStore::open(&path).err().unwrap();
        assert!(err.to_string().contains("schema 99"), "{err}");
    }

    #[test]
    fn a_failed_batch_leaves_no_trace_and_no_stale_ids() {
        let (_d, mut s) = open();
        // A trigger that fails the transaction after new names were inserted.
        s.conn
            .execute_batch(
                "CREATE TRIGGER boom BEFORE INSERT ON hourly WHEN NEW.bytes_in = 666
                 BEGIN SELECT RAISE(ABORT, 'boom'); END;",
            )
            .unwrap();
        let at = utc(2026, 7, 11, 10, 0);
        assert!(s.write(&[tick("h", at, &[("Evil", 666, 0)])]).is_err());
        s.conn.execute_batch("DROP TRIGGER boom").unwrap();
        s.write(&[tick("h", at, &[("Evil", 1, 0)])]).unwrap();
        let totals = s
            .day_totals(&HostFilter::One("h".into()), at.date_naive(), tz("UTC"))
            .unwrap();
        assert_eq!(totals[0].bytes_in, 1);
    }

    #[test]
    fn read_only_open_reads_without_writing() {
        let (d, mut s) = open();
        let at = utc(2026, 7, 11, 10, 0);
        s.write(&[tick("h", at, &[("A", 1, 0)])]).unwrap();
        let ro = SqliteStore::open_read_only(&d.path().join("nested/nbi.sqlite")).unwrap();
        assert_eq!(ro.summary().unwrap().ticks, 1);
        assert!(SqliteStore::open_read_only(&d.path().join("missing.sqlite")).is_err());
    }

    /// Ten days of minutes for three apps in Berlin, across the fall-back
    /// night of 25 Oct 2026.
    fn ten_days(s: &mut SqliteStore) -> Vec<Tick> {
        let start = utc(2026, 10, 20, 22, 0);
        let ticks: Vec<Tick> = (0..10 * 24 * 60)
            .map(|m| {
                let at = start + chrono::Duration::minutes(m);
                let k = (m % 97) as u64;
                tick(
                    "h",
                    at,
                    &[("A", 1000 + k, 10), ("B", k * k, 1), ("C, Inc", 7, k)],
                )
            })
            .collect();
        for batch in ticks.chunks(500) {
            s.write(batch).unwrap();
        }
        ticks
    }

    #[test]
    fn retention_keeps_every_answer_the_detector_and_history_read() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let (d, mut s) = open();
        s.keep_days_in(tz).unwrap();
        ten_days(&mut s);
        let host = HostFilter::One("h".into());
        let (from, to) = (
            NaiveDate::from_ymd_opt(2026, 10, 20).unwrap(),
            NaiveDate::from_ymd_opt(2026, 10, 31).unwrap(),
        );
        let before = (
            s.hourly(&host, from, to, tz).unwrap(),
            s.coverage(&host, from, to, tz).unwrap(),
            s.daily(&host, from, to, tz).unwrap(),
            s.day_curve(
                &host,
                NaiveDate::from_ymd_opt(2026, 10, 25).unwrap(),
                tz,
                60,
            )
            .unwrap(),
        );
        let size_before = s.summary().unwrap().file_bytes.unwrap();
        let cut = local_day_bounds(NaiveDate::from_ymd_opt(2026, 10, 27).unwrap(), tz).start;
        let deleted = s.prune_minutes(cut).unwrap();
        assert!(deleted > 5000, "{deleted}");
        assert_eq!(
            s.prune_minutes(cut).unwrap(),
            0,
            "pruning again deletes nothing"
        );
        let after = (
            s.hourly(&host, from, to, tz).unwrap(),
            s.coverage(&host, from, to, tz).unwrap(),
            s.daily(&host, from, to, tz).unwrap(),
            s.day_curve(
                &host,
                NaiveDate::from_ymd_opt(2026, 10, 25).unwrap(),
                tz,
                60,
            )
            .unwrap(),
        );
        assert_eq!(before, after);
        let summary = s.summary().unwrap();
        assert_eq!(summary.minute_data_from, Some(cut));
        // Six of ten days' ticks gone, and their pages given back.
        assert!(
            summary.file_bytes.unwrap() * 10 < size_before * 7,
            "{summary:?} vs {size_before}"
        );
        // A reader opened before the pruning sees it too.
        let ro = SqliteStore::open_read_only(&d.path().join("nested/nbi.sqlite")).unwrap();
        assert_eq!(ro.hourly(&host, from, to, tz).unwrap(), before.0);
        // A pruned day's quarter-hour curve comes in hours, with its bytes.
        let day = NaiveDate::from_ymd_opt(2026, 10, 25).unwrap();
        let curve = ro.day_curve(&host, day, tz, 15).unwrap();
        assert_eq!((curve.step_minutes, curve.buckets), (60, 25));
        let total = |c: &DayCurve| -> u64 {
            c.apps
                .iter()
                .flat_map(|a| a.bytes_in.iter().chain(&a.bytes_out))
                .sum()
        };
        assert_eq!(total(&curve), total(&before.3));
        // A kept day still has its minutes.
        let kept = NaiveDate::from_ymd_opt(2026, 10, 28).unwrap();
        assert_eq!(ro.day_curve(&host, kept, tz, 15).unwrap().step_minutes, 15);
    }

    #[test]
    fn an_export_of_pruned_days_comes_in_hours_with_the_same_bytes() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let (_d, mut s) = open();
        let ticks = ten_days(&mut s);
        let cut = utc(2026, 10, 26, 12, 0);
        s.prune_minutes(cut).unwrap();
        let mut seen = Vec::new();
        s.for_each_tick(
            &HostFilter::All,
            utc(2026, 10, 20, 0, 0),
            utc(2026, 11, 1, 0, 0),
            &mut |t| {
                seen.push(t);
                Ok(())
            },
        )
        .unwrap();
        let sums = |ts: &[Tick]| -> BTreeMap<String, (u64, u64)> {
            let mut m = BTreeMap::new();
            for t in ts {
                for a in &t.apps {
                    let e: &mut (u64, u64) = m.entry(a.app.clone()).or_default();
                    e.0 += a.bytes_in;
                    e.1 += a.bytes_out;
                }
            }
            m
        };
        assert_eq!(sums(&seen), sums(&ticks));
        assert!(seen.windows(2).all(|w| w[0].at < w[1].at), "in time order");
        let (hours, minutes): (Vec<&Tick>, Vec<&Tick>) = seen.iter().partition(|t| t.at < cut);
        assert!(hours.iter().all(|t| t.interval_s == 3600));
        // 20 Oct 22:00 to 26 Oct 12:00 UTC: one tick per hour.
        assert_eq!(hours.len(), 5 * 24 + 14);
        assert!(minutes.iter().all(|t| t.interval_s == 60));
        let _ = tz;
    }

    #[test]
    fn the_daily_sums_follow_a_change_of_zone() {
        let (_d, mut s) = open();
        ten_days(&mut s);
        let host = HostFilter::All;
        let (from, to) = (
            NaiveDate::from_ymd_opt(2026, 10, 19).unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        );
        for zone in ["Europe/Berlin", "Asia/Kolkata", "America/Los_Angeles"] {
            let tz: Tz = zone.parse().unwrap();
            s.keep_days_in(tz).unwrap();
            let from_daily = s.daily(&host, from, to, tz).unwrap();
            let from_hours = answer::daily_from_hourly(s.hourly(&host, from, to, tz).unwrap());
            assert_eq!(from_daily, from_hours, "{zone}");
            assert_eq!(s.meta(META_DAILY_ZONE).unwrap().as_deref(), Some(zone));
        }
    }

    #[test]
    fn a_message_delivered_again_after_its_day_was_pruned_counts_once() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let (_d, mut s) = open();
        s.keep_days_in(tz).unwrap();
        let ticks = ten_days(&mut s);
        let host = HostFilter::One("h".into());
        let (from, to) = (
            NaiveDate::from_ymd_opt(2026, 10, 20).unwrap(),
            NaiveDate::from_ymd_opt(2026, 10, 31).unwrap(),
        );
        let before = s.daily(&host, from, to, tz).unwrap();
        let cut = utc(2026, 10, 27, 0, 0);
        assert!(s.prune_minutes(cut).unwrap() > 0);
        // The whole history again (a spool replayed, a file imported twice).
        let mut again = WriteReport::default();
        for batch in ticks.chunks(700) {
            let r = s.write(batch).unwrap();
            again.ticks_skipped += r.ticks_skipped;
            again.ticks_written += r.ticks_written;
        }
        assert_eq!((again.ticks_written, again.ticks_skipped), (0, ticks.len()));
        assert_eq!(s.daily(&host, from, to, tz).unwrap(), before);
        // Another message at a pruned key is added, once.
        let other = tick("h", ticks[0].at, &[("A", 5, 0)]);
        assert_eq!(
            s.write(std::slice::from_ref(&other)).unwrap().ticks_merged,
            1
        );
        assert_eq!(
            s.write(std::slice::from_ref(&other)).unwrap().ticks_skipped,
            1
        );
        assert_eq!(
            s.write(std::slice::from_ref(&ticks[0]))
                .unwrap()
                .ticks_skipped,
            1
        );
        let after = s.daily(&host, from, to, tz).unwrap();
        let a = |rows: &[DailyUsage]| -> u64 {
            rows.iter()
                .filter(|r| r.app == "A")
                .map(|r| r.bytes_in)
                .sum()
        };
        assert_eq!(a(&after), a(&before) + 5);
    }
}
