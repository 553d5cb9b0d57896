//! Where bytes went: each tick's destinations packed beside it, and their
//! hourly sums per (host, app, address), kept for ever like `hourly`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use rusqlite::{params, OptionalExtension};

use super::packed::varint;
use super::rows::{clamp, int_at};
use super::SqliteStore;
use crate::store::error::StoreError;
use crate::store::usage::{DestinationTotal, HostFilter};
use crate::store::DayBounds;
use crate::tick::{Destinations, Flow};

/// One app's bytes to one address: (app id, address id, in, out).
pub(super) type Part = (i64, i64, u64, u64);

/// Destinations by (ts, host id), then app id.
pub(super) type Placed = BTreeMap<(i64, i64), BTreeMap<i64, Destinations>>;

/// Packs parts, sorted by app then address, as LEB128 varints.
pub(super) fn pack(parts: &[Part]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.len() * 10);
    for &(app, addr, i, o) in parts {
        varint::put(&mut out, app.max(0) as u64);
        varint::put(&mut out, addr.max(0) as u64);
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
        let addr = varint::take(&mut blob)?;
        let i = varint::take(&mut blob)?;
        let o = varint::take(&mut blob)?;
        out.push((
            i64::try_from(app).map_err(|_| ())?,
            i64::try_from(addr).map_err(|_| ())?,
            i,
            o,
        ));
    }
    Ok(out)
}

/// Two sorted part lists added key by key.
pub(super) fn sum(a: &[Part], b: &[Part]) -> Vec<Part> {
    let mut out: BTreeMap<(i64, i64), (u64, u64)> = BTreeMap::new();
    for &(app, addr, i, o) in a.iter().chain(b) {
        let e = out.entry((app, addr)).or_default();
        e.0 = e.0.saturating_add(i);
        e.1 = e.1.saturating_add(o);
    }
    out.into_iter()
        .map(|((app, addr), (i, o))| (app, addr, i, o))
        .collect()
}

/// Adds one tick's parts: to its packed row (`stored`: the tick row
/// exists, as opposed to a pruned one), to the hourly sums, and to the
/// daily ones of local `day` when they are kept.
pub(super) fn add(
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
    if stored {
        let old: Option<Vec<u8>> = tx
            .prepare_cached("SELECT packed FROM tick_destinations WHERE ts = ?1 AND host_id = ?2")?
            .query_row(params![ts, host_id], |r| r.get(0))
            .optional()?;
        // A damaged row is replaced rather than stopping every write.
        let old = old.and_then(|b| unpack(&b).ok()).unwrap_or_default();
        tx.prepare_cached(
            "INSERT INTO tick_destinations (ts, host_id, packed) VALUES (?1, ?2, ?3)
             ON CONFLICT (ts, host_id) DO UPDATE SET packed = excluded.packed",
        )?
        .execute(params![ts, host_id, pack(&sum(&old, parts))])?;
    }
    let mut hourly = tx.prepare_cached(
        "INSERT INTO destinations_hourly (hour_ts, host_id, app_id, address_id, bytes_in, bytes_out)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (hour_ts, host_id, app_id, address_id) DO UPDATE SET
           bytes_in = min(bytes_in + excluded.bytes_in, 9223372036854775807),
           bytes_out = min(bytes_out + excluded.bytes_out, 9223372036854775807)",
    )?;
    for &(app, addr, i, o) in parts {
        hourly.execute(params![hour_ts, host_id, app, addr, clamp(i), clamp(o)])?;
    }
    if let Some(day) = day {
        let mut daily = tx.prepare_cached(
            "INSERT INTO destinations_daily (day, host_id, app_id, address_id, bytes_in, bytes_out)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (day, host_id, app_id, address_id) DO UPDATE SET
               bytes_in = min(bytes_in + excluded.bytes_in, 9223372036854775807),
               bytes_out = min(bytes_out + excluded.bytes_out, 9223372036854775807)",
        )?;
        for &(app, addr, i, o) in parts {
            daily.execute(params![day, host_id, app, addr, clamp(i), clamp(o)])?;
        }
    }
    Ok(())
}

/// Rebuilds the daily destination sums in the zone of `day_of`: from the
/// hourly sums before `cut` (pruned minutes), from the ticks after.
pub(super) fn rebuild_daily(
    tx: &rusqlite::Transaction<'_>,
    cut: i64,
    mut day_of: impl FnMut(i64) -> i32,
) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM destinations_daily", [])?;
    let mut sums: BTreeMap<(i32, i64, i64, i64), (u64, u64)> = BTreeMap::new();
    {
        let mut hourly = tx.prepare(
            "SELECT hour_ts, host_id, app_id, address_id, bytes_in, bytes_out
             FROM destinations_hourly WHERE hour_ts < ?1",
        )?;
        let mut rows = hourly.query([cut])?;
        while let Some(r) = rows.next()? {
            let e = sums
                .entry((
                    day_of(int_at(r, 0)),
                    int_at(r, 1),
                    int_at(r, 2),
                    int_at(r, 3),
                ))
                .or_default();
            e.0 = e.0.saturating_add(int_at(r, 4).max(0) as u64);
            e.1 = e.1.saturating_add(int_at(r, 5).max(0) as u64);
        }
        let mut ticks =
            tx.prepare("SELECT ts, host_id, packed FROM tick_destinations WHERE ts >= ?1")?;
        let mut rows = ticks.query([cut])?;
        while let Some(r) = rows.next()? {
            let (day, host) = (day_of(int_at(r, 0)), int_at(r, 1));
            let blob = r.get_ref(2)?.as_blob().unwrap_or(&[]);
            // A damaged blob is reported by the queries that read it.
            for (app, addr, i, o) in unpack(blob).unwrap_or_default() {
                let e = sums.entry((day, host, app, addr)).or_default();
                e.0 = e.0.saturating_add(i);
                e.1 = e.1.saturating_add(o);
            }
        }
    }
    let mut insert = tx.prepare(
        "INSERT INTO destinations_daily (day, host_id, app_id, address_id, bytes_in, bytes_out)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for ((day, host, app, addr), (i, o)) in sums {
        insert.execute(params![day, host, app, addr, clamp(i), clamp(o)])?;
    }
    Ok(())
}

