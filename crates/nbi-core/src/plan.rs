//! The data plan: a limit of bytes per billing period, as carriers sell
//! them, and how much of it the current period has used.
//!
//! A billing period starts on `billing_day` of a month (in a month too short
//! for it, on its last day) and ends the day before the next one starts:
//! with `billing_day = 31`, 31 Jan–27 Feb, 28 Feb–30 Mar, 31 Mar–29 Apr.
//! Usage is everything the counting policy counts (loopback never), in and
//! out, of this host over the period's local days so far.

use std::path::Path;

use chrono::{Datelike, Months, NaiveDate};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::config::ConfigError;
pub use crate::human::DataSize;
use crate::store::{HostFilter, StoreError, UsageQuery};

/// The `[plan]` section. Without `limit` there is no plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlanConfig {
    /// Bytes per billing period: a number of bytes or a size such as
    /// "50 GB" or "20 GiB".
    pub limit: Option<DataSize>,
    /// The day of the month a period starts, 1 to 31.
    pub billing_day: u32,
}

impl Default for PlanConfig {
    fn default() -> Self {
        PlanConfig {
            limit: None,
            billing_day: 1,
        }
    }
}

impl PlanConfig {
    /// The billing period holding `today` with `used_bytes` used; `None`
    /// without a plan.
    pub fn usage_of(&self, today: NaiveDate, used_bytes: u64) -> Option<PlanUsage> {
        let limit = self.limit?;
        let period = BillingPeriod::containing(today, self.billing_day);
        Some(PlanUsage {
            period_start: period.start,
            period_end: period.end,
            used_bytes,
            limit_bytes: limit.0,
        })
    }

    /// Errors name the key that is wrong.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=31).contains(&self.billing_day) {
            return Err(ConfigError::Invalid(format!(
                "key `plan.billing_day`: expected a day of the month, 1 to 31, found {}",
                self.billing_day
            )));
        }
        if self.limit.is_some_and(|l| l.0 == 0) {
            return Err(ConfigError::Invalid(
                "key `plan.limit`: expected more than 0 bytes (leave it out for no plan)".into(),
            ));
        }
        Ok(())
    }
}

/// One billing period: local days `start..=end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingPeriod {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl BillingPeriod {
    /// The period that contains `day` when periods start on `billing_day`
    /// (1–31; past the end of a short month, its last day).
    pub fn containing(day: NaiveDate, billing_day: u32) -> BillingPeriod {
        let this = start_in(day.with_day(1).unwrap_or(day), billing_day);
        let start = if day >= this {
            this
        } else {
            start_in(first_of_month_before(day), billing_day)
        };
        let next = start_in(
            start
                .with_day(1)
                .and_then(|d| d.checked_add_months(Months::new(1)))
                .unwrap_or(start),
            billing_day,
        );
        BillingPeriod {
            start,
            end: next.pred_opt().unwrap_or(next),
        }
    }
}

/// The day a period starts in the month of `first` (its first day).
fn start_in(first: NaiveDate, billing_day: u32) -> NaiveDate {
    let last = first
        .checked_add_months(Months::new(1))
        .and_then(|d| d.pred_opt())
        .map_or(28, |d| d.day());
    first.with_day(billing_day.clamp(1, last)).unwrap_or(first)
}

fn first_of_month_before(day: NaiveDate) -> NaiveDate {
    day.with_day(1)
        .and_then(|d| d.checked_sub_months(Months::new(1)))
        .unwrap_or(day)
}

/// The current period's usage against the limit, as `nbi status --json`
/// gives it under `"plan"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanUsage {
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    /// In and out, this host, the period's days up to and including today.
    pub used_bytes: u64,
    pub limit_bytes: u64,
}

impl PlanUsage {
    /// Used as a share of the limit (1.0 = all of it).
    pub fn fraction(&self) -> f64 {
        self.used_bytes as f64 / self.limit_bytes.max(1) as f64
    }

    /// The highest level reached.
    pub fn level(&self) -> Option<PlanLevel> {
        if self.used_bytes >= self.limit_bytes {
            Some(PlanLevel::Reached)
        } else if self.used_bytes.saturating_mul(5) >= self.limit_bytes.saturating_mul(4) {
            Some(PlanLevel::Warning)
        } else {
            None
        }
    }
}

/// What a plan notification says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanLevel {
    /// 80 % of the limit used.
    Warning,
    /// The whole limit used.
    Reached,
}

/// The plan's usage on local day `today`; `None` without a plan.
pub fn usage(
    store: &dyn UsageQuery,
    plan: &PlanConfig,
    host: &str,
    today: NaiveDate,
    tz: Tz,
) -> Result<Option<PlanUsage>, StoreError> {
    let Some(unused) = plan.usage_of(today, 0) else {
        return Ok(None);
    };
    let used = store
        .daily(
            &HostFilter::One(host.to_string()),
            unused.period_start,
            today,
            tz,
        )?
        .iter()
        .fold(0u64, |acc, d| {
            acc.saturating_add(d.bytes_in).saturating_add(d.bytes_out)
        });
    Ok(Some(PlanUsage {
        used_bytes: used,
        ..unused
    }))
}

/// Which plan notifications were sent, so that each level is sent once per
/// period, across restarts: a small JSON file in the state directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanAlerts {
    pub period_start: Option<NaiveDate>,
    pub notified: Option<PlanLevel>,
}

