//! The InfluxDB store, through the v1-compatible HTTP API (`POST /write`,
//! `GET /query` with InfluxQL) that InfluxDB 1.x, 2.x and 3 Core all serve.
//!
//! Points: `network_traffic,host=…,process_name=… in=…i,out=…i <s>` per app
//! and `nbi_tick,host=… interval_s=…i,digests="…" <s>` per tick (watched
//! time, for uncollected hours; the digests of the messages it holds), and
//! `nbi_destination` points for where the bytes went and `nbi_network`
//! points for over which network (with `nbi_network_info` for the networks
//! table). A
//! point is keyed by measurement, tags and time, so a rewrite replaces it:
//! writes are idempotent per (host, app, ts). Before a batch is written, the
//! ticks already at its keys are read (one query): a redelivered message is
//! skipped, a different one at a stored key is added to it. Queries
//! select `sum("in")` and `sum("out")` separately (InfluxDB 3's InfluxQL
//! does not add aggregates) and combine them here.

mod destinations;
mod networks;
mod protocol;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde_json::Value;

pub use self::destinations::DESTINATIONS;
pub use self::networks::{NETWORKS, NETWORK_INFO};
use self::protocol::{count, field_string, ident, literal, tag, where_clause};
use super::timeline::{local_day_bounds, local_day_hour, offsets_aligned, DayBounds};
use super::{
    answer, AppCurve, AppTotal, DayCurve, HostFilter, HourCoverage, HourlyUsage, StoreError,
    StoreSummary, TickWriter, UsageQuery, VerdictRecord, VerdictStore, WriteReport,
};
use crate::config::Secret;
use crate::destination::Namer;
use crate::intel::verdict::Status;
use crate::store::InfluxDbConfig;
use crate::tick::{AppFlows, Flow, NetworkId, Tick};

pub const MEASUREMENT: &str = "network_traffic";
pub const TICKS: &str = "nbi_tick";
/// Verdicts, one point per host and local day at the day's start: Grafana
/// draws them as annotations.
pub const VERDICTS: &str = "nbi_verdict";

pub struct InfluxStore {
    url: String,
    database: String,
    /// Sent as `Authorization: Token …`; never logged.
    token: Option<Secret>,
    batch_points: usize,
    agent: ureq::Agent,
    /// Where verdict points are placed: the start of the local day.
    zone: Tz,
    /// Names destinations: their organisation and country are tags.
    namer: Namer,
}

impl InfluxStore {
    /// A client of the server and database `[influxdb]` names, sending
    /// `token` (see [`InfluxDbConfig::resolved_token`]).
    pub fn new(cfg: &InfluxDbConfig, token: Option<Secret>) -> InfluxStore {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(false)
            .build()
            .into();
        InfluxStore {
            url: cfg.url.trim().to_string(),
            database: cfg.database.clone(),
            token,
            batch_points: cfg.batch_points.max(1),
            agent,
            zone: chrono_tz::UTC,
            namer: Namer::shipped(),
        }
    }

    /// Names destinations with `namer` (the user's address table).
    pub fn with_namer(mut self, namer: Namer) -> InfluxStore {
        self.namer = namer;
        self
    }

    /// The time zone of the local days verdicts are about.
    pub fn with_zone(mut self, zone: Tz) -> InfluxStore {
        self.zone = zone;
        self
    }

