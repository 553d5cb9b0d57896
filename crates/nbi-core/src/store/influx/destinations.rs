//! Destinations in InfluxDB: `nbi_destination,host=…,process_name=…,org=…,country=…
//! in=…i,out=…i,to="addr=in/out;…" <s>`, one point per app, organisation and
//! country of a tick. The organisation and country are tags (a bounded
//! set: Grafana groups by them); the addresses are not — they ride in the
//! `to` field, exact, so an export gives each tick's destinations back.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use serde_json::Value;

use super::protocol::{field_string, ident, tag, where_at};
use crate::destination::Namer;
use crate::store::{DayBounds, DestinationTotal, HostFilter, StoreError};
use crate::tick::{Destinations, Flow, Tick};

pub const DESTINATIONS: &str = "nbi_destination";

/// Destinations by (ts, host), then app.
pub(super) type Placed = BTreeMap<(i64, String), HashMap<String, Destinations>>;

/// An app's addresses in one tick, by (organisation, country).
type Groups = BTreeMap<(Option<String>, Option<String>), Vec<(IpAddr, Flow)>>;

/// The points of `tick`'s destinations.
pub(super) fn lines(tick: &Tick, namer: &Namer, out: &mut Vec<String>) {
    let ts = tick.at.timestamp();
    let host = tag(&tick.host);
    for a in &tick.apps {
        let mut groups = Groups::new();
        for (addr, f) in &a.to {
            let named = namer.name(*addr);
            let org = match (&named.org, named.destination.as_str()) {
                (Some(o), _) => Some(o.clone()),
                (None, crate::destination::LOCAL_NETWORK) => Some(named.destination.clone()),
                _ => None,
            };
            groups
                .entry((org, named.country))
                .or_default()
                .push((*addr, *f));
        }
        for ((org, country), parts) in groups {
            let mut sum = Flow::default();
            let mut to = String::new();
            for (addr, f) in &parts {
                sum.add(*f);
                if !to.is_empty() {
                    to.push(';');
                }
                to.push_str(&format!("{addr}={}/{}", f.bytes_in, f.bytes_out));
            }
            let mut tags = format!("{DESTINATIONS},host={host},process_name={}", tag(&a.app));
            if let Some(o) = org {
                tags.push_str(&format!(",org={}", tag(&o)));
            }
            if let Some(c) = country {
                tags.push_str(&format!(",country={}", tag(&c)));
            }
            out.push(format!(
                "{tags} in={}i,out={}i,to={} {ts}",
                sum.bytes_in.min(i64::MAX as u64),
                sum.bytes_out.min(i64::MAX as u64),
                field_string(&to)
            ));
        }
    }
}

/// The addresses of one `to` field; parts that do not read are skipped.
fn parse_to(text: &str) -> Vec<(IpAddr, Flow)> {
    text.split(';')
        .filter_map(|part| {
            let (addr, bytes) = part.split_once('=')?;
            let (i, o) = bytes.split_once('/')?;
            Some((
                addr.trim().parse().ok()?,
                Flow::new(i.trim().parse().ok()?, o.trim().parse().ok()?),
            ))
        })
        .collect()
}

/// A query of the server: its series.
pub(super) type Query<'a> = &'a dyn Fn(&str) -> Result<Vec<Value>, StoreError>;

/// Per (time, host) then app, the destinations stored in `bounds` (at the
/// second `at` alone when given).
pub(super) fn read(
    query: Query<'_>,
    host: &HostFilter,
    bounds: DayBounds,
    at: Option<i64>,
) -> Result<Placed, StoreError> {
    let w = where_at(host, bounds, at);
    let q = format!(
        "SELECT \"to\" FROM {} WHERE {w} GROUP BY \"host\", \"process_name\"",
        ident(DESTINATIONS)
    );
    let mut out = Placed::new();
    for series in query(&q)? {
        let h = series["tags"]["host"].as_str().unwrap_or("").to_string();
        let app = series["tags"]["process_name"]
            .as_str()
            .unwrap_or("")
            .to_string();
        for row in series["values"].as_array().into_iter().flatten() {
            let (Some(t), Some(to)) = (row[0].as_i64(), row[1].as_str()) else {
                continue;
            };
            let places = out
                .entry((t, h.clone()))
                .or_default()
                .entry(app.clone())
                .or_default();
            for (addr, f) in parse_to(to) {
                places.entry(addr).or_default().add(f);
            }
        }
    }
    Ok(out)
}

/// Per app and address over `bounds`, largest first.
pub(super) fn totals(
    query: Query<'_>,
    host: &HostFilter,
    bounds: DayBounds,
    app: Option<&str>,
) -> Result<Vec<DestinationTotal>, StoreError> {
    let mut sums: BTreeMap<(String, IpAddr), Flow> = BTreeMap::new();
    // A day of points per query, as an export reads them.
    const CHUNK_S: i64 = 86_400;
    let (mut from, end) = (bounds.start.timestamp(), bounds.end.timestamp());
    while from < end {
        let to = (from + CHUNK_S).min(end);
        let chunk = DayBounds {
            start: chrono::DateTime::from_timestamp(from, 0).unwrap_or_default(),
            end: chrono::DateTime::from_timestamp(to, 0).unwrap_or_default(),
        };
        for (_, apps) in read(query, host, chunk, None)? {
            for (name, places) in apps {
                if app.is_some_and(|a| a != name) {
                    continue;
                }
                for (addr, f) in places {
                    sums.entry((name.clone(), addr)).or_default().add(f);
                }
            }
        }
        from = to;
    }
    let mut out: Vec<DestinationTotal> = sums
        .into_iter()
        .map(|((app, address), f)| DestinationTotal {
            app,
            address,
            bytes_in: f.bytes_in,
            bytes_out: f.bytes_out,
        })
        .collect();
    crate::store::answer::sort_destinations(&mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_to_field_reads_back_and_garbage_is_skipped() {
        let got = parse_to("17.57.144.84=1000/300;2606:4700::6810=5/0;junk;1.2.3.4=x/1");
        assert_eq!(
            got,
            vec![
                ("17.57.144.84".parse().unwrap(), Flow::new(1000, 300)),
                ("2606:4700::6810".parse().unwrap(), Flow::new(5, 0)),
            ]
        );
    }

    #[test]
    fn organisation_and_country_are_tags_and_addresses_are_not() {
        let at = chrono::DateTime::from_timestamp(1_783_779_780, 0).unwrap();
        let to: Destinations = [
            ("192.168.1.1".parse().unwrap(), Flow::new(10, 1)),
            ("192.0.2.9".parse().unwrap(), Flow::new(20, 2)),
        ]
        .into();
        let tick = Tick::from_flows("mbp", at, 60, [("curl".into(), Flow::new(100, 9), to)]);
        let mut out = Vec::new();
        lines(&tick, &Namer::shipped(), &mut out);
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(out.iter().any(|l| l.starts_with(
            "nbi_destination,host=mbp,process_name=curl,org=local\\ network in=10i,out=1i,to=\"192.168.1.1=10/1\""
        )), "{out:?}");
        assert!(out.iter().all(|l| !l.contains(",address=")));
    }
}
