//! What is asked of the store: totals, hours, days, curves, watched time,
//! every tick, and a summary.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use rusqlite::{params, OptionalExtension};

use super::breakdown::DESTINATIONS;
use super::packed::for_each_packed;
use super::rows::{file_bytes, int_at};
use super::{SqliteStore, META_DAILY_ZONE, META_MINUTE_DATA_FROM};
use crate::store::answer;
use crate::store::error::StoreError;
use crate::store::timeline::{
    local_day_bounds, local_day_hour, offsets_aligned, whole_hour_offsets, DayBounds,
};
use crate::store::usage::{
    AppCurve, AppTotal, DailyNetwork, DailyUsage, DayCurve, DestinationTotal, HostFilter,
    HourCoverage, HourlyDestination, HourlyNetwork, HourlyUsage, NetworkRecord, StoreSummary,
};
use crate::store::UsageQuery;
use crate::tick::{AppFlows, Flow, Tick};

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

impl SqliteStore {
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

    /// Runs `sql` — a query whose `?1..?2` is a time range and `?3` a host
    /// id or NULL for all — and hands each row to `f`.
    pub(super) fn each_row_in(
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
                e.0 = e.0.saturating_add(i);
                e.1 = e.1.saturating_add(o);
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
                e.0 = e.0.saturating_add(i);
                e.1 = e.1.saturating_add(o);
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
            let sum = seconds.entry(local_day_hour(at, tz)).or_default();
            *sum = sum.saturating_add(int_at(row, 1).max(0) as u64);
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
            e.0[b] = e.0[b].saturating_add(i);
            e.1[b] = e.1[b].saturating_add(o);
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
            let mut places = self.hourly_destinations_by_id(host_id, start, cut)?;
            let mut nets = self.hourly_networks_by_id(host_id, start, cut)?;
            let mut hours: BTreeMap<(i64, i64), Vec<AppFlows>> = BTreeMap::new();
            self.each_row_in(
                "SELECT hour_ts, host_id, app_id, bytes_in, bytes_out FROM hourly
                 WHERE hour_ts >= ?1 AND hour_ts < ?2 AND (?3 IS NULL OR host_id = ?3)",
                host_id,
                DayBounds {
                    start: DateTime::from_timestamp(start, 0).unwrap_or_default(),
                    end: DateTime::from_timestamp(cut, 0).unwrap_or_default(),
                },
                |r| {
                    let key = (int_at(r, 0), int_at(r, 1));
                    if let Some(app) = apps.get(&int_at(r, 2)) {
                        let to = places
                            .get_mut(&key)
                            .and_then(|m| m.remove(&int_at(r, 2)))
                            .unwrap_or_default();
                        let net = nets
                            .get_mut(&key)
                            .and_then(|m| m.remove(&int_at(r, 2)))
                            .unwrap_or_default();
                        let flow =
                            Flow::new(int_at(r, 3).max(0) as u64, int_at(r, 4).max(0) as u64);
                        hours.entry(key).or_default().push(AppFlows {
                            app: app.clone(),
                            flow,
                            to,
                            net,
                        });
                    }
                    Ok(())
                },
            )?;
            for ((ts, host), usage) in hours {
                let at = DateTime::from_timestamp(ts, 0).unwrap_or_default();
                f(Tick::from_flows(host_name(host), at, 3600, usage))?;
            }
        }
        let mut places = self.tick_destinations(host_id, cut.max(start), end)?;
        let mut nets = self.tick_networks(host_id, cut.max(start), end)?;
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
            let mut to = places.remove(&(ts, int_at(r, 1))).unwrap_or_default();
            let mut net = nets.remove(&(ts, int_at(r, 1))).unwrap_or_default();
            let mut totals = Vec::new();
            for_each_packed(blob, |app, i, o| {
                if let Some(name) = apps.get(&app) {
                    totals.push(AppFlows {
                        app: name.clone(),
                        flow: Flow::new(i, o),
                        to: to.remove(&app).unwrap_or_default(),
                        net: net.remove(&app).unwrap_or_default(),
                    });
                }
            })
            .map_err(|()| StoreError::Corrupt {
                path: self.path.display().to_string(),
                what: format!("the apps of the tick at {ts}"),
            })?;
            let interval = u32::try_from(int_at(r, 2)).unwrap_or(0);
            let at = DateTime::from_timestamp(ts, 0).unwrap_or_default();
            f(Tick::from_flows(
                host_name(int_at(r, 1)),
                at,
                interval,
                totals,
            ))?;
        }
        Ok(())
    }

    fn hourly_networks(
        &self,
        host: &HostFilter,
        from: NaiveDate,
        to: NaiveDate,
        tz: Tz,
    ) -> Result<Vec<HourlyNetwork>, StoreError> {
        self.hourly_network_rows(host, from, to, tz)
    }

    fn daily_networks(
        &self,
        host: &HostFilter,
        from: NaiveDate,
        to: NaiveDate,
        tz: Tz,
    ) -> Result<Vec<DailyNetwork>, StoreError> {
        self.daily_network_rows(host, from, to, tz)
    }

    fn networks(&self) -> Result<Vec<NetworkRecord>, StoreError> {
        self.network_records()
    }

    fn destinations(
        &self,
        host: &HostFilter,
        from: NaiveDate,
        to: NaiveDate,
        tz: Tz,
        app: Option<&str>,
    ) -> Result<Vec<DestinationTotal>, StoreError> {
        self.destination_totals(host, from, to, tz, app)
    }

    fn hourly_destinations(
        &self,
        host: &HostFilter,
        from: NaiveDate,
        to: NaiveDate,
        tz: Tz,
    ) -> Result<Vec<HourlyDestination>, StoreError> {
        let sums = self.by_local_hour(DESTINATIONS, &self.address_names()?, host, from, to, tz)?;
        Ok(sums
            .into_iter()
            .map(|((day, hour, app, address), f)| HourlyDestination {
                day,
                hour,
                app,
                address,
                bytes_in: f.bytes_in,
                bytes_out: f.bytes_out,
            })
            .collect())
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
            // A reader asks the file: the writer may have pruned since.
            minute_data_from: self
                .rollups()
                .1
                .and_then(|t| DateTime::<Utc>::from_timestamp(t, 0)),
            file_bytes: Some(file_bytes(&self.path)),
        })
    }
}
