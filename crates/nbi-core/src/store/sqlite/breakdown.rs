//! The breakdowns kept beside each app's bytes — where they went
//! (destinations) and over which network — in one shape: each tick's
//! parts packed beside it, and their hourly and daily sums per (host, app,
//! key), kept for ever like `hourly` and `daily`.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use rusqlite::{params, OptionalExtension};

use super::packed::varint;
use super::rows::{clamp, int_at};
use super::SqliteStore;
use crate::store::error::StoreError;
use crate::store::timeline::local_day_hour;
use crate::store::usage::HostFilter;
use crate::store::DayBounds;
use crate::tick::Flow;

/// One app's bytes under one key: (app id, key id, in, out).
pub(super) type Part = (i64, i64, u64, u64);

/// Bytes (in, out) per (app id, key id).
pub(super) type KeySums = BTreeMap<(i64, i64), (u64, u64)>;

/// Bytes per (local day, local hour, app, key).
pub(super) type HourSums<K> = BTreeMap<(NaiveDate, u8, String, K), Flow>;

/// Parts by (ts or hour, host id), then app id, then key.
pub(super) type Placed<K> = BTreeMap<(i64, i64), BTreeMap<i64, BTreeMap<K, Flow>>>;

/// The tables of one breakdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Breakdown {
    /// Per tick, packed; pruned with the minutes.
    pub tick: &'static str,
    pub hourly: &'static str,
    pub daily: &'static str,
    /// The key's column in `hourly` and `daily`.
    pub key: &'static str,
    /// Each key's row id and its text.
    pub keys: &'static str,
    /// What a damaged row is called in an error.
    pub what: &'static str,
}

pub(super) const DESTINATIONS: Breakdown = Breakdown {
    tick: "tick_destinations",
    hourly: "destinations_hourly",
    daily: "destinations_daily",
    key: "address_id",
    keys: "SELECT id, address FROM addresses",
    what: "destinations",
};

pub(super) const NETWORKS: Breakdown = Breakdown {
    tick: "tick_networks",
    hourly: "networks_hourly",
    daily: "networks_daily",
    key: "network_id",
    keys: "SELECT id, network FROM networks",
    what: "networks",
};

/// Packs parts, sorted by app then key, as LEB128 varints.
pub(super) fn pack(parts: &[Part]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.len() * 10);
    for &(app, key, i, o) in parts {
        varint::put(&mut out, app.max(0) as u64);
        varint::put(&mut out, key.max(0) as u64);
        varint::put(&mut out, i.min(i64::MAX as u64));
        varint::put(&mut out, o.min(i64::MAX as u64));
    }
    out
}

/// The parts of a packed blob; `Err` if it is cut or malformed.
pub(super) fn unpack(mut blob: &[u8]) -> Result<Vec<Part>, ()> {
    let mut out = Vec::new();
    while !blob.is_empty() {
        let app = varint::take(&mut blob)?;
        let key = varint::take(&mut blob)?;
        let i = varint::take(&mut blob)?;
        let o = varint::take(&mut blob)?;
        out.push((
            i64::try_from(app).map_err(|_| ())?,
            i64::try_from(key).map_err(|_| ())?,
            i,
            o,
        ));
    }
    Ok(out)
}

/// Two sorted part lists added key by key.
pub(super) fn sum(a: &[Part], b: &[Part]) -> Vec<Part> {
    let mut out: BTreeMap<(i64, i64), (u64, u64)> = BTreeMap::new();
    for &(app, key, i, o) in a.iter().chain(b) {
        let e = out.entry((app, key)).or_default();
        e.0 = e.0.saturating_add(i);
        e.1 = e.1.saturating_add(o);
    }
    out.into_iter()
        .map(|((app, key), (i, o))| (app, key, i, o))
        .collect()
}

