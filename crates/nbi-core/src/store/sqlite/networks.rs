//! Over which network: the network breakdown ([`super::breakdown`]) keyed
//! by network, and the networks table with the OS's and the owner's word.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use rusqlite::params;

use super::breakdown::{Placed, NETWORKS};
use super::rows::{int_at, sqlite_err};
use super::SqliteStore;
use crate::network::Sighting;
use crate::store::answer;
use crate::store::error::StoreError;
use crate::store::usage::{DailyNetwork, HostFilter, HourlyNetwork, NetworkRecord};
use crate::store::NetworkBook;
use crate::tick::NetworkId;

impl SqliteStore {
    /// Every network's row id and its id.
    pub(super) fn network_ids(&self) -> Result<BTreeMap<i64, NetworkId>, StoreError> {
        self.keys_of(NETWORKS, |text| NetworkId::new(text).ok())
    }

    /// The networks of the ticks at `[start, end)` (minute rows).
    pub(super) fn tick_networks(
        &self,
        host: Option<i64>,
        start: i64,
        end: i64,
    ) -> Result<Placed<NetworkId>, StoreError> {
        self.tick_parts(NETWORKS, &self.network_ids()?, host, start, end)
    }

    /// The hourly network sums of the hours at `[start, end)`.
    pub(super) fn hourly_networks_by_id(
        &self,
        host: Option<i64>,
        start: i64,
        end: i64,
    ) -> Result<Placed<NetworkId>, StoreError> {
        self.hourly_parts(NETWORKS, &self.network_ids()?, host, start, end)
    }

    pub(super) fn hourly_network_rows(
        &self,
        host: &HostFilter,
        from: NaiveDate,
        to: NaiveDate,
        tz: Tz,
    ) -> Result<Vec<HourlyNetwork>, StoreError> {
        let sums = self.by_local_hour(NETWORKS, &self.network_ids()?, host, from, to, tz)?;
        Ok(sums
            .into_iter()
            .map(|((day, hour, app, network), f)| HourlyNetwork {
                day,
                hour,
                app,
                network,
                bytes_in: f.bytes_in,
                bytes_out: f.bytes_out,
            })
            .collect())
    }

    /// Per local day, app and network: from the daily sums when they are
    /// kept in `tz`, else from the hourly ones.
    pub(super) fn daily_network_rows(
        &self,
        host: &HostFilter,
        from: NaiveDate,
        to: NaiveDate,
        tz: Tz,
    ) -> Result<Vec<DailyNetwork>, StoreError> {
        if self.daily_zone != Some(tz) || !self.has(NETWORKS) {
            return Ok(answer::daily_networks_from_hourly(
                self.hourly_network_rows(host, from, to, tz)?,
            ));
        }
        answer::range(from, to, tz)?;
        let Some(host_id) = self.host_id_for_query(host)? else {
            return Ok(Vec::new());
        };
        let apps = self.app_names()?;
        let nets = self.network_ids()?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT day, app_id, network_id, sum(bytes_in), sum(bytes_out) FROM networks_daily
                 WHERE day >= ?1 AND day <= ?2 AND (?3 IS NULL OR host_id = ?3)
                 GROUP BY day, app_id, network_id",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = stmt
            .query(params![
                from.num_days_from_ce(),
                to.num_days_from_ce(),
                host_id
            ])
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let day = i32::try_from(int_at(r, 0))
                .ok()
                .and_then(NaiveDate::from_num_days_from_ce_opt);
            let (Some(day), Some(app), Some(network)) =
                (day, apps.get(&int_at(r, 1)), nets.get(&int_at(r, 2)))
            else {
                continue;
            };
            out.push(DailyNetwork {
                day,
                app: app.clone(),
                network: network.clone(),
                bytes_in: int_at(r, 3).max(0) as u64,
                bytes_out: int_at(r, 4).max(0) as u64,
            });
        }
        out.sort_by(|a, b| (a.day, &a.app, &a.network).cmp(&(b.day, &b.app, &b.network)));
        Ok(out)
    }

    /// The networks table, by id.
    pub(super) fn network_records(&self) -> Result<Vec<NetworkRecord>, StoreError> {
        if !self.has(NETWORKS) {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT network, os_name, os_metered, owner_name, owner_metered, first_seen,
                        last_seen
                 FROM networks ORDER BY network",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        let time = |t: Option<i64>| t.and_then(|s| DateTime::<Utc>::from_timestamp(s, 0));
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let get = |i| -> Result<Option<i64>, StoreError> { r.get(i).map_err(|e| self.err(e)) };
            let text =
                |i| -> Result<Option<String>, StoreError> { r.get(i).map_err(|e| self.err(e)) };
            let Some(Ok(id)) = text(0)?.map(NetworkId::new) else {
                continue;
            };
            out.push(NetworkRecord {
                id,
                os_name: text(1)?,
                os_metered: get(2)?.map(|m| m != 0),
                owner_name: text(3)?,
                owner_metered: get(4)?.map(|m| m != 0),
                first_seen: time(get(5)?),
                last_seen: time(get(6)?),
            });
        }
        Ok(out)
    }

    fn update_network(
        &mut self,
        id: &NetworkId,
        sql: &str,
        value: rusqlite::types::Value,
    ) -> Result<(), StoreError> {
        if self.read_only {
            return Err(StoreError::Query(format!(
                "{} is open read-only",
                self.path.display()
            )));
        }
        let tx = self
            .conn
            .transaction()
            .map_err(|e| sqlite_err(&self.path, e))?;
        tx.execute(
            "INSERT OR IGNORE INTO networks (network) VALUES (?1)",
            [id.as_str()],
        )
        .map_err(|e| sqlite_err(&self.path, e))?;
        tx.execute(sql, params![id.as_str(), value])
            .map_err(|e| sqlite_err(&self.path, e))?;
        tx.commit().map_err(|e| sqlite_err(&self.path, e))?;
        // Its row id is looked up again by the next write.
        Ok(())
    }
}

fn flag(b: Option<bool>) -> rusqlite::types::Value {
    match b {
        Some(b) => rusqlite::types::Value::Integer(i64::from(b)),
        None => rusqlite::types::Value::Null,
    }
}

impl NetworkBook for SqliteStore {
    fn record_sightings(&mut self, seen: &[Sighting]) -> Result<(), StoreError> {
        if seen.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let e = |err| sqlite_err(&path, err);
        let tx = self.conn.transaction().map_err(e)?;
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT INTO networks (network, os_name, os_metered) VALUES (?1, ?2, ?3)
                     ON CONFLICT (network) DO UPDATE SET
                       os_name = excluded.os_name, os_metered = excluded.os_metered",
                )
                .map_err(e)?;
            for s in seen {
                put.execute(params![s.id.as_str(), s.name, flag(s.metered)])
                    .map_err(e)?;
            }
        }
        tx.commit().map_err(e)
    }

    fn name_network(&mut self, id: &NetworkId, name: Option<&str>) -> Result<(), StoreError> {
        let value = match name {
            Some(n) => rusqlite::types::Value::Text(n.to_string()),
            None => rusqlite::types::Value::Null,
        };
        self.update_network(
            id,
            "UPDATE networks SET owner_name = ?2 WHERE network = ?1",
            value,
        )
    }

    fn set_network_metered(
        &mut self,
        id: &NetworkId,
        metered: Option<bool>,
    ) -> Result<(), StoreError> {
        self.update_network(
            id,
            "UPDATE networks SET owner_metered = ?2 WHERE network = ?1",
            flag(metered),
        )
    }
}
