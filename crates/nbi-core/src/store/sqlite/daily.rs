//! The daily roll-up, kept in the configured zone.

use std::collections::HashMap;

use chrono_tz::Tz;
use rusqlite::params;

use super::packed::for_each_packed;
use super::rows::{clamp, int_at, local_day_number};
use super::{SqliteStore, META_DAILY_ZONE};
use crate::store::error::StoreError;

impl SqliteStore {
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
                e.0 = e.0.saturating_add(int_at(r, 3).max(0) as u64);
                e.1 = e.1.saturating_add(int_at(r, 4).max(0) as u64);
            }
            let mut ticks = tx.prepare("SELECT ts, host_id, apps FROM ticks WHERE ts >= ?1")?;
            let mut rows = ticks.query([cut])?;
            while let Some(r) = rows.next()? {
                let (day, host) = (day_of(int_at(r, 0)), int_at(r, 1));
                let blob = r.get_ref(2)?.as_blob().unwrap_or(&[]);
                // A damaged blob is reported by the queries that read it.
                let _ = for_each_packed(blob, |app, i, o| {
                    let e = sums.entry((day, host, app)).or_default();
                    e.0 = e.0.saturating_add(i);
                    e.1 = e.1.saturating_add(o);
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
        super::breakdown::DESTINATIONS.rebuild_daily(&tx, cut, |ts| local_day_number(ts, tz))?;
        super::breakdown::NETWORKS.rebuild_daily(&tx, cut, |ts| local_day_number(ts, tz))?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [META_DAILY_ZONE, tz.name()],
        )?;
        tx.commit()
    }
}