    /// Verdict points of `host` between the starts of local days `from` and `to`.
    fn verdict_rows(
        &self,
        host: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<VerdictRecord>, StoreError> {
        let start = local_day_bounds(from, self.zone).start;
        let end = local_day_bounds(to, self.zone).end;
        let q = format!(
            "SELECT * FROM {} WHERE time >= {}s AND time < {}s AND \"host\" = {}",
            ident(VERDICTS),
            start.timestamp(),
            end.timestamp(),
            literal(host)
        );
        let mut out = Vec::new();
        for series in self.query(&q)? {
            let columns: Vec<&str> = series["columns"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            for row in series["values"].as_array().into_iter().flatten() {
                let field = |name: &str| {
                    columns
                        .iter()
                        .position(|c| *c == name)
                        .map(|i| &row[i])
                        .filter(|v| !v.is_null())
                };
                let text = |name: &str| field(name).and_then(Value::as_str).map(str::to_string);
                let (Some(day), Some(verdict_json), Some(status)) =
                    (text("day"), text("verdict"), text("status"))
                else {
                    continue;
                };
                let (Ok(day), Ok(status)) = (day.parse::<NaiveDate>(), status.parse::<Status>())
                else {
                    continue;
                };
                out.push(VerdictRecord {
                    host: host.to_string(),
                    day,
                    status,
                    judged_at: field("judged_at")
                        .and_then(Value::as_i64)
                        .and_then(|t| DateTime::from_timestamp(t, 0))
                        .unwrap_or_default(),
                    verdict_json,
                    // Models are kept by the embedded store only: InfluxDB
                    // 1.x limits a string field to 64 kB.
                    model: None,
                    model_meta: text("model_meta"),
                    marked_normal: field("marked_normal")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                });
            }
        }
        out.sort_by_key(|r| r.day);
        Ok(out)
    }

    fn write_verdict(&self, r: &VerdictRecord) -> Result<(), StoreError> {
        let (error, threshold) = serde_json::from_str::<Value>(&r.verdict_json)
            .map(|v| (v["error"].as_f64(), v["threshold"].as_f64()))
            .unwrap_or((None, None));
        let summary = serde_json::from_str::<Value>(&r.verdict_json)
            .ok()
            .and_then(|v| v["summary"].as_str().map(str::to_string))
            .unwrap_or_default();
        let mut fields = vec![
            format!("anomaly={}", r.status == Status::Anomalous),
            format!("status={}", field_string(r.status.name())),
            format!("day={}", field_string(&r.day.to_string())),
            format!("summary={}", field_string(&summary)),
            format!("verdict={}", field_string(&r.verdict_json)),
            format!("marked_normal={}", r.marked_normal),
            format!("judged_at={}i", r.judged_at.timestamp()),
        ];
        if let Some(e) = error.filter(|e| e.is_finite()) {
            fields.push(format!("error={e:?}"));
        }
        if let Some(t) = threshold.filter(|t| t.is_finite()) {
            fields.push(format!("threshold={t:?}"));
        }
        if let Some(m) = &r.model_meta {
            fields.push(format!("model_meta={}", field_string(m)));
        }
        let at = local_day_bounds(r.day, self.zone).start.timestamp();
        self.post_lines(format!(
            "{VERDICTS},host={} {} {at}\n",
            tag(&r.host),
            fields.join(",")
        ))
    }

    fn unreachable(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError::Unreachable {
            url: self.url.clone(),
            reason: e.to_string(),
        }
    }

    fn post_lines(&self, body: String) -> Result<(), StoreError> {
        let url = format!("{}/write", self.url.trim_end_matches('/'));
        let mut req = self
            .agent
            .post(&url)
            .query("db", &self.database)
            .query("precision", "s");
        if let Some(t) = &self.token {
            req = req.header("Authorization", &format!("Token {}", t.expose()));
        }
        let mut resp = req.send(body).map_err(|e| self.unreachable(e))?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let body = resp.body_mut().read_to_string().unwrap_or_default();
        Err(StoreError::Http {
            url: url.clone(),
            status,
            body: body.chars().take(300).collect(),
        })
    }

    /// Runs one InfluxQL statement; returns its series.
    pub fn query(&self, q: &str) -> Result<Vec<Value>, StoreError> {
        let url = format!("{}/query", self.url.trim_end_matches('/'));
        let mut req = self
            .agent
            .get(&url)
            .query("db", &self.database)
            .query("epoch", "s")
            .query("q", q);
        if let Some(t) = &self.token {
            req = req.header("Authorization", &format!("Token {}", t.expose()));
        }
        let mut resp = req.call().map_err(|e| self.unreachable(e))?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| self.unreachable(e))?;
        if !(200..300).contains(&status) {
            return Err(StoreError::Http {
                url,
                status,
                body: body.chars().take(300).collect(),
            });
        }
        let v: Value = serde_json::from_str(&body).map_err(|e| {
            StoreError::Query(format!("InfluxDB answered something that is not JSON: {e}"))
        })?;
        let result = &v["results"][0];
        if let Some(err) = result["error"].as_str() {
            return Err(StoreError::Query(format!("InfluxDB: {err} (query: {q})")));
        }
        Ok(result["series"].as_array().cloned().unwrap_or_default())
    }

    /// The ticks already stored at the keys of `ticks`: one query over the
    /// batch's time span.
    fn stored_keys(&self, ticks: &[Tick]) -> Result<HashMap<(String, i64), Stored>, StoreError> {
        let mut keys = HashMap::new();
        let (Some(from), Some(to)) = (
            ticks.iter().map(|t| t.at.timestamp()).min(),
            ticks.iter().map(|t| t.at.timestamp()).max(),
        ) else {
            return Ok(keys);
        };
        let wanted: BTreeSet<(&str, i64)> = ticks
            .iter()
            .map(|t| (t.host.as_str(), t.at.timestamp()))
            .collect();
        let q = format!(
            "SELECT \"interval_s\", \"digests\" FROM {} WHERE time >= {from}s AND time <= {to}s GROUP BY \"host\"",
            ident(TICKS)
        );
        for series in self.query(&q)? {
            let host = series["tags"]["host"].as_str().unwrap_or("").to_string();
            for row in series["values"].as_array().into_iter().flatten() {
                let Some(t) = row[0].as_i64() else { continue };
                if !wanted.contains(&(host.as_str(), t)) {
                    continue;
                }
                let stored = match row[2].as_str() {
                    Some(d) => Stored::Known(
                        d.split(',')
                            .filter_map(|h| u64::from_str_radix(h.trim(), 16).ok())
                            .collect(),
                    ),
                    None => Stored::Unknown,
                };
                keys.insert((host.clone(), t), stored);
            }
        }
        Ok(keys)
    }

    /// The tick stored at (`host`, `ts`), as its per-app points hold it.
    fn stored_tick(&self, host: &str, ts: i64, interval_s: u32) -> Result<Tick, StoreError> {
        let q = format!(
            "SELECT \"in\", \"out\" FROM {} WHERE time = {ts}s AND \"host\" = {} GROUP BY \"process_name\"",
            ident(MEASUREMENT),
            literal(host)
        );
        let mut apps = Vec::new();
        for series in self.query(&q)? {
            let app = series["tags"]["process_name"]
                .as_str()
                .unwrap_or("")
                .to_string();
            for row in series["values"].as_array().into_iter().flatten() {
                apps.push((app.clone(), (count(&row[1]), count(&row[2]))));
            }
        }
        let at = DateTime::from_timestamp(ts, 0).unwrap_or_default();
        let mut places = destinations::read(
            &|q| self.query(q),
            &HostFilter::One(host.to_string()),
            DayBounds { start: at, end: at },
            Some(ts),
        )?
        .remove(&(ts, host.to_string()))
        .unwrap_or_default();
        let mut nets = networks::read(
            &|q| self.query(q),
            &HostFilter::One(host.to_string()),
            DayBounds { start: at, end: at },
            Some(ts),
        )?
        .remove(&(ts, host.to_string()))
        .unwrap_or_default();
        let apps = apps.into_iter().map(|(app, (i, o))| AppFlows {
            to: places.remove(&app).unwrap_or_default(),
            net: nets.remove(&app).unwrap_or_default(),
            flow: Flow::new(i, o),
            app,
        });
        Ok(Tick::from_flows(host, at, interval_s, apps))
    }

    /// Creates the database (1.x; 2.x maps buckets itself and may refuse).
    pub fn create_database(&self) -> Result<(), StoreError> {
        self.query(&format!("CREATE DATABASE {}", ident(&self.database)))
            .map(|_| ())
    }

    /// `sum(field)` per `bucket_s` buckets from `offset_s`, per app:
    /// (bucket start, app, bytes).
    fn sums(
        &self,
        field: &str,
        host: &HostFilter,
        bounds: DayBounds,
        bucket_s: i64,
        by_app: bool,
    ) -> Result<Vec<(i64, String, u64)>, StoreError> {
        let offset = bounds.start.timestamp().rem_euclid(bucket_s);
        let q = format!(
            "SELECT sum({f}) FROM {m} WHERE {w} GROUP BY time({bucket_s}s, {offset}s){g} fill(none)",
            f = ident(field),
            m = ident(if by_app { MEASUREMENT } else { TICKS }),
            w = where_clause(host, bounds),
            g = if by_app { ", \"process_name\"" } else { "" },
        );
        let mut out = Vec::new();
        for series in self.query(&q)? {
            let app = series["tags"]["process_name"]
                .as_str()
                .unwrap_or("")
                .to_string();
            for row in series["values"].as_array().into_iter().flatten() {
                let (Some(t), Some(v)) = (row[0].as_i64(), row[1].as_f64()) else {
                    continue;
                };
                if v > 0.0 {
                    out.push((t, app.clone(), v as u64));
                }
            }
        }
        Ok(out)
    }

    /// The bucket for hour-level answers: whole hours where local hours are
    /// whole UTC hours, else quarter hours (every zone's offset is a multiple).
    fn hour_bucket(tz: Tz, bounds: DayBounds) -> i64 {
        if offsets_aligned(tz, bounds, 3600) {
            3600
        } else {
            900
        }
    }
}

/// A tick read back in parts: its interval and its apps' (in, out).
type TickParts = (u32, Vec<(String, (u64, u64))>);

/// What a batch found at one of its keys.
#[derive(Debug, Clone)]
enum Stored {
    /// The digests of the messages the stored tick holds.
    Known(Vec<u64>),
    /// A tick written without digests (by an older nbi).
    Unknown,
}

/// Two ticks of one key, app by app, destinations too.
fn add_ticks(a: &Tick, b: &Tick) -> Tick {
    let apps = a.apps.iter().chain(&b.apps).map(|u| AppFlows {
        app: u.app.clone(),
        flow: Flow::new(u.bytes_in, u.bytes_out),
        to: u.to.clone(),
        net: u.net.clone(),
    });
    Tick::from_flows(a.host.clone(), a.at, a.interval_s, apps)
}

/// The line-protocol lines of one tick, destinations named from the
/// shipped address table.
pub fn lines(tick: &Tick) -> Vec<String> {
    lines_with_digests(tick, &[tick.digest()], &Namer::shipped())
}

/// The lines of a tick that holds the messages of `digests`.
fn lines_with_digests(tick: &Tick, digests: &[u64], namer: &Namer) -> Vec<String> {
    let ts = tick.at.timestamp();
    let host = tag(&tick.host);
    let mut out = Vec::with_capacity(tick.apps.len() + 1);
    let digests: Vec<String> = digests.iter().map(|d| format!("{d:016x}")).collect();
    out.push(format!(
        "{TICKS},host={host} interval_s={}i,digests={} {ts}",
        tick.interval_s,
        field_string(&digests.join(","))
    ));
    for a in &tick.apps {
        out.push(format!(
            "{MEASUREMENT},host={host},process_name={} in={}i,out={}i {ts}",
            tag(&a.app),
            a.bytes_in.min(i64::MAX as u64),
            a.bytes_out.min(i64::MAX as u64),
        ));
    }
    destinations::lines(tick, namer, &mut out);
    networks::lines(tick, &mut out);
    out
}

impl super::NetworkBook for InfluxStore {
    fn record_sightings(&mut self, seen: &[crate::network::Sighting]) -> Result<(), StoreError> {
        if seen.is_empty() {
            return Ok(());
        }
        let lines = networks::sighting_lines(seen, Utc::now().timestamp());
        self.post_lines(lines.join("\n"))
    }

