//! What is told about networks: the networks of a range of days with their
//! bytes (`nbi networks`), history per network (`nbi history --by
//! network`), and a day's apps over one network (`nbi today --network`).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::history::{Granularity, HistoryQuery, Period};
use crate::store::{AppTotal, HostFilter, NetworkRecord, StoreError, UsageQuery};
use crate::tick::NetworkId;

/// One network as `nbi networks --json` gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkRow {
    pub id: NetworkId,
    /// The owner's name, else the OS's, else the id's label.
    pub name: String,
    /// The owner's word, else the OS's; false when neither said.
    pub metered: bool,
    /// The first and last time bytes went over it (all history).
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    /// Bytes over it in the range asked, this host (or every host).
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// `{"from", "to", "networks": [...]}`: largest first, then by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Networks {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub networks: Vec<NetworkRow>,
}

/// The networks with bytes over the local days `from..=to`.
///
/// # Errors
/// A range that ends before it starts, or what the store says.
pub fn networks(
    store: &dyn UsageQuery,
    host: &HostFilter,
    from: NaiveDate,
    to: NaiveDate,
    tz: Tz,
) -> Result<Networks, StoreError> {
    let records = records_by_id(store)?;
    let mut sums: BTreeMap<NetworkId, (u64, u64)> = BTreeMap::new();
    for d in store.daily_networks(host, from, to, tz)? {
        let e = sums.entry(d.network).or_default();
        e.0 = e.0.saturating_add(d.bytes_in);
        e.1 = e.1.saturating_add(d.bytes_out);
    }
    let mut rows: Vec<NetworkRow> = sums
        .into_iter()
        .filter(|(_, (i, o))| *i > 0 || *o > 0)
        .map(|(id, (i, o))| {
            let r = records
                .get(&id)
                .cloned()
                .unwrap_or_else(|| NetworkRecord::new(id.clone()));
            NetworkRow {
                name: r.name(),
                metered: r.metered(),
                first_seen: r.first_seen,
                last_seen: r.last_seen,
                id,
                bytes_in: i,
                bytes_out: o,
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        let size = |r: &NetworkRow| r.bytes_in.saturating_add(r.bytes_out);
        size(b).cmp(&size(a)).then_with(|| a.id.cmp(&b.id))
    });
    Ok(Networks {
        from,
        to,
        networks: rows,
    })
}

/// The networks table by id.
pub fn records_by_id(
    store: &dyn UsageQuery,
) -> Result<HashMap<NetworkId, NetworkRecord>, StoreError> {
    Ok(store
        .networks()?
        .into_iter()
        .map(|r| (r.id.clone(), r))
        .collect())
}

/// One network's bytes in one period; `network: null` is the bytes whose
/// network no source knew (older history, a capture without socket rows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkPeriod {
    pub period: Period,
    pub network: Option<NetworkId>,
    pub name: String,
    pub metered: bool,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// `nbi history --by network --json`: `{"from", "to", "by": "network",
/// "rows": [...]}`, by period, then bytes (largest first), then id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkHistory {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub by: &'static str,
    pub rows: Vec<NetworkPeriod>,
}

/// What no network is known for, as its rows name it.
pub const UNKNOWN_NETWORK: &str = "network not known";

/// History per network and local day (or month, with `by`): each period's
/// bytes by network, and what no network is known for. `query.app` keeps
/// one app; `query.network` one network.
///
/// # Errors
/// A range that ends before it starts, or what the store says.
pub fn history(
    store: &dyn UsageQuery,
    query: &HistoryQuery,
    by: Granularity,
    tz: Tz,
) -> Result<NetworkHistory, StoreError> {
    let records = records_by_id(store)?;
    let wanted_app = |app: &str| query.app.as_deref().is_none_or(|a| a == app);
    let mut sums: BTreeMap<(Period, Option<NetworkId>), (i128, i128)> = BTreeMap::new();
    if query.network.is_none() {
        // Every byte of each period, less what is known by network below.
        for d in store.daily(&query.host, query.from, query.to, tz)? {
            if wanted_app(&d.app) {
                let e = sums.entry((Period::of(d.day, by), None)).or_default();
                e.0 += i128::from(d.bytes_in);
                e.1 += i128::from(d.bytes_out);
            }
        }
    }
    for d in store.daily_networks(&query.host, query.from, query.to, tz)? {
        if !wanted_app(&d.app) || query.network.as_ref().is_some_and(|n| *n != d.network) {
            continue;
        }
        let period = Period::of(d.day, by);
        let (i, o) = (i128::from(d.bytes_in), i128::from(d.bytes_out));
        if query.network.is_none() {
            let rest = sums.entry((period, None)).or_default();
            rest.0 -= i;
            rest.1 -= o;
        }
        let e = sums.entry((period, Some(d.network))).or_default();
        e.0 += i;
        e.1 += o;
    }
    let clamp = |v: i128| u64::try_from(v.max(0)).unwrap_or(u64::MAX);
    let mut rows: Vec<NetworkPeriod> = sums
        .into_iter()
        .map(|((period, network), (i, o))| {
            let (name, metered) = match &network {
                Some(id) => records.get(id).map_or_else(
                    || (super::ids::name_of_id(id), false),
                    |r| (r.name(), r.metered()),
                ),
                None => (UNKNOWN_NETWORK.to_string(), false),
            };
            NetworkPeriod {
                period,
                network,
                name,
                metered,
                bytes_in: clamp(i),
                bytes_out: clamp(o),
            }
        })
        .filter(|r| r.bytes_in > 0 || r.bytes_out > 0)
        .collect();
    rows.sort_by(|a, b| {
        let size = |r: &NetworkPeriod| r.bytes_in.saturating_add(r.bytes_out);
        a.period
            .cmp(&b.period)
            .then_with(|| size(b).cmp(&size(a)))
            .then_with(|| a.network.cmp(&b.network))
    });
    Ok(NetworkHistory {
        from: query.from,
        to: query.to,
        by: "network",
        rows,
    })
}