impl SqliteStore {
    /// Every address id and its address.
    pub(super) fn address_names(&self) -> Result<BTreeMap<i64, IpAddr>, StoreError> {
        if !self.has_destinations {
            return Ok(BTreeMap::new());
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, address FROM addresses")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.err(e))?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (id, text) = row.map_err(|e| self.err(e))?;
            // Written by us from parsed addresses: anything else is skipped.
            if let Ok(addr) = text.parse() {
                out.insert(id, addr);
            }
        }
        Ok(out)
    }

    /// The destinations of the ticks at `[start, end)` (minute rows), by
    /// (ts, host id) then app id.
    pub(super) fn tick_destinations(
        &self,
        host: Option<i64>,
        start: i64,
        end: i64,
    ) -> Result<Placed, StoreError> {
        let mut out = Placed::new();
        if !self.has_destinations || start >= end {
            return Ok(out);
        }
        let addresses = self.address_names()?;
        let bounds = bounds(start, end);
        self.each_row_in(
            "SELECT ts, host_id, packed FROM tick_destinations
             WHERE ts >= ?1 AND ts < ?2 AND (?3 IS NULL OR host_id = ?3)",
            host,
            bounds,
            |r| {
                let ts = int_at(r, 0);
                let blob = r
                    .get_ref(2)
                    .ok()
                    .and_then(|v| v.as_blob().ok())
                    .unwrap_or(&[]);
                let parts = unpack(blob).map_err(|()| StoreError::Corrupt {
                    path: self.path.display().to_string(),
                    what: format!("the destinations of the tick at {ts}"),
                })?;
                let apps = out.entry((ts, int_at(r, 1))).or_default();
                for (app, addr, i, o) in parts {
                    if let Some(a) = addresses.get(&addr) {
                        apps.entry(app).or_default().insert(*a, Flow::new(i, o));
                    }
                }
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// The hourly destination sums of the hours at `[start, end)`, by
    /// (hour, host id) then app id.
    pub(super) fn hourly_destinations_by_id(
        &self,
        host: Option<i64>,
        start: i64,
        end: i64,
    ) -> Result<Placed, StoreError> {
        let mut out = Placed::new();
        if !self.has_destinations || start >= end {
            return Ok(out);
        }
        let addresses = self.address_names()?;
        self.each_row_in(
            "SELECT hour_ts, host_id, app_id, address_id, bytes_in, bytes_out
             FROM destinations_hourly
             WHERE hour_ts >= ?1 AND hour_ts < ?2 AND (?3 IS NULL OR host_id = ?3)",
            host,
            bounds(start, end),
            |r| {
                if let Some(a) = addresses.get(&int_at(r, 3)) {
                    let flow = Flow::new(int_at(r, 4).max(0) as u64, int_at(r, 5).max(0) as u64);
                    out.entry((int_at(r, 0), int_at(r, 1)))
                        .or_default()
                        .entry(int_at(r, 2))
                        .or_default()
                        .insert(*a, flow);
                }
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// Per app and address, the bytes of the local days `from..=to`
    /// (hours that start inside them), largest first; `app` keeps one app.
    pub(super) fn destination_totals(
        &self,
        host: &HostFilter,
        from: NaiveDate,
        to: NaiveDate,
        tz: Tz,
        app: Option<&str>,
    ) -> Result<Vec<DestinationTotal>, StoreError> {
        let range = crate::store::answer::range(from, to, tz)?;
        let Some(host_id) = self.host_id_for_query(host)? else {
            return Ok(Vec::new());
        };
        if !self.has_destinations {
            return Ok(Vec::new());
        }
        let apps = self.app_names()?;
        let addresses = self.address_names()?;
        let mut sums: BTreeMap<(i64, i64), (u64, u64)> = BTreeMap::new();
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
                .prepare_cached(
                    "SELECT app_id, address_id, sum(bytes_in), sum(bytes_out) FROM destinations_daily
                     WHERE day >= ?1 AND day <= ?2 AND (?3 IS NULL OR host_id = ?3)
                     GROUP BY app_id, address_id",
                )
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
                "SELECT app_id, address_id, sum(bytes_in), sum(bytes_out) FROM destinations_hourly
                 WHERE hour_ts >= ?1 AND hour_ts < ?2 AND (?3 IS NULL OR host_id = ?3)
                 GROUP BY app_id, address_id",
                host_id,
                range,
                add,
            )?;
        }
        let mut out: Vec<DestinationTotal> = sums
            .into_iter()
            .filter_map(|((app_id, addr_id), (i, o))| {
                let name = apps.get(&app_id)?;
                if app.is_some_and(|a| a != name) {
                    return None;
                }
                Some(DestinationTotal {
                    app: name.clone(),
                    address: *addresses.get(&addr_id)?,
                    bytes_in: i,
                    bytes_out: o,
                })
            })
            .collect();
        crate::store::answer::sort_destinations(&mut out);
        Ok(out)
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