    fn name_network(&mut self, id: &NetworkId, name: Option<&str>) -> Result<(), StoreError> {
        let metered = self.owner_word(id)?.1;
        let line = networks::info_line(id, None, Some((name, metered)), Utc::now().timestamp());
        self.post_lines(line)
    }

    fn set_network_metered(
        &mut self,
        id: &NetworkId,
        metered: Option<bool>,
    ) -> Result<(), StoreError> {
        let name = self.owner_word(id)?.0;
        let line = networks::info_line(
            id,
            None,
            Some((name.as_deref(), metered)),
            Utc::now().timestamp(),
        );
        self.post_lines(line)
    }
}

impl InfluxStore {
    /// What the owner last said of `id`: its name and metered flag.
    fn owner_word(&self, id: &NetworkId) -> Result<(Option<String>, Option<bool>), StoreError> {
        Ok(UsageQuery::networks(self)?
            .into_iter()
            .find(|r| r.id == *id)
            .map_or((None, None), |r| (r.owner_name, r.owner_metered)))
    }
}

impl TickWriter for InfluxStore {
    fn write(&mut self, ticks: &[Tick]) -> Result<WriteReport, StoreError> {
        let mut report = WriteReport::default();
        let mut keys = self.stored_keys(ticks)?;
        // What to write, per key, in the order keys first appear.
        let mut order: Vec<(String, i64)> = Vec::new();
        let mut out: HashMap<(String, i64), (Tick, Vec<u64>)> = HashMap::new();
        for tick in ticks {
            let key = (tick.host.clone(), tick.at.timestamp());
            let digest = tick.digest();
            match keys.get(&key) {
                None => {
                    report.ticks_written += 1;
                    report.samples_written += tick.apps.len();
                    keys.insert(key.clone(), Stored::Known(vec![digest]));
                    order.push(key.clone());
                    out.insert(key, (tick.clone(), vec![digest]));
                }
                Some(Stored::Known(digests)) if digests.contains(&digest) => {
                    report.ticks_skipped += 1;
                }
                Some(Stored::Known(digests)) => {
                    report.ticks_merged += 1;
                    let mut digests = digests.clone();
                    digests.push(digest);
                    let base = match out.remove(&key) {
                        Some((t, _)) => t,
                        None => {
                            order.push(key.clone());
                            self.stored_tick(&key.0, key.1, tick.interval_s)?
                        }
                    };
                    let merged = add_ticks(&base, tick);
                    report.samples_written += merged.apps.len().saturating_sub(base.apps.len());
                    keys.insert(key.clone(), Stored::Known(digests.clone()));
                    out.insert(key, (merged, digests));
                }
                // Written by an older nbi, without digests: rewritten, as
                // it always was (a redelivery replaces itself).
                Some(Stored::Unknown) => {
                    report.ticks_skipped += 1;
                    keys.insert(key.clone(), Stored::Known(vec![digest]));
                    order.push(key.clone());
                    out.insert(key, (tick.clone(), vec![digest]));
                }
            }
        }
        let mut body = String::new();
        let mut points = 0;
        for key in order {
            let Some((tick, digests)) = out.remove(&key) else {
                continue;
            };
            for line in lines_with_digests(&tick, &digests, &self.namer) {
                body.push_str(&line);
                body.push('\n');
                points += 1;
            }
            if points >= self.batch_points.max(1) {
                self.post_lines(std::mem::take(&mut body))?;
                points = 0;
            }
        }
        if !body.is_empty() {
            self.post_lines(body)?;
        }
        Ok(report)
    }

