//! The database's tables, and which versions of them this build reads.

use std::path::Path;

use rusqlite::Connection;

use super::rows::sqlite_err;
use crate::store::error::StoreError;

/// nbi's tables. A database holding any other is another program's.
pub(super) const TABLES: &[&str] = &[
    "hosts",
    "apps",
    "ticks",
    "hourly",
    "daily",
    "coverage",
    "verdicts",
    "merged",
    "pruned",
    "counters",
    "meta",
    "addresses",
    "tick_destinations",
    "destinations_hourly",
    "destinations_daily",
    "networks",
    "tick_networks",
    "networks_hourly",
    "networks_daily",
];

/// SQLite's `application_id` of nbi's databases: "nbi1".
pub(super) const APPLICATION_ID: i64 = 0x6e62_6931;

/// Refuses a database that is not nbi's (another program's id in its
/// header, or tables nbi does not have), before anything is written to it:
/// `--db` pointed at someone else's file must leave that file as it was.
pub(super) fn check_ours(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let e = |err| sqlite_err(path, err);
    let id: i64 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(e)?;
    let foreign = |reason: String| StoreError::Foreign {
        path: path.display().to_string(),
        reason,
    };
    if id != 0 && id != APPLICATION_ID {
        return Err(foreign(format!("its application id is {id:#x}")));
    }
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .map_err(e)?;
    let others: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(e)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(e)?
        .into_iter()
        .filter(|t| !TABLES.contains(&t.as_str()))
        .collect();
    if !others.is_empty() {
        let shown: Vec<&str> = others.iter().take(5).map(String::as_str).collect();
        return Err(foreign(format!(
            "it holds tables nbi does not have ({}{})",
            shown.join(", "),
            if others.len() > 5 { ", …" } else { "" }
        )));
    }
    Ok(())
}

/// 2: destinations (`addresses`, `tick_destinations`, `destinations_hourly`,
/// `destinations_daily`), created in place in a version 1 file.
/// 3: networks (`networks`, `tick_networks`, `networks_hourly`,
/// `networks_daily`), likewise in a version 1 or 2 file.
pub(super) const SCHEMA_VERSION: i64 = 3;

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
-- Remote addresses, in their canonical text form.
CREATE TABLE IF NOT EXISTS addresses (id INTEGER PRIMARY KEY, address TEXT NOT NULL UNIQUE);
-- Where a tick's bytes went: (app_id, address_id, bytes_in, bytes_out)
-- varints by app then address; no row when the tick had none. Pruned with
-- its tick.
-- A rowid table: its blobs run to kilobytes, which a rowid table keeps
-- on the b-tree page where a WITHOUT ROWID one spills each into overflow
-- pages of their own (four times the file).
CREATE TABLE IF NOT EXISTS tick_destinations (
    ts INTEGER NOT NULL, host_id INTEGER NOT NULL, packed BLOB NOT NULL,
    PRIMARY KEY (ts, host_id));
CREATE TABLE IF NOT EXISTS destinations_hourly (
    hour_ts INTEGER NOT NULL, host_id INTEGER NOT NULL, app_id INTEGER NOT NULL,
    address_id INTEGER NOT NULL, bytes_in INTEGER NOT NULL, bytes_out INTEGER NOT NULL,
    PRIMARY KEY (hour_ts, host_id, app_id, address_id)) WITHOUT ROWID;
-- Per local day of the zone in meta `daily_zone`, as `daily` is.
CREATE TABLE IF NOT EXISTS destinations_daily (
    day INTEGER NOT NULL, host_id INTEGER NOT NULL, app_id INTEGER NOT NULL,
    address_id INTEGER NOT NULL, bytes_in INTEGER NOT NULL, bytes_out INTEGER NOT NULL,
    PRIMARY KEY (day, host_id, app_id, address_id)) WITHOUT ROWID;
-- Networks, by their id (`wifi:Home`): what the OS called them and
-- whether it said they are metered (NULL: it did not say), the owner's
-- name and flag (NULL: none given), and the first and last second a tick
-- had bytes on them.
CREATE TABLE IF NOT EXISTS networks (
    id INTEGER PRIMARY KEY, network TEXT NOT NULL UNIQUE,
    os_name TEXT, os_metered INTEGER, owner_name TEXT, owner_metered INTEGER,
    first_seen INTEGER, last_seen INTEGER);
-- Over which network a tick's bytes went: (app_id, network_id, bytes_in,
-- bytes_out) varints by app then network, as `tick_destinations`.
CREATE TABLE IF NOT EXISTS tick_networks (
    ts INTEGER NOT NULL, host_id INTEGER NOT NULL, packed BLOB NOT NULL,
    PRIMARY KEY (ts, host_id));
CREATE TABLE IF NOT EXISTS networks_hourly (
    hour_ts INTEGER NOT NULL, host_id INTEGER NOT NULL, app_id INTEGER NOT NULL,
    network_id INTEGER NOT NULL, bytes_in INTEGER NOT NULL, bytes_out INTEGER NOT NULL,
    PRIMARY KEY (hour_ts, host_id, app_id, network_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS networks_daily (
    day INTEGER NOT NULL, host_id INTEGER NOT NULL, app_id INTEGER NOT NULL,
    network_id INTEGER NOT NULL, bytes_in INTEGER NOT NULL, bytes_out INTEGER NOT NULL,
    PRIMARY KEY (day, host_id, app_id, network_id)) WITHOUT ROWID;
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
