//! The data plan: a limit of bytes per billing period, as carriers sell
//! them, and how much of it the current period has used.
//!
//! A billing period starts on `billing_day` of a month (in a month too short
//! for it, on its last day) and ends the day before the next one starts:
//! with `billing_day = 31`, 31 Jan–27 Feb, 28 Feb–30 Mar, 31 Mar–29 Apr.
//! Usage is everything the counting policy counts (loopback never), in and
//! out, of this host over the period's local days so far, over the networks
//! the plan counts: those it names, the metered ones, or (by default, and
//! for the single `[plan]` of older configurations) every network.

use std::path::Path;

use chrono::{Datelike, Months, NaiveDate};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::config::ConfigError;
pub use crate::human::DataSize;
use crate::store::{HostFilter, NetworkRecord, StoreError, UsageQuery};
use crate::tick::NetworkId;

/// The name of a plan that gives none (the single `[plan]` of older
/// configurations): its notifications read as they always did.
pub const DEFAULT_PLAN_NAME: &str = "Data plan";

/// One `[[plan]]` entry (or the single `[plan]` of an older
/// configuration). Without `limit` there is no plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlanConfig {
    /// What notifications and the window call it ("Phone", "Home fibre").
    pub name: String,
    /// Bytes per billing period: a number of bytes or a size such as
    /// "50 GB" or "20 GiB".
    pub limit: Option<DataSize>,
    /// The day of the month a period starts, 1 to 31.
    pub billing_day: u32,
    /// The networks it counts, by id (`nbi networks`). With neither this
    /// nor `metered`, every network.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<NetworkId>,
    /// Counts the networks that are metered (the OS's or the owner's word).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub metered: bool,
}

impl Default for PlanConfig {
    fn default() -> Self {
        PlanConfig {
            name: DEFAULT_PLAN_NAME.to_string(),
            limit: None,
            billing_day: 1,
            networks: Vec::new(),
            metered: false,
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
            name: self.name.clone(),
            networks: self.networks.clone(),
            metered: self.metered,
            all_networks: self.counts_every_network(),
        })
    }

    /// Neither networks nor metered: every byte counts.
    pub fn counts_every_network(&self) -> bool {
        self.networks.is_empty() && !self.metered
    }

    /// Whether the plan counts bytes over `network`.
    pub fn counts(&self, network: &NetworkRecord) -> bool {
        self.counts_every_network()
            || self.networks.contains(&network.id)
            || (self.metered && network.metered())
    }

    /// Errors name the key that is wrong (`key` is where the plan is:
    /// `plan` or `plan[2]`).
    pub fn validate_at(&self, key: &str) -> Result<(), ConfigError> {
        if !(1..=31).contains(&self.billing_day) {
            return Err(ConfigError::Invalid(format!(
                "key `{key}.billing_day`: expected a day of the month, 1 to 31, found {}",
                self.billing_day
            )));
        }
        if self.limit.is_some_and(|l| l.0 == 0) {
            return Err(ConfigError::Invalid(format!(
                "key `{key}.limit`: expected more than 0 bytes (leave it out for no plan)"
            )));
        }
        if self.name.trim().is_empty() {
            return Err(ConfigError::Invalid(format!(
                "key `{key}.name`: expected a name"
            )));
        }
        Ok(())
    }

    /// [`PlanConfig::validate_at`] `plan`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_at("plan")
    }
}

/// The plans: `[[plan]]` entries, or the single `[plan]` table of an older
/// configuration (one plan over every network, as it always meant).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Plans(pub Vec<PlanConfig>);

impl<'de> Deserialize<'de> for Plans {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Read as a value first, so that an error says what was wrong
        // with the plan rather than that no form matched.
        let value = toml::Value::deserialize(d)?;
        let plans =
            match value {
                toml::Value::Array(items) => items
                    .into_iter()
                    .map(PlanConfig::deserialize)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(serde::de::Error::custom)?,
                toml::Value::Table(t) => vec![PlanConfig::deserialize(toml::Value::Table(t))
                    .map_err(serde::de::Error::custom)?],
                other => {
                    return Err(serde::de::Error::custom(format!(
                        "expected [plan] or [[plan]] entries, found a {}",
                        other.type_str()
                    )));
                }
            };
        Ok(Plans(plans))
    }
}

