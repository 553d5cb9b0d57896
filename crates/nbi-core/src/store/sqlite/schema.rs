//! The database's tables, and which versions of them this build reads.

use std::path::Path;

use crate::store::error::StoreError;

pub(super) const SCHEMA_VERSION: i64 = 1;

pub(super) const SCHEMA: &str = "
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

pub(super) fn check_version(path: &Path, found: i64) -> Result<(), StoreError> {
    if found > SCHEMA_VERSION {
        return Err(StoreError::Schema {
            path: path.display().to_string(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}