    /// The server's retention policies decide what it keeps.
    fn prune_minutes(&mut self, _before: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(0)
    }
}

impl UsageQuery for InfluxStore {
    fn day_totals(
        &self,
        host: &HostFilter,
        day: NaiveDate,
        tz: Tz,
    ) -> Result<Vec<AppTotal>, StoreError> {
        let mut totals: HashMap<String, (u64, u64)> = HashMap::new();
        for h in self.hourly(host, day, day, tz)? {
            let e = totals.entry(h.app).or_default();
            e.0 = e.0.saturating_add(h.bytes_in);
            e.1 = e.1.saturating_add(h.bytes_out);
        }
        let mut out: Vec<AppTotal> = totals
            .into_iter()
            .map(|(app, (bytes_in, bytes_out))| AppTotal {
                app,
                bytes_in,
                bytes_out,
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
        let bucket = Self::hour_bucket(tz, bounds);
        let mut sums: HashMap<(NaiveDate, u8, String), (u64, u64)> = HashMap::new();
        for (field, is_in) in [("in", true), ("out", false)] {
            for (t, app, v) in self.sums(field, host, bounds, bucket, true)? {
                let at = DateTime::from_timestamp(t, 0).unwrap_or_default();
                let (day, hour) = local_day_hour(at, tz);
                let e = sums.entry((day, hour, app)).or_default();
                if is_in {
                    e.0 = e.0.saturating_add(v);
                } else {
                    e.1 = e.1.saturating_add(v);
                }
            }
        }
        let mut out: Vec<HourlyUsage> = sums
            .into_iter()
            .map(|((day, hour, app), (bytes_in, bytes_out))| HourlyUsage {
                day,
                hour,
                app,
                bytes_in,
                bytes_out,
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
        let bucket = Self::hour_bucket(tz, bounds);
        let mut seconds: HashMap<(NaiveDate, u8), u64> = HashMap::new();
        for (t, _, v) in self.sums("interval_s", host, bounds, bucket, false)? {
            let at = DateTime::from_timestamp(t, 0).unwrap_or_default();
            let sum = seconds.entry(local_day_hour(at, tz)).or_default();
            *sum = sum.saturating_add(v);
        }
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
        let start = bounds.start.timestamp();
        let mut by_app: HashMap<String, (Vec<u64>, Vec<u64>)> = HashMap::new();
        for (field, is_in) in [("in", true), ("out", false)] {
            for (t, app, v) in self.sums(field, host, bounds, step, true)? {
                let b = (((t - start).max(0) / step) as usize).min(buckets.saturating_sub(1));
                let e = by_app
                    .entry(app)
                    .or_insert_with(|| (vec![0; buckets], vec![0; buckets]));
                if is_in {
                    e.0[b] = e.0[b].saturating_add(v);
                } else {
                    e.1[b] = e.1[b].saturating_add(v);
                }
            }
        }
        curve.apps = by_app
            .into_iter()
            .map(|(app, (bytes_in, bytes_out))| AppCurve {
                app,
                bytes_in,
                bytes_out,
            })
            .collect();
        answer::sort_curves(&mut curve.apps);
        Ok(curve)
    }

    fn for_each_tick(
        &self,
        host: &HostFilter,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        f: &mut dyn FnMut(Tick) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        // A day of points per query: a year is not one answer in memory.
        const CHUNK_S: i64 = 86_400;
        let (mut from, end) = (start.timestamp(), end.timestamp());
        while from < end {
            let to = (from + CHUNK_S).min(end);
            let bounds = DayBounds {
                start: DateTime::from_timestamp(from, 0).unwrap_or_default(),
                end: DateTime::from_timestamp(to, 0).unwrap_or_default(),
            };
            let w = where_clause(host, bounds);
            // (time, host) → (interval, per-app (in, out))
            let mut ticks: std::collections::BTreeMap<(i64, String), TickParts> =
                Default::default();
            let q = format!(
                "SELECT \"interval_s\" FROM {} WHERE {w} GROUP BY \"host\"",
                ident(TICKS)
            );
            for series in self.query(&q)? {
                let h = series["tags"]["host"].as_str().unwrap_or("").to_string();
                for row in series["values"].as_array().into_iter().flatten() {
                    if let Some(t) = row[0].as_i64() {
                        let interval = row[1]
                            .as_u64()
                            .and_then(|v| u32::try_from(v).ok())
                            .unwrap_or(0);
                        ticks.insert((t, h.clone()), (interval, Vec::new()));
                    }
                }
            }
            let q = format!(
                "SELECT \"in\", \"out\" FROM {} WHERE {w} GROUP BY \"host\", \"process_name\"",
                ident(MEASUREMENT)
            );
            for series in self.query(&q)? {
                let h = series["tags"]["host"].as_str().unwrap_or("").to_string();
                let app = series["tags"]["process_name"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                for row in series["values"].as_array().into_iter().flatten() {
                    if let Some(t) = row[0].as_i64() {
                        // Points without their tick (written by another tool)
                        // come as ticks of unknown interval.
                        ticks
                            .entry((t, h.clone()))
                            .or_insert((0, Vec::new()))
                            .1
                            .push((app.clone(), (count(&row[1]), count(&row[2]))));
                    }
                }
            }
            let mut places = destinations::read(&|q| self.query(q), host, bounds, None)?;
            let mut nets = networks::read(&|q| self.query(q), host, bounds, None)?;
            for ((t, h), (interval, apps)) in ticks {
                let at = DateTime::from_timestamp(t, 0).unwrap_or_default();
                let mut to = places.remove(&(t, h.clone())).unwrap_or_default();
                let mut net = nets.remove(&(t, h.clone())).unwrap_or_default();
                let apps = apps.into_iter().map(|(app, (i, o))| AppFlows {
                    to: to.remove(&app).unwrap_or_default(),
                    net: net.remove(&app).unwrap_or_default(),
                    flow: Flow::new(i, o),
                    app,
                });
                f(Tick::from_flows(h, at, interval, apps))?;
            }
            from = to;
        }
        Ok(())
    }

    fn destinations(
        &self,
        host: &HostFilter,
        from: NaiveDate,
        to: NaiveDate,
        tz: Tz,
        app: Option<&str>,
    ) -> Result<Vec<super::DestinationTotal>, StoreError> {
        let bounds = answer::range(from, to, tz)?;
        destinations::totals(&|q| self.query(q), host, bounds, app)
    }

    fn hourly_destinations(
        &self,
        host: &HostFilter,
        from: NaiveDate,
        to: NaiveDate,
        tz: Tz,
    ) -> Result<Vec<super::HourlyDestination>, StoreError> {
        let bounds = answer::range(from, to, tz)?;
        let mut sums: HashMap<(NaiveDate, u8, String, std::net::IpAddr), Flow> = HashMap::new();
        for ((t, _host), apps) in destinations::read(&|q| self.query(q), host, bounds, None)? {
            let at = DateTime::from_timestamp(t, 0).unwrap_or_default();
            let (day, hour) = local_day_hour(at, tz);
            for (app, places) in apps {
                for (addr, f) in places {
                    sums.entry((day, hour, app.clone(), addr))
                        .or_default()
                        .add(f);
                }
            }
        }
        Ok(sums
            .into_iter()
            .map(|((day, hour, app, address), f)| super::HourlyDestination {
                day,
                hour,
                app,
                address,
                bytes_in: f.bytes_in,
                bytes_out: f.bytes_out,
            })
            .collect())
    }

    fn hourly_networks(
        &self,
        host: &HostFilter,
        from: NaiveDate,
        to: NaiveDate,
        tz: Tz,
    ) -> Result<Vec<super::HourlyNetwork>, StoreError> {
        let bounds = answer::range(from, to, tz)?;
        let bucket = Self::hour_bucket(tz, bounds);
        networks::hourly(&|q| self.query(q), host, bounds, bucket, tz)
    }

    fn networks(&self) -> Result<Vec<super::NetworkRecord>, StoreError> {
        networks::records(&|q| self.query(q), TICKS)
    }

    fn summary(&self) -> Result<StoreSummary, StoreError> {
        let count = |q: &str| -> Result<u64, StoreError> {
            Ok(self
                .query(q)?
                .first()
                .and_then(|s| s["values"][0][1].as_u64())
                .unwrap_or(0))
        };
        let ticks = count(&format!(
            "SELECT count(\"interval_s\") FROM {}",
            ident(TICKS)
        ))?;
        let samples = count(&format!("SELECT count(\"in\") FROM {}", ident(MEASUREMENT)))?;
        let mut hosts = BTreeSet::new();
        for s in self.query(&format!(
            "SHOW TAG VALUES FROM {} WITH KEY = \"host\"",
            ident(TICKS)
        ))? {
            for row in s["values"].as_array().into_iter().flatten() {
                if let Some(h) = row[1].as_str() {
                    hosts.insert(h.to_string());
                }
            }
        }
        let edge = |f: &str| -> Result<Option<DateTime<Utc>>, StoreError> {
            Ok(self
                .query(&format!("SELECT {f}(\"interval_s\") FROM {}", ident(TICKS)))?
                .first()
                .and_then(|s| s["values"][0][0].as_i64())
                .and_then(|t| DateTime::from_timestamp(t, 0)))
        };
        Ok(StoreSummary {
            ticks,
            samples,
            merged_ticks: 0,
            hosts: hosts.into_iter().collect(),
            first_tick: edge("first")?,
            last_tick: edge("last")?,
            // The server's retention policies are its own.
            minute_data_from: None,
            file_bytes: None,
        })
    }
}

impl VerdictStore for InfluxStore {
    fn put_verdict(&mut self, record: &VerdictRecord) -> Result<(), StoreError> {
        let marked = self
            .verdict(&record.host, record.day)?
            .is_some_and(|v| v.marked_normal);
        let record = VerdictRecord {
            marked_normal: record.marked_normal || marked,
            ..record.clone()
        };
        self.write_verdict(&record)
    }

    fn verdicts(
        &self,
        host: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<VerdictRecord>, StoreError> {
        // Far-off bounds (everything) are clamped to what InfluxDB can hold.
        let lo = NaiveDate::from_ymd_opt(1970, 1, 2).unwrap_or(from);
        let hi = NaiveDate::from_ymd_opt(2200, 1, 1).unwrap_or(to);
        self.verdict_rows(host, from.max(lo), to.min(hi))
    }

    fn mark_normal(&mut self, host: &str, day: NaiveDate) -> Result<bool, StoreError> {
        let Some(record) = self.verdict(host, day)? else {
            return Ok(false);
        };
        self.write_verdict(&VerdictRecord {
            marked_normal: true,
            ..record
        })?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_protocol_escapes_what_it_must() {
        let t = Tick::from_totals(
            "my mac,1",
            DateTime::from_timestamp(1_783_779_780, 0).unwrap(),
            60,
            [
                ("Google Chrome Helper (Renderer)".to_string(), (12, 3)),
                ("a=b".to_string(), (1, 0)),
            ],
        );
        assert_eq!(
            lines(&t),
            vec![
                format!(
                    "nbi_tick,host=my\\ mac\\,1 interval_s=60i,digests=\"{:016x}\" 1783779780",
                    t.digest()
                ),
                "network_traffic,host=my\\ mac\\,1,process_name=Google\\ Chrome\\ Helper\\ (Renderer) in=12i,out=3i 1783779780".to_string(),
                "network_traffic,host=my\\ mac\\,1,process_name=a\\=b in=1i,out=0i 1783779780".to_string(),
            ]
        );
        assert_eq!(tag("line\nbreak"), "line break");
        assert_eq!(literal("it's"), "'it\\'s'");
        assert_eq!(ident("in"), "\"in\"");
    }

    #[test]
    fn an_unreachable_server_is_a_transient_error_naming_it() {
        // Port 9 (discard) on loopback: nothing listens there.
        let cfg = InfluxDbConfig {
            url: "http://127.0.0.1:9".into(),
            ..InfluxDbConfig::default()
        };
        let mut s = InfluxStore::new(&cfg, None);
        let t = Tick::from_totals("h", Utc::now(), 60, [("a".to_string(), (1, 1))]);
        let err = s.write(&[t]).unwrap_err();
        assert!(err.is_transient(), "{err}");
        assert!(err.to_string().contains("127.0.0.1:9"), "{err}");
    }
}