impl Plans {
    /// The plans with a limit: the others are not plans yet.
    pub fn active(&self) -> impl Iterator<Item = &PlanConfig> {
        self.0.iter().filter(|p| p.limit.is_some())
    }

    pub fn is_empty(&self) -> bool {
        self.active().next().is_none()
    }

    /// Errors name the key that is wrong; two plans of one name are.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let one = self.0.len() == 1;
        let mut names = std::collections::HashSet::new();
        for (i, p) in self.0.iter().enumerate() {
            let key = if one {
                "plan".to_string()
            } else {
                format!("plan[{i}]")
            };
            p.validate_at(&key)?;
            if !names.insert(p.name.trim().to_lowercase()) {
                return Err(ConfigError::Invalid(format!(
                    "key `{key}.name`: another plan is called {:?} (each needs its own name)",
                    p.name
                )));
            }
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
/// gives it under `"plans"` (and the first plan under `"plan"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanUsage {
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    /// In and out, this host, the period's days up to and including today,
    /// over the networks the plan counts.
    pub used_bytes: u64,
    pub limit_bytes: u64,
    pub name: String,
    /// The networks it counts: those its configuration names, and with
    /// `metered` the networks metered now.
    pub networks: Vec<NetworkId>,
    /// It counts the metered networks.
    pub metered: bool,
    /// It counts every network (neither `networks` nor `metered` given).
    pub all_networks: bool,
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
///
/// A plan of every network sums the per-app days; one of some networks
/// sums the per-network days of those networks (bytes whose network no
/// source knew count for no such plan).
pub fn usage(
    store: &dyn UsageQuery,
    plan: &PlanConfig,
    host: &str,
    today: NaiveDate,
    tz: Tz,
) -> Result<Option<PlanUsage>, StoreError> {
    let Some(mut usage) = plan.usage_of(today, 0) else {
        return Ok(None);
    };
    let host = HostFilter::One(host.to_string());
    let sum = |acc: u64, i: u64, o: u64| acc.saturating_add(i).saturating_add(o);
    if plan.counts_every_network() {
        usage.used_bytes = store
            .daily(&host, usage.period_start, today, tz)?
            .iter()
            .fold(0, |acc, d| sum(acc, d.bytes_in, d.bytes_out));
        return Ok(Some(usage));
    }
    let known = store.networks()?;
    let counted: Vec<NetworkId> = known
        .iter()
        .filter(|n| plan.counts(n))
        .map(|n| n.id.clone())
        .chain(plan.networks.iter().cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    usage.used_bytes = store
        .daily_networks(&host, usage.period_start, today, tz)?
        .iter()
        .filter(|d| counted.contains(&d.network))
        .fold(0, |acc, d| sum(acc, d.bytes_in, d.bytes_out));
    usage.networks = counted;
    Ok(Some(usage))
}

/// Every active plan's usage on local day `today`, in configuration order.
pub fn usages(
    store: &dyn UsageQuery,
    plans: &Plans,
    host: &str,
    today: NaiveDate,
    tz: Tz,
) -> Result<Vec<PlanUsage>, StoreError> {
    let mut out = Vec::new();
    for p in plans.active() {
        out.extend(usage(store, p, host, today, tz)?);
    }
    Ok(out)
}

/// Which notifications each plan was sent, by plan name, so that each
/// level is sent once per period and plan, across restarts: a small JSON
/// file in the state directory. A file of the single-plan form (one
/// `{period_start, notified}`) is read as the default plan's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanAlertBook(pub std::collections::BTreeMap<String, PlanAlerts>);

impl PlanAlertBook {
    /// The file's contents; a missing or unreadable file is a fresh start
    /// (at worst one notification is repeated).
    pub fn load(path: &Path) -> PlanAlertBook {
        let Ok(bytes) = std::fs::read(path) else {
            return PlanAlertBook::default();
        };
        if let Ok(book) = serde_json::from_slice::<PlanAlertBook>(&bytes) {
            return book;
        }
        match serde_json::from_slice::<PlanAlerts>(&bytes) {
            Ok(one) => PlanAlertBook([(DEFAULT_PLAN_NAME.to_string(), one)].into()),
            Err(_) => PlanAlertBook::default(),
        }
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        crate::files::write_atomic(path, &bytes)
    }

    /// The notification `usage` calls for now, if any, recorded as sent.
    pub fn due(&mut self, usage: &PlanUsage) -> Option<PlanLevel> {
        self.0.entry(usage.name.clone()).or_default().due(usage)
    }
}

/// Which notifications one plan was sent in its current period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanAlerts {
    pub period_start: Option<NaiveDate>,
    pub notified: Option<PlanLevel>,
}

impl PlanAlerts {
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
            used_bytes: used,
            limit_bytes: 100,
            ..PlanConfig {
                limit: Some(DataSize(100)),
                ..PlanConfig::default()
            }
            .usage_of(d(start), 0)
            .unwrap()
        };
        let mut a = PlanAlertBook::default();
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
        assert_eq!(PlanAlertBook::load(&path), a);
        assert_eq!(
            PlanAlertBook::load(&dir.path().join("none.json")),
            PlanAlertBook::default()
        );
        // Another plan has levels of its own.
        let phone = PlanUsage {
            name: "Phone".into(),
            ..usage("2026-12-01", 85)
        };
        assert_eq!(a.due(&phone), Some(PlanLevel::Warning));
        assert_eq!(a.due(&phone), None);
        // The single-plan file of an older version is the default plan's.
        std::fs::write(
            &path,
            r#"{"period_start":"2026-12-01","notified":"warning"}"#,
        )
        .unwrap();
        let mut old = PlanAlertBook::load(&path);
        assert_eq!(old.due(&usage("2026-12-01", 85)), None, "already sent");
        assert_eq!(old.due(&usage("2026-12-01", 100)), Some(PlanLevel::Reached));
    }