impl PlanAlerts {
    /// The file's contents; a missing or unreadable file is a fresh start
    /// (at worst one notification is repeated).
    pub fn load(path: &Path) -> PlanAlerts {
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        crate::files::write_atomic(path, &bytes)
    }

    /// The notification `usage` calls for now, if any, recorded as sent: a
    /// level not yet sent in this period. Reaching the limit at once sends
    /// only "reached".
    pub fn due(&mut self, usage: &PlanUsage) -> Option<PlanLevel> {
        if self.period_start != Some(usage.period_start) {
            *self = PlanAlerts {
                period_start: Some(usage.period_start),
                notified: None,
            };
        }
        let level = usage.level()?;
        if self.notified.is_some_and(|n| n >= level) {
            return None;
        }
        self.notified = Some(level);
        Some(level)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn period(day: &str, billing_day: u32) -> (String, String) {
        let p = BillingPeriod::containing(d(day), billing_day);
        (p.start.to_string(), p.end.to_string())
    }

    #[test]
    fn periods_start_on_the_billing_day_or_the_last_day_of_a_short_month() {
        let p = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(period("2026-11-30", 1), p("2026-11-01", "2026-11-30"));
        assert_eq!(period("2026-12-01", 1), p("2026-12-01", "2026-12-31"));
        assert_eq!(period("2026-11-30", 15), p("2026-11-15", "2026-12-14"));
        assert_eq!(period("2026-11-14", 15), p("2026-10-15", "2026-11-14"));
        // 31: February clamps to its last day, in common and leap years.
        assert_eq!(period("2027-02-10", 31), p("2027-01-31", "2027-02-27"));
        assert_eq!(period("2027-02-28", 31), p("2027-02-28", "2027-03-30"));
        assert_eq!(period("2028-02-28", 31), p("2028-01-31", "2028-02-28"));
        assert_eq!(period("2028-02-29", 31), p("2028-02-29", "2028-03-30"));
        assert_eq!(period("2026-04-30", 31), p("2026-04-30", "2026-05-30"));
        assert_eq!(period("2026-05-31", 31), p("2026-05-31", "2026-06-29"));
        // 29 and 30 in February; across the new year.
        assert_eq!(period("2027-02-28", 29), p("2027-02-28", "2027-03-28"));
        assert_eq!(period("2027-03-01", 30), p("2027-02-28", "2027-03-29"));
        assert_eq!(period("2027-01-05", 30), p("2026-12-30", "2027-01-29"));
    }

    #[test]
    fn every_day_is_in_exactly_one_period_and_periods_follow_each_other() {
        for billing_day in 1..=31 {
            let mut day = d("2027-01-01");
            let mut last: Option<BillingPeriod> = None;
            while day < d("2029-01-01") {
                let p = BillingPeriod::containing(day, billing_day);
                assert!(p.start <= day && day <= p.end, "{day} {billing_day} {p:?}");
                if let Some(prev) = last.filter(|l| *l != p) {
                    assert_eq!(prev.end.succ_opt(), Some(p.start), "{billing_day}");
                }
                last = Some(p);
                day = day.succ_opt().unwrap();
            }
        }
    }

    #[test]
    fn limits_read_as_sizes_or_bytes_and_bad_ones_name_the_key() {
        let read = |t: &str| toml::from_str::<PlanConfig>(t);
        assert_eq!(
            read("limit = \"50 GB\"").unwrap().limit,
            Some(DataSize(50_000_000_000))
        );
        assert_eq!(
            read("limit = \"20 GiB\"").unwrap().limit,
            Some(DataSize(20 << 30))
        );
        assert_eq!(read("limit = 1000").unwrap().limit, Some(DataSize(1000)));
        assert!(read("limit = \"lots\"")
            .unwrap_err()
            .to_string()
            .contains("50 GB"));
        let c = read("limit = \"1 GB\"\nbilling_day = 32").unwrap();
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("plan.billing_day"));
        assert!(read("limit = 0").unwrap().validate().is_err());
    }

    #[test]
    fn each_level_is_notified_once_per_period() {
        let usage = |start: &str, used: u64| PlanUsage {
            period_start: d(start),
            period_end: d(start),
            used_bytes: used,
            limit_bytes: 100,
        };
        let mut a = PlanAlerts::default();
        assert_eq!(a.due(&usage("2026-11-01", 79)), None);
        assert_eq!(a.due(&usage("2026-11-01", 80)), Some(PlanLevel::Warning));
        assert_eq!(a.due(&usage("2026-11-01", 90)), None);
        assert_eq!(a.due(&usage("2026-11-01", 100)), Some(PlanLevel::Reached));
        assert_eq!(a.due(&usage("2026-11-01", 150)), None);
        // A new period starts afresh; a jump past the limit says only that.
        assert_eq!(a.due(&usage("2026-12-01", 120)), Some(PlanLevel::Reached));
        assert_eq!(a.due(&usage("2026-12-01", 130)), None);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        a.save(&path).unwrap();
        assert_eq!(PlanAlerts::load(&path), a);
        assert_eq!(
            PlanAlerts::load(&dir.path().join("none.json")),
            PlanAlerts::default()
        );
    }
}
