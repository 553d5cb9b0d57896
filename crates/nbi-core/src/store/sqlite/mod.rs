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

mod breakdown;
mod daily;
mod destinations;
mod networks;
mod packed;
mod query;
mod retention;
mod rows;
mod schema;
#[cfg(test)]
mod tests;
mod verdicts;
mod write;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::store::error::StoreError;
use crate::store::usage::HostFilter;
use rows::{file_uri, sqlite_err};
use schema::{check_ours, check_version, APPLICATION_ID, SCHEMA, SCHEMA_VERSION};

/// An open SQLite store.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    hosts: HashMap<String, i64>,
    apps: HashMap<String, i64>,
    /// Address ids, by the address's text.
    addresses: HashMap<String, i64>,
    /// Network ids, by the id's text.
    networks: HashMap<String, i64>,
    /// The destination tables exist (a version 1 file opened read-only
    /// has none).
    has_destinations: bool,
    /// The network tables exist (not in a version 1 or 2 file opened
    /// read-only).
    has_networks: bool,
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

/// Creates `path` empty and 0600 when it does not exist (an empty file is
/// an empty SQLite database), so the database is never open to others.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(crate::files::FILE_MODE);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` for reading and writing.
    ///
    /// The file is its owner's alone: made 0600 (SQLite gives its `-wal`
    /// and `-shm` the same mode) in a directory made 0700; a file an older
    /// version left open to others is tightened, with a log line. A file
    /// that is not nbi's database is refused and left as it was.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let io = |at: &Path| {
            let at = at.display().to_string();
            move |source| StoreError::Io { path: at, source }
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::files::create_dir_private(dir).map_err(io(dir))?;
            if dir == crate::paths::data_dir() {
                crate::files::tighten(dir);
            }
        }
        create_private(path).map_err(io(path))?;
        for suffix in ["", "-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            crate::files::tighten(Path::new(&name));
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
        check_ours(&conn, path)?;
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
        check_ours(&conn, path)?;
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
            "BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; PRAGMA application_id = {APPLICATION_ID}; COMMIT;"
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
            addresses: HashMap::new(),
            networks: HashMap::new(),
            has_destinations: false,
            has_networks: false,
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
        store.has_destinations = store.has_table("destinations_hourly")?;
        store.has_networks = store.has_table("networks_hourly")?;
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

    fn has_table(&self, name: &str) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [name],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(|e| self.err(e))
    }

    pub fn path(&self) -> &Path {
        &self.path
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

    pub(super) fn err(&self, e: rusqlite::Error) -> StoreError {
        sqlite_err(&self.path, e)
    }

    pub(super) fn host_id_for_query(
        &self,
        host: &HostFilter,
    ) -> Result<Option<Option<i64>>, StoreError> {
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

    pub(super) fn host_names(&self) -> Result<HashMap<i64, String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, name FROM hosts")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    pub(super) fn app_names(&self) -> Result<HashMap<i64, String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, name FROM apps")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }
}