impl Breakdown {
    /// Adds one tick's parts: to its packed row (`stored`: the tick row
    /// exists, as opposed to a pruned one), to the hourly sums, and to the
    /// daily ones of local `day` when they are kept.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn add(
        &self,
        tx: &rusqlite::Transaction<'_>,
        ts: i64,
        hour_ts: i64,
        day: Option<i32>,
        host_id: i64,
        parts: &[Part],
        stored: bool,
    ) -> rusqlite::Result<()> {
        if parts.is_empty() {
            return Ok(());
        }
        let t = self.tick;
        if stored {
            let old: Option<Vec<u8>> = tx
                .prepare_cached(&format!(
                    "SELECT packed FROM {t} WHERE ts = ?1 AND host_id = ?2"
                ))?
                .query_row(params![ts, host_id], |r| r.get(0))
                .optional()?;
            // A damaged row is replaced rather than stopping every write.
            let old = old.and_then(|b| unpack(&b).ok()).unwrap_or_default();
            tx.prepare_cached(&format!(
                "INSERT INTO {t} (ts, host_id, packed) VALUES (?1, ?2, ?3)
                 ON CONFLICT (ts, host_id) DO UPDATE SET packed = excluded.packed"
            ))?
            .execute(params![ts, host_id, pack(&sum(&old, parts))])?;
        }
        let (h, k) = (self.hourly, self.key);
        let mut hourly = tx.prepare_cached(&format!(
            "INSERT INTO {h} (hour_ts, host_id, app_id, {k}, bytes_in, bytes_out)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (hour_ts, host_id, app_id, {k}) DO UPDATE SET
               bytes_in = min(bytes_in + excluded.bytes_in, 9223372036854775807),
               bytes_out = min(bytes_out + excluded.bytes_out, 9223372036854775807)"
        ))?;
        for &(app, key, i, o) in parts {
            hourly.execute(params![hour_ts, host_id, app, key, clamp(i), clamp(o)])?;
        }
        if let Some(day) = day {
            let d = self.daily;
            let mut daily = tx.prepare_cached(&format!(
                "INSERT INTO {d} (day, host_id, app_id, {k}, bytes_in, bytes_out)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (day, host_id, app_id, {k}) DO UPDATE SET
                   bytes_in = min(bytes_in + excluded.bytes_in, 9223372036854775807),
                   bytes_out = min(bytes_out + excluded.bytes_out, 9223372036854775807)"
            ))?;
            for &(app, key, i, o) in parts {
                daily.execute(params![day, host_id, app, key, clamp(i), clamp(o)])?;
            }
        }
        Ok(())
    }

    /// Rebuilds the daily sums in the zone of `day_of`: from the hourly
    /// sums before `cut` (pruned minutes), from the ticks after.
    pub(super) fn rebuild_daily(
        &self,
        tx: &rusqlite::Transaction<'_>,
        cut: i64,
        mut day_of: impl FnMut(i64) -> i32,
    ) -> rusqlite::Result<()> {
        let (t, h, d, k) = (self.tick, self.hourly, self.daily, self.key);
        tx.execute(&format!("DELETE FROM {d}"), [])?;
        let mut sums: BTreeMap<(i32, i64, i64, i64), (u64, u64)> = BTreeMap::new();
        {
            let mut hourly = tx.prepare(&format!(
                "SELECT hour_ts, host_id, app_id, {k}, bytes_in, bytes_out
                 FROM {h} WHERE hour_ts < ?1"
            ))?;
            let mut rows = hourly.query([cut])?;
            while let Some(r) = rows.next()? {
                let key = (
                    day_of(int_at(r, 0)),
                    int_at(r, 1),
                    int_at(r, 2),
                    int_at(r, 3),
                );
                let e = sums.entry(key).or_default();
                e.0 = e.0.saturating_add(int_at(r, 4).max(0) as u64);
                e.1 = e.1.saturating_add(int_at(r, 5).max(0) as u64);
            }
            let mut ticks = tx.prepare(&format!(
                "SELECT ts, host_id, packed FROM {t} WHERE ts >= ?1"
            ))?;
            let mut rows = ticks.query([cut])?;
            while let Some(r) = rows.next()? {
                let (day, host) = (day_of(int_at(r, 0)), int_at(r, 1));
                let blob = r.get_ref(2)?.as_blob().unwrap_or(&[]);
                // A damaged blob is reported by the queries that read it.
                for (app, key, i, o) in unpack(blob).unwrap_or_default() {
                    let e = sums.entry((day, host, app, key)).or_default();
                    e.0 = e.0.saturating_add(i);
                    e.1 = e.1.saturating_add(o);
                }
            }
        }
        let mut insert = tx.prepare(&format!(
            "INSERT INTO {d} (day, host_id, app_id, {k}, bytes_in, bytes_out)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
        ))?;
        for ((day, host, app, key), (i, o)) in sums {
            insert.execute(params![day, host, app, key, clamp(i), clamp(o)])?;
        }
        Ok(())
    }
}

