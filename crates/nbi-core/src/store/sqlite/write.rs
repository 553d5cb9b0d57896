//! The write path: ticks in, with their hourly, daily and coverage sums, in
//! one transaction; a redelivery counts once, another message at a stored
//! key is added to it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use super::breakdown::{Part, DESTINATIONS, NETWORKS};
use super::packed::{content_digest, for_each_packed, pack, sum_samples};
use super::rows::{clamp, local_day_number};
use super::SqliteStore;
use crate::store::error::StoreError;
use crate::store::usage::WriteReport;
use crate::store::TickWriter;
use crate::tick::Tick;

impl SqliteStore {
    fn write_tx(&mut self, ticks: &[Tick]) -> rusqlite::Result<(WriteReport, NewNames)> {
        let tx = self.conn.transaction()?;
        let mut report = WriteReport::default();
        let mut new_names = NewNames::default();
        // Per network id: the first and last second of this batch's bytes.
        let mut seen: HashMap<i64, (i64, i64)> = HashMap::new();
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
                   bytes_in = min(bytes_in + excluded.bytes_in, 9223372036854775807),
                   bytes_out = min(bytes_out + excluded.bytes_out, 9223372036854775807)",
            )?;
            let mut add_hourly = tx.prepare_cached(
                "INSERT INTO hourly (hour_ts, host_id, app_id, bytes_in, bytes_out)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (hour_ts, host_id, app_id) DO UPDATE SET
                   bytes_in = min(bytes_in + excluded.bytes_in, 9223372036854775807),
                   bytes_out = min(bytes_out + excluded.bytes_out, 9223372036854775807)",
            )?;
            for tick in ticks {
                let host_id = id_of(&tx, &self.hosts, &mut new_names, Kind::Host, &tick.host)?;
                let ts = tick.at.timestamp();
                let hour_ts = ts - ts.rem_euclid(3600);
                let mut samples = Vec::with_capacity(tick.apps.len());
                let mut parts: Vec<Part> = Vec::new();
                let mut net_parts: Vec<Part> = Vec::new();
                for usage in &tick.apps {
                    let app_id = id_of(&tx, &self.apps, &mut new_names, Kind::App, &usage.app)?;
                    samples.push((app_id, usage.bytes_in, usage.bytes_out));
                    for (addr, f) in &usage.to {
                        let text = addr.to_string();
                        let addr_id =
                            id_of(&tx, &self.addresses, &mut new_names, Kind::Address, &text)?;
                        parts.push((app_id, addr_id, f.bytes_in, f.bytes_out));
                    }
                    for (net, f) in &usage.net {
                        let net_id = id_of(
                            &tx,
                            &self.networks,
                            &mut new_names,
                            Kind::Network,
                            net.as_str(),
                        )?;
                        net_parts.push((app_id, net_id, f.bytes_in, f.bytes_out));
                    }
                }
                samples.sort_unstable_by_key(|s| s.0);
                parts.sort_unstable_by_key(|p| (p.0, p.1));
                net_parts.sort_unstable_by_key(|p| (p.0, p.1));
                // A key whose tick retention deleted: known by its digest.
                let pruned = if self.minute_data_from.is_some_and(|cut| ts < cut) {
                    pruned_digest
                        .query_row(params![ts, host_id], |r| r.get::<_, i64>(0))
                        .optional()?
                } else {
                    None
                };
                // What to add to the hourly sums, and how many samples are new.
                // Whether the tick's content is added (not a redelivery),
                // and whether its row is kept (not pruned).
                let mut added = false;
                let row_kept = pruned.is_none();
                let (fresh, new_samples) = if let Some(stored) = pruned {
                    let digest = content_digest(i64::from(tick.interval_s), &samples);
                    let known = Known::read(&mut merged_digests, ts, host_id)?;
                    if known.is_redelivery(digest, || digest == stored) {
                        report.ticks_skipped += 1;
                        (Vec::new(), 0)
                    } else {
                        report.ticks_merged += 1;
                        known.record(&mut add_digest, ts, host_id, digest, || stored)?;
                        added = true;
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
                    added = true;
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
                        added = true;
                        let n = summed.len() - stored.len();
                        (samples, n)
                    }
                };
                report.samples_written += new_samples;
                let day = self.daily_zone.map(|tz| local_day_number(ts, tz));
                if added {
                    DESTINATIONS.add(&tx, ts, hour_ts, day, host_id, &parts, row_kept)?;
                    NETWORKS.add(&tx, ts, hour_ts, day, host_id, &net_parts, row_kept)?;
                    let end = ts.saturating_add(i64::from(tick.interval_s));
                    for &(_, net, _, _) in &net_parts {
                        let e = seen.entry(net).or_insert((ts, end));
                        *e = (e.0.min(ts), e.1.max(end));
                    }
                }
                for (app_id, i, o) in fresh {
                    let (i, o) = (clamp(i), clamp(o));
                    add_hourly.execute(params![hour_ts, host_id, app_id, i, o])?;
                    if let Some(day) = day {
                        add_daily.execute(params![day, host_id, app_id, i, o])?;
                    }
                }
            }
            let mut mark_seen = tx.prepare_cached(
                "UPDATE networks SET first_seen = min(coalesce(first_seen, ?2), ?2),
                   last_seen = max(coalesce(last_seen, ?3), ?3) WHERE id = ?1",
            )?;
            for (net, (first, last)) in seen {
                mark_seen.execute(params![net, first, last])?;
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

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Host,
    App,
    Address,
    Network,
}

/// Names given an id inside a transaction, cached only once it commits.
#[derive(Default)]
struct NewNames(HashMap<(Kind, String), i64>);

/// The id of `name`: cached, given in this transaction, stored, or new.
/// Constant time per name, so a tick of a hundred thousand apps costs a
/// hundred thousand lookups, not their square.
fn id_of(
    tx: &rusqlite::Transaction<'_>,
    cache: &HashMap<String, i64>,
    pending: &mut NewNames,
    kind: Kind,
    name: &str,
) -> rusqlite::Result<i64> {
    if let Some(id) = cache.get(name) {
        return Ok(*id);
    }
    let key = (kind, name.to_string());
    if let Some(id) = pending.0.get(&key) {
        return Ok(*id);
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
        Kind::Address => (
            "INSERT OR IGNORE INTO addresses (address) VALUES (?1)",
            "SELECT id FROM addresses WHERE address = ?1",
        ),
        Kind::Network => (
            "INSERT OR IGNORE INTO networks (network) VALUES (?1)",
            "SELECT id FROM networks WHERE network = ?1",
        ),
    };
    tx.prepare_cached(insert)?.execute([name])?;
    let id = tx.prepare_cached(select)?.query_row([name], |r| r.get(0))?;
    pending.0.insert(key, id);
    Ok(id)
}

impl TickWriter for SqliteStore {
    fn write(&mut self, ticks: &[Tick]) -> Result<WriteReport, StoreError> {
        if ticks.is_empty() {
            return Ok(WriteReport::default());
        }
        let (report, new_names) = self.write_tx(ticks).map_err(|e| self.err(e))?;
        for ((kind, name), id) in new_names.0 {
            match kind {
                Kind::Host => self.hosts.insert(name, id),
                Kind::App => self.apps.insert(name, id),
                Kind::Address => self.addresses.insert(name, id),
                Kind::Network => self.networks.insert(name, id),
            };
        }
        Ok(report)
    }

    fn prune_minutes(&mut self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        SqliteStore::prune_minutes(self, before)
    }
}
