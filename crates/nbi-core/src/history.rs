//! Usage history: per-app bytes by local day or by calendar month over a
//! range of local days, as `nbi history` prints it and the window's history
//! view draws it. Every store answers it the same (from its daily sums).

use std::collections::HashMap;
use std::fmt;

use chrono::{Datelike, NaiveDate};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize, Serializer};

use crate::store::{HostFilter, StoreError, UsageQuery};

/// How history is summed: per local day, or per calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    Day,
    Month,
}

/// One row's period: a local day ("YYYY-MM-DD") or a month ("YYYY-MM").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Period {
    Day(NaiveDate),
    /// The month of this date (always its first day).
    Month(NaiveDate),
}

impl Period {
    /// The period of `day` at `by`.
    pub fn of(day: NaiveDate, by: Granularity) -> Period {
        match by {
            Granularity::Day => Period::Day(day),
            Granularity::Month => Period::Month(day.with_day(1).unwrap_or(day)),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Day(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            Period::Month(d) => write!(f, "{}", d.format("%Y-%m")),
        }
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One app's bytes in one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeriodUsage {
    pub period: Period,
    pub app: String,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

impl PeriodUsage {
    pub fn total(&self) -> u64 {
        self.bytes_in.saturating_add(self.bytes_out)
    }
}

/// History over the local days `from..=to`: rows ordered by period, then
/// by bytes (in + out, largest first), then by app; only periods and apps
/// with traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct History {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub by: Granularity,
    pub rows: Vec<PeriodUsage>,
}

impl History {
    /// Bytes (in, out) of the whole range.
    pub fn totals(&self) -> (u64, u64) {
        self.rows.iter().fold((0, 0), |(i, o), r| {
            (i.saturating_add(r.bytes_in), o.saturating_add(r.bytes_out))
        })
    }
}

/// What history to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryQuery {
    pub host: HostFilter,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub by: Granularity,
    /// Only this app (its exact name).
    pub app: Option<String>,
    /// Only the bytes over this network.
    pub network: Option<crate::tick::NetworkId>,
}

/// Reads history from `store`, local days of `tz`.
///
/// Errors: a range that ends before it starts ([`StoreError::Query`]), or
/// what the store says.
pub fn read(store: &dyn UsageQuery, query: &HistoryQuery, tz: Tz) -> Result<History, StoreError> {
    let days = match &query.network {
        None => store.daily(&query.host, query.from, query.to, tz)?,
        Some(net) => store
            .daily_networks(&query.host, query.from, query.to, tz)?
            .into_iter()
            .filter(|d| d.network == *net)
            .map(|d| crate::store::DailyUsage {
                day: d.day,
                app: d.app,
                bytes_in: d.bytes_in,
                bytes_out: d.bytes_out,
            })
            .collect(),
    };
    let mut sums: HashMap<(Period, String), (u64, u64)> = HashMap::new();
    for d in days {
        if query.app.as_deref().is_some_and(|a| a != d.app) {
            continue;
        }
        let e = sums
            .entry((Period::of(d.day, query.by), d.app))
            .or_default();
        e.0 = e.0.saturating_add(d.bytes_in);
        e.1 = e.1.saturating_add(d.bytes_out);
    }
    let mut rows: Vec<PeriodUsage> = sums
        .into_iter()
        .filter(|(_, (i, o))| *i > 0 || *o > 0)
        .map(|((period, app), (bytes_in, bytes_out))| PeriodUsage {
            period,
            app,
            bytes_in,
            bytes_out,
        })
        .collect();
    rows.sort_by(|a, b| {
        a.period
            .cmp(&b.period)
            .then_with(|| b.total().cmp(&a.total()))
            .then_with(|| a.app.cmp(&b.app))
    });
    Ok(History {
        from: query.from,
        to: query.to,
        by: query.by,
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;
    use crate::store::TickWriter;
    use crate::tick::Tick;
    use chrono::{DateTime, TimeZone, Utc};

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn tick(at: DateTime<Utc>, apps: &[(&str, u64, u64)]) -> Tick {
        Tick::from_totals(
            "mac",
            at,
            60,
            apps.iter().map(|(a, i, o)| (a.to_string(), (*i, *o))),
        )
    }

    fn local(tz: Tz, y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        tz.with_ymd_and_hms(y, m, d, h, min, 0)
            .earliest()
            .unwrap()
            .with_timezone(&Utc)
    }

    fn query(from: &str, to: &str, by: Granularity, app: Option<&str>) -> HistoryQuery {
        HistoryQuery {
            host: HostFilter::One("mac".into()),
            from: day(from),
            to: day(to),
            by,
            app: app.map(str::to_string),
            network: None,
        }
    }

    /// Berlin's fall-back night (25 Oct 2026, 25 hours) and the hours around
    /// its midnights: each byte lands on its local day, whichever store path.
    fn dst_store(keep_days_in: Option<Tz>) -> (tempfile::TempDir, SqliteStore) {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("h.sqlite")).unwrap();
        if let Some(z) = keep_days_in {
            s.keep_days_in(z).unwrap();
        }
        let utc = |y, m, d, h, min| Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap();
        s.write(&[
            // 23:59 local on the 24th (21:59 UTC, CEST)
            tick(local(tz, 2026, 10, 24, 23, 59), &[("Safari", 100, 1)]),
            // both 02:30s of the 25th: 00:30 and 01:30 UTC
            tick(utc(2026, 10, 25, 0, 30), &[("Safari", 10, 0)]),
            tick(
                utc(2026, 10, 25, 1, 30),
                &[("Safari", 20, 0), ("Mail", 0, 7)],
            ),
            // 23:30 local on the 25th (22:30 UTC, CET): still the 25th
            tick(utc(2026, 10, 25, 22, 30), &[("Mail", 5, 0)]),
            // 00:00 local on the 26th (23:00 UTC)
            tick(utc(2026, 10, 25, 23, 0), &[("Safari", 1, 1)]),
            // another month
            tick(local(tz, 2026, 11, 1, 12, 0), &[("Safari", 1000, 0)]),
        ])
        .unwrap();
        (dir, s)
    }

    #[test]
    fn days_across_a_fall_back_night_from_the_daily_sums_and_from_the_hours() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        for zone in [Some(tz), None, Some("Asia/Tokyo".parse().unwrap())] {
            let (_d, s) = dst_store(zone);
            let h = read(
                &s,
                &query("2026-10-24", "2026-10-26", Granularity::Day, None),
                tz,
            )
            .unwrap();
            let got: Vec<(String, &str, u64, u64)> = h
                .rows
                .iter()
                .map(|r| {
                    (
                        r.period.to_string(),
                        r.app.as_str(),
                        r.bytes_in,
                        r.bytes_out,
                    )
                })
                .collect();
            assert_eq!(
                got,
                vec![
                    ("2026-10-24".into(), "Safari", 100, 1),
                    ("2026-10-25".into(), "Safari", 30, 0),
                    ("2026-10-25".into(), "Mail", 5, 7),
                    ("2026-10-26".into(), "Safari", 1, 1),
                ],
                "daily sums kept in {zone:?}"
            );
        }
    }

    #[test]
    fn months_sum_their_days_and_an_app_filter_keeps_only_that_app() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let (_d, s) = dst_store(Some(tz));
        let h = read(
            &s,
            &query("2026-10-01", "2026-11-30", Granularity::Month, None),
            tz,
        )
        .unwrap();
        let json = serde_json::to_value(&h).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "from": "2026-10-01", "to": "2026-11-30", "by": "month",
                "rows": [
                    {"period": "2026-10", "app": "Safari", "bytes_in": 131, "bytes_out": 2},
                    {"period": "2026-10", "app": "Mail", "bytes_in": 5, "bytes_out": 7},
                    {"period": "2026-11", "app": "Safari", "bytes_in": 1000, "bytes_out": 0},
                ]
            })
        );
        let mail = read(
            &s,
            &query("2026-10-01", "2026-11-30", Granularity::Day, Some("Mail")),
            tz,
        )
        .unwrap();
        assert_eq!(mail.rows.len(), 1);
        assert_eq!(mail.totals(), (5, 7));
        let err = read(
            &s,
            &query("2026-11-30", "2026-10-01", Granularity::Day, None),
            tz,
        )
        .unwrap_err();
        assert!(err.to_string().contains("ends before it starts"), "{err}");
    }
}