impl SqliteStore {
    /// Whether the tables of breakdown `b` exist (not in an older file
    /// opened read-only).
    pub(super) fn has(&self, b: Breakdown) -> bool {
        if b == NETWORKS {
            self.has_networks
        } else {
            self.has_destinations
        }
    }

    /// Every key of breakdown `b` by row id, read by `parse`; a text it
    /// does not read (nbi writes only parsed keys) is skipped.
    pub(super) fn keys_of<K>(
        &self,
        b: Breakdown,
        parse: impl Fn(String) -> Option<K>,
    ) -> Result<BTreeMap<i64, K>, StoreError> {
        if !self.has(b) {
            return Ok(BTreeMap::new());
        }
        let mut stmt = self.conn.prepare_cached(b.keys).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.err(e))?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (id, text) = row.map_err(|e| self.err(e))?;
            if let Some(key) = parse(text) {
                out.insert(id, key);
            }
        }
        Ok(out)
    }

    /// The hourly sums of the local days `from..=to`, each UTC hour placed
    /// at the local hour it starts in and summed there (over hosts, and
    /// over the two hours a fall-back repeats), keys named by `keys`.
    pub(super) fn by_local_hour<K: Ord + Clone>(
        &self,
        b: Breakdown,
        keys: &BTreeMap<i64, K>,
        host: &HostFilter,
        from: NaiveDate,
        to: NaiveDate,
        tz: Tz,
    ) -> Result<HourSums<K>, StoreError> {
        let bounds = crate::store::answer::range(from, to, tz)?;
        let mut sums = HourSums::new();
        let Some(host_id) = self.host_id_for_query(host)? else {
            return Ok(sums);
        };
        let found = self.hourly_parts(
            b,
            keys,
            host_id,
            bounds.start.timestamp(),
            bounds.end.timestamp(),
        )?;
        let apps = self.app_names()?;
        for ((ts, _host), by_app) in found {
            let at = DateTime::from_timestamp(ts, 0).unwrap_or_default();
            let (day, hour) = local_day_hour(at, tz);
            for (app_id, parts) in by_app {
                let Some(app) = apps.get(&app_id) else {
                    continue;
                };
                for (key, f) in parts {
                    sums.entry((day, hour, app.clone(), key))
                        .or_default()
                        .add(f);
                }
            }
        }
        Ok(sums)
    }

    /// The parts of the ticks at `[start, end)` (minute rows), by (ts, host
    /// id) then app id, keys named by `keys` (a key it lacks is skipped).
    pub(super) fn tick_parts<K: Ord + Clone>(
        &self,
        b: Breakdown,
        keys: &BTreeMap<i64, K>,
        host: Option<i64>,
        start: i64,
        end: i64,
    ) -> Result<Placed<K>, StoreError> {
        let mut out = Placed::new();
        if !self.has(b) || start >= end {
            return Ok(out);
        }
        self.each_row_in(
            &format!(
                "SELECT ts, host_id, packed FROM {}
                 WHERE ts >= ?1 AND ts < ?2 AND (?3 IS NULL OR host_id = ?3)",
                b.tick
            ),
            host,
            bounds(start, end),
            |r| {
                let ts = int_at(r, 0);
                let blob = r
                    .get_ref(2)
                    .ok()
                    .and_then(|v| v.as_blob().ok())
                    .unwrap_or(&[]);
                let parts = unpack(blob).map_err(|()| StoreError::Corrupt {
                    path: self.path.display().to_string(),
                    what: format!("the {} of the tick at {ts}", b.what),
                })?;
                let apps = out.entry((ts, int_at(r, 1))).or_default();
                for (app, key, i, o) in parts {
                    if let Some(k) = keys.get(&key) {
                        apps.entry(app)
                            .or_default()
                            .insert(k.clone(), Flow::new(i, o));
                    }
                }
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// The hourly sums of the hours at `[start, end)`, by (hour, host id)
    /// then app id, keys named by `keys`.
    pub(super) fn hourly_parts<K: Ord + Clone>(
        &self,
        b: Breakdown,
        keys: &BTreeMap<i64, K>,
        host: Option<i64>,
        start: i64,
        end: i64,
    ) -> Result<Placed<K>, StoreError> {
        let mut out = Placed::new();
        if !self.has(b) || start >= end {
            return Ok(out);
        }
        self.each_row_in(
            &format!(
                "SELECT hour_ts, host_id, app_id, {}, bytes_in, bytes_out FROM {}
                 WHERE hour_ts >= ?1 AND hour_ts < ?2 AND (?3 IS NULL OR host_id = ?3)",
                b.key, b.hourly
            ),
            host,
            bounds(start, end),
            |r| {
                if let Some(k) = keys.get(&int_at(r, 3)) {
                    let flow = Flow::new(int_at(r, 4).max(0) as u64, int_at(r, 5).max(0) as u64);
                    out.entry((int_at(r, 0), int_at(r, 1)))
                        .or_default()
                        .entry(int_at(r, 2))
                        .or_default()
                        .insert(k.clone(), flow);
                }
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// Per (app id, key id), the bytes of the local days `from..=to` (hours
    /// that start inside them): from the daily sums when they are kept in
    /// `tz`, else from the hourly ones.
    pub(super) fn totals_by_key(
        &self,
        b: Breakdown,
        host_id: Option<i64>,
        from: NaiveDate,
        to: NaiveDate,
        tz: Tz,
    ) -> Result<KeySums, StoreError> {
        let range = crate::store::answer::range(from, to, tz)?;
        let mut sums = KeySums::new();
        if !self.has(b) {
            return Ok(sums);
        }
        let mut add = |r: &rusqlite::Row<'_>| {
            let e = sums.entry((int_at(r, 0), int_at(r, 1))).or_default();
            e.0 = e.0.saturating_add(int_at(r, 2).max(0) as u64);
            e.1 = e.1.saturating_add(int_at(r, 3).max(0) as u64);
            Ok(())
        };
        if self.daily_zone == Some(tz) {
            // The daily sums in this zone: a month is a few thousand rows.
            let mut stmt = self
                .conn
                .prepare_cached(&format!(
                    "SELECT app_id, {k}, sum(bytes_in), sum(bytes_out) FROM {d}
                     WHERE day >= ?1 AND day <= ?2 AND (?3 IS NULL OR host_id = ?3)
                     GROUP BY app_id, {k}",
                    k = b.key,
                    d = b.daily
                ))
                .map_err(|e| self.err(e))?;
            let mut rows = stmt
                .query(params![
                    from.num_days_from_ce(),
                    to.num_days_from_ce(),
                    host_id
                ])
                .map_err(|e| self.err(e))?;
            while let Some(r) = rows.next().map_err(|e| self.err(e))? {
                add(r)?;
            }
        } else {
            self.each_row_in(
                &format!(
                    "SELECT app_id, {k}, sum(bytes_in), sum(bytes_out) FROM {h}
                     WHERE hour_ts >= ?1 AND hour_ts < ?2 AND (?3 IS NULL OR host_id = ?3)
                     GROUP BY app_id, {k}",
                    k = b.key,
                    h = b.hourly
                ),
                host_id,
                range,
                add,
            )?;
        }
        Ok(sums)
    }
}

fn bounds(start: i64, end: i64) -> DayBounds {
    DayBounds {
        start: DateTime::<Utc>::from_timestamp(start, 0).unwrap_or_default(),
        end: DateTime::<Utc>::from_timestamp(end, 0).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_pack_and_unpack_and_add_up() {
        let a = vec![(1, 1, 10, 1), (1, 2, 5, 0), (3, 1, u64::MAX >> 1, 7)];
        assert_eq!(unpack(&pack(&a)).unwrap(), a);
        let b = vec![(1, 2, 1, 1), (2, 9, 4, 4)];
        assert_eq!(
            sum(&a, &b),
            vec![
                (1, 1, 10, 1),
                (1, 2, 6, 1),
                (2, 9, 4, 4),
                (3, 1, u64::MAX >> 1, 7)
            ]
        );
        assert!(unpack(&[0x80]).is_err(), "a cut varint");
        assert!(unpack(&pack(&a)[..3]).is_err(), "a cut part");
    }
}
