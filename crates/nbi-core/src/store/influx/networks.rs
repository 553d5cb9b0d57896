//! Networks in InfluxDB: `nbi_network,host=…,process_name=…,network=…
//! in=…i,out=…i <s>`, one point per app and network of a tick (networks are
//! few: a tag, so Grafana groups by them), and the networks table as
//! `nbi_network_info,network=… os_name="…",os_metered=…i,owner_name="…",
//! owner_metered=…i <s>` points, the latest of each network holding. In
//! the info points a flag is -1 and a name "" where nothing was said.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use super::destinations::Query;
use super::protocol::{count, field_string, ident, tag, where_at, where_clause};
use crate::network::Sighting;
use crate::store::timeline::local_day_hour;
use crate::store::{DayBounds, HostFilter, HourlyNetwork, NetworkRecord, StoreError};
use crate::tick::{NetworkFlows, NetworkId, Tick};

pub const NETWORKS: &str = "nbi_network";
pub const NETWORK_INFO: &str = "nbi_network_info";

/// Networks by (ts, host), then app.
pub(super) type Placed = BTreeMap<(i64, String), HashMap<String, NetworkFlows>>;

/// The points of `tick`'s networks.
pub(super) fn lines(tick: &Tick, out: &mut Vec<String>) {
    let ts = tick.at.timestamp();
    let host = tag(&tick.host);
    for a in &tick.apps {
        for (net, f) in &a.net {
            out.push(format!(
                "{NETWORKS},host={host},process_name={},network={} in={}i,out={}i {ts}",
                tag(&a.app),
                tag(net.as_str()),
                f.bytes_in.min(i64::MAX as u64),
                f.bytes_out.min(i64::MAX as u64),
            ));
        }
    }
}

/// Per (time, host) then app, the networks stored in `bounds` (at the
/// second `at` alone when given).
pub(super) fn read(
    query: Query<'_>,
    host: &HostFilter,
    bounds: DayBounds,
    at: Option<i64>,
) -> Result<Placed, StoreError> {
    let w = where_at(host, bounds, at);
    let q = format!(
        "SELECT \"in\", \"out\" FROM {} WHERE {w} GROUP BY \"host\", \"process_name\", \"network\"",
        ident(NETWORKS)
    );
    let mut out = Placed::new();
    for series in query(&q)? {
        let (h, app, Some(net)) = series_tags(&series) else {
            continue;
        };
        for row in series["values"].as_array().into_iter().flatten() {
            let Some(t) = row[0].as_i64() else { continue };
            out.entry((t, h.clone()))
                .or_default()
                .entry(app.clone())
                .or_default()
                .entry(net.clone())
                .or_default()
                .add(crate::tick::Flow::new(count(&row[1]), count(&row[2])));
        }
    }
    Ok(out)
}

fn series_tags(series: &Value) -> (String, String, Option<NetworkId>) {
    let t = |k: &str| series["tags"][k].as_str().unwrap_or("").to_string();
    (
        t("host"),
        t("process_name"),
        NetworkId::new(t("network")).ok(),
    )
}

/// Per local hour, app and network over `bounds`: the server's sums per
/// `bucket_s` (an hour, or a quarter where local hours are not whole UTC
/// hours), placed at their local hour.
pub(super) fn hourly(
    query: Query<'_>,
    host: &HostFilter,
    bounds: DayBounds,
    bucket_s: i64,
    tz: Tz,
) -> Result<Vec<HourlyNetwork>, StoreError> {
    let offset = bounds.start.timestamp().rem_euclid(bucket_s);
    let mut sums: BTreeMap<(NaiveDate, u8, String, NetworkId), (u64, u64)> = BTreeMap::new();
    // In and out apart: InfluxDB 3's InfluxQL does not add two aggregates.
    for (field, is_in) in [("in", true), ("out", false)] {
        let q = format!(
            "SELECT sum({f}) FROM {m} WHERE {w} GROUP BY time({bucket_s}s, {offset}s), \"process_name\", \"network\" fill(none)",
            f = ident(field),
            m = ident(NETWORKS),
            w = where_clause(host, bounds),
        );
        for series in query(&q)? {
            let (_, app, Some(net)) = series_tags(&series) else {
                continue;
            };
            for row in series["values"].as_array().into_iter().flatten() {
                let Some(t) = row[0].as_i64() else { continue };
                let v = count(&row[1]);
                let at = DateTime::<Utc>::from_timestamp(t, 0).unwrap_or_default();
                let (day, hour) = local_day_hour(at, tz);
                let e = sums
                    .entry((day, hour, app.clone(), net.clone()))
                    .or_default();
                if is_in {
                    e.0 = e.0.saturating_add(v);
                } else {
                    e.1 = e.1.saturating_add(v);
                }
            }
        }
    }
    Ok(sums
        .into_iter()
        .filter(|(_, (i, o))| *i > 0 || *o > 0)
        .map(|((day, hour, app, network), (i, o))| HourlyNetwork {
            day,
            hour,
            app,
            network,
            bytes_in: i,
            bytes_out: o,
        })
        .collect())
}