    #[test]
    fn one_plan_or_many_load_and_an_old_plan_counts_every_network() {
        #[derive(Deserialize)]
        struct C {
            #[serde(default)]
            plan: Plans,
        }
        let old: C = toml::from_str("[plan]\nlimit = \"10 GB\"\nbilling_day = 5\n").unwrap();
        assert_eq!(old.plan.0.len(), 1);
        let p = &old.plan.0[0];
        assert_eq!((p.name.as_str(), p.billing_day), (DEFAULT_PLAN_NAME, 5));
        assert!(p.counts_every_network());
        let many: C = toml::from_str(
            "[[plan]]\nname = \"Phone\"\nlimit = \"10 GB\"\nmetered = true\n\n\
             [[plan]]\nname = \"Home\"\nlimit = \"1 TB\"\nnetworks = [\"wifi:Home\"]\n",
        )
        .unwrap();
        assert_eq!(many.plan.0.len(), 2);
        assert!(many.plan.validate().is_ok());
        let mut hotspot = NetworkRecord::new(NetworkId::new("wifi:iPhone").unwrap());
        hotspot.os_metered = Some(true);
        let home = NetworkRecord::new(NetworkId::new("wifi:Home").unwrap());
        assert!(many.plan.0[0].counts(&hotspot) && !many.plan.0[0].counts(&home));
        assert!(many.plan.0[1].counts(&home) && !many.plan.0[1].counts(&hotspot));
        hotspot.owner_metered = Some(false);
        assert!(!many.plan.0[0].counts(&hotspot), "the owner's word wins");
        let twice: C = toml::from_str(
            "[[plan]]\nname = \"A\"\nlimit = 1\n[[plan]]\nname = \"a\"\nlimit = 2\n",
        )
        .unwrap();
        assert!(twice
            .plan
            .validate()
            .unwrap_err()
            .to_string()
            .contains("plan[1].name"));
        assert!(toml::from_str::<C>("plan = 3").is_err());
        assert!(toml::from_str::<C>("[[plan]]\nnetworks = [\"\"]\n").is_err());
    }
}