/// Per-app totals of one local day over one network, largest first.
///
/// # Errors
/// What the store says.
pub fn day_totals_on(
    store: &dyn UsageQuery,
    host: &HostFilter,
    day: NaiveDate,
    tz: Tz,
    network: &NetworkId,
) -> Result<Vec<AppTotal>, StoreError> {
    let mut sums: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for d in store.daily_networks(host, day, day, tz)? {
        if d.network == *network {
            let e = sums.entry(d.app).or_default();
            e.0 = e.0.saturating_add(d.bytes_in);
            e.1 = e.1.saturating_add(d.bytes_out);
        }
    }
    let mut out: Vec<AppTotal> = sums
        .into_iter()
        .map(|(app, (bytes_in, bytes_out))| AppTotal {
            app,
            bytes_in,
            bytes_out,
        })
        .collect();
    crate::store::answer::sort_totals(&mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;
    use crate::store::{NetworkBook, TickWriter};
    use crate::tick::{AppFlows, Flow, Tick};

    fn id(s: &str) -> NetworkId {
        NetworkId::new(s).unwrap()
    }

    fn tick(at: &str, app: &str, total: (u64, u64), nets: &[(&str, u64, u64)]) -> Tick {
        Tick::from_flows(
            "mbp",
            at.parse().unwrap(),
            60,
            [AppFlows {
                app: app.into(),
                flow: Flow::new(total.0, total.1),
                to: Default::default(),
                net: nets
                    .iter()
                    .map(|(n, i, o)| (id(n), Flow::new(*i, *o)))
                    .collect(),
            }],
        )
    }

    #[test]
    fn networks_history_and_a_days_apps_over_one_network_add_up() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
        s.write(&[
            tick(
                "2026-12-01T09:00:00Z",
                "Safari",
                (1000, 100),
                &[("wifi:Home", 900, 90)],
            ),
            tick(
                "2026-12-01T09:01:00Z",
                "Backup",
                (5000, 500),
                &[("cell:pdp_ip0", 5000, 500)],
            ),
            tick(
                "2026-12-02T09:00:00Z",
                "Safari",
                (300, 30),
                &[("wifi:Home", 300, 30)],
            ),
        ])
        .unwrap();
        s.record_sightings(&[crate::network::Sighting {
            id: id("wifi:Home"),
            name: "Home".into(),
            metered: Some(false),
        }])
        .unwrap();
        s.set_network_metered(&id("cell:pdp_ip0"), Some(true))
            .unwrap();
        s.name_network(&id("cell:pdp_ip0"), Some("Phone")).unwrap();
        let tz = chrono_tz::UTC;
        let host = HostFilter::One("mbp".into());
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let n = networks(&s, &host, d("2026-12-01"), d("2026-12-02"), tz).unwrap();
        let got: Vec<(String, String, bool, u64, u64)> = n
            .networks
            .iter()
            .map(|r| {
                (
                    r.id.to_string(),
                    r.name.clone(),
                    r.metered,
                    r.bytes_in,
                    r.bytes_out,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("cell:pdp_ip0".into(), "Phone".into(), true, 5000, 500),
                ("wifi:Home".into(), "Home".into(), false, 1200, 120),
            ]
        );
        let home = &n.networks[1];
        assert_eq!(
            home.first_seen.map(|t| t.to_rfc3339()),
            Some("2026-12-01T09:00:00+00:00".into())
        );
        assert_eq!(
            home.last_seen.map(|t| t.to_rfc3339()),
            Some("2026-12-02T09:01:00+00:00".into())
        );
        let query = HistoryQuery {
            host: host.clone(),
            from: d("2026-12-01"),
            to: d("2026-12-02"),
            by: Granularity::Day,
            app: None,
            network: None,
        };
        let h = history(&s, &query, Granularity::Day, tz).unwrap();
        let rows: Vec<(String, Option<String>, u64)> = h
            .rows
            .iter()
            .map(|r| {
                (
                    r.period.to_string(),
                    r.network.as_ref().map(|n| n.to_string()),
                    r.bytes_in,
                )
            })
            .collect();
        assert_eq!(
            rows,
            vec![
                ("2026-12-01".into(), Some("cell:pdp_ip0".into()), 5000),
                ("2026-12-01".into(), Some("wifi:Home".into()), 900),
                ("2026-12-01".into(), None, 100),
                ("2026-12-02".into(), Some("wifi:Home".into()), 300),
            ],
            "the 100 B of Safari over no known network stay, apart"
        );
        let on_home = HistoryQuery {
            network: Some(id("wifi:Home")),
            ..query
        };
        let h = crate::history::read(&s, &on_home, tz).unwrap();
        assert_eq!(h.totals(), (1200, 120));
        let today = day_totals_on(&s, &host, d("2026-12-01"), tz, &id("cell:pdp_ip0")).unwrap();
        assert_eq!(
            (today.len(), today[0].app.as_str(), today[0].bytes_in),
            (1, "Backup", 5000)
        );
    }
}