/// A point of the networks table.
pub(super) fn info_line(
    id: &NetworkId,
    os: Option<(&str, Option<bool>)>,
    owner: Option<(Option<&str>, Option<bool>)>,
    at: i64,
) -> String {
    let flag = |b: Option<bool>| b.map_or(-1, i64::from);
    let mut fields = Vec::new();
    if let Some((name, metered)) = os {
        fields.push(format!("os_name={}", field_string(name)));
        fields.push(format!("os_metered={}i", flag(metered)));
    }
    if let Some((name, metered)) = owner {
        fields.push(format!("owner_name={}", field_string(name.unwrap_or(""))));
        fields.push(format!("owner_metered={}i", flag(metered)));
    }
    format!(
        "{NETWORK_INFO},network={} {} {at}",
        tag(id.as_str()),
        fields.join(",")
    )
}

/// The sighting points of `seen` at second `at`.
pub(super) fn sighting_lines(seen: &[Sighting], at: i64) -> Vec<String> {
    seen.iter()
        .map(|s| info_line(&s.id, Some((&s.name, s.metered)), None, at))
        .collect()
}

/// The networks table: the latest word of each kind per network, and the
/// first and last point with bytes over it.
///
/// `ticks` is the measurement of the ticks (their intervals give the end
/// of the last one).
pub(super) fn records(query: Query<'_>, ticks: &str) -> Result<Vec<NetworkRecord>, StoreError> {
    let mut out: BTreeMap<NetworkId, NetworkRecord> = BTreeMap::new();
    let m = ident(NETWORK_INFO);
    let queries = [
        format!("SELECT last(\"os_name\") AS os_name, last(\"os_metered\") AS os_metered FROM {m} GROUP BY \"network\""),
        format!("SELECT last(\"owner_name\") AS owner_name, last(\"owner_metered\") AS owner_metered FROM {m} GROUP BY \"network\""),
    ];
    let flag = |v: &Value| match v.as_i64() {
        Some(1) => Some(true),
        Some(0) => Some(false),
        _ => None,
    };
    let name = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    for series in queries
        .iter()
        .map(|q| query(q))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
    {
        let Ok(id) = NetworkId::new(series["tags"]["network"].as_str().unwrap_or("")) else {
            continue;
        };
        let columns: Vec<&str> = series["columns"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let r = out
            .entry(id.clone())
            .or_insert_with(|| NetworkRecord::new(id));
        for row in series["values"].as_array().into_iter().flatten() {
            for (i, c) in columns.iter().enumerate() {
                match *c {
                    "os_name" => r.os_name = name(&row[i]),
                    "os_metered" => r.os_metered = flag(&row[i]),
                    "owner_name" => r.owner_name = name(&row[i]),
                    "owner_metered" => r.owner_metered = flag(&row[i]),
                    _ => {}
                }
            }
        }
    }
    for (pick, first) in [("first", true), ("last", false)] {
        let q = format!(
            "SELECT {pick}(\"in\") FROM {} GROUP BY \"network\"",
            ident(NETWORKS)
        );
        for series in query(&q)? {
            let Ok(id) = NetworkId::new(series["tags"]["network"].as_str().unwrap_or("")) else {
                continue;
            };
            let r = out
                .entry(id.clone())
                .or_insert_with(|| NetworkRecord::new(id));
            for row in series["values"].as_array().into_iter().flatten() {
                let Some(t) = row[0].as_i64() else { continue };
                if first {
                    r.first_seen = DateTime::from_timestamp(t, 0);
                } else {
                    // The end of the last tick with bytes over it, as
                    // SQLite keeps it: its start and its interval.
                    let q = format!(
                        "SELECT max(\"interval_s\") FROM {} WHERE time = {t}s",
                        ident(ticks)
                    );
                    let interval = query(&q)?
                        .first()
                        .and_then(|s| s["values"][0][1].as_i64())
                        .unwrap_or(0);
                    r.last_seen = DateTime::from_timestamp(t.saturating_add(interval), 0);
                }
            }
        }
    }
    Ok(out.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tick::{AppFlows, Flow};

    #[test]
    fn a_network_is_a_tag_and_each_app_and_network_a_point() {
        let at = DateTime::from_timestamp(1_783_779_780, 0).unwrap();
        let net: NetworkFlows = [
            (
                NetworkId::new("wifi:Home, 5 GHz").unwrap(),
                Flow::new(10, 1),
            ),
            (NetworkId::new("cell:pdp_ip0").unwrap(), Flow::new(20, 2)),
        ]
        .into();
        let tick = Tick::from_flows(
            "mbp",
            at,
            60,
            [AppFlows {
                app: "curl".into(),
                flow: Flow::new(100, 9),
                to: Default::default(),
                net,
            }],
        );
        let mut out = Vec::new();
        lines(&tick, &mut out);
        assert_eq!(
            out,
            vec![
                "nbi_network,host=mbp,process_name=curl,network=cell:pdp_ip0 in=20i,out=2i 1783779780",
                "nbi_network,host=mbp,process_name=curl,network=wifi:Home\\,\\ 5\\ GHz in=10i,out=1i 1783779780",
            ]
        );
        let id = NetworkId::new("wifi:Home").unwrap();
        assert_eq!(
            info_line(&id, None, Some((None, Some(true))), 5),
            "nbi_network_info,network=wifi:Home owner_name=\"\",owner_metered=1i 5"
        );
    }
}
