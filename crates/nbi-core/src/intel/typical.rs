//! The typical day a day is drawn against, and how far learning has come.
//!
//! Both use the baseline the detector would use for that day (the same
//! `baseline::select` rules: same kind of day, anomalous days left out
//! unless marked normal), so what the window shows as "typical" is what the
//! verdict was measured against.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::baseline::{day_kind, DayKind};
use super::config::IntelConfig;
use super::error::IntelError;
use super::judge::Loaded;
use super::stats::quantile;
use crate::store::timeline::{local_day_bounds, local_day_hour};
use crate::store::{HostFilter, UsageQuery, VerdictStore};

/// The share of baseline days below the band's low and high edges.
const LOW_QUANTILE: f64 = 0.1;
const HIGH_QUANTILE: f64 = 0.9;

/// Bytes per slot: most baseline days lie between `low` and `high`, `mid`
/// is the median.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Band {
    pub low: Vec<u64>,
    pub mid: Vec<u64>,
    pub high: Vec<u64>,
}

/// The typical day for `day`, in the slots of that day's curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypicalDay {
    pub day: NaiveDate,
    pub step_s: u32,
    pub slots: usize,
    pub baseline_days: usize,
    /// `None` while learning (too few baseline days).
    pub bytes_in: Option<Band>,
    pub bytes_out: Option<Band>,
}

/// How many usable baseline days there are for a kind of day, of how many
/// needed before verdicts start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Learning {
    /// Never more than `need`: at `need` the next verdict is a real one.
    pub have: usize,
    pub need: usize,
    pub day_kind: DayKind,
}

/// Learning progress of `day` (usually today: the next day to be judged).
pub fn learning<S: UsageQuery + VerdictStore + ?Sized>(
    store: &S,
    host: &str,
    day: NaiveDate,
    tz: Tz,
    config: &IntelConfig,
) -> Result<Learning, IntelError> {
    config.validate().map_err(IntelError::Invalid)?;
    let rules = config.rules();
    let loaded = Loaded::load(store, host, day, tz, &rules)?;
    let base = loaded.select_as(day, day_kind(day, &rules.work_week), &rules);
    Ok(Learning {
        have: base.days.len().min(rules.min_days),
        need: rules.min_days,
        day_kind: base.kind,
    })
}

/// The typical day of local `day` at `step_minutes` (1–60) slots: per slot,
/// the 10th, 50th and 90th percentile over the baseline days of the bytes
/// in (and out) of that local hour, scaled to the slot.
pub fn typical_day<S: UsageQuery + VerdictStore + ?Sized>(
    store: &S,
    host: &str,
    day: NaiveDate,
    tz: Tz,
    config: &IntelConfig,
    step_minutes: u32,
) -> Result<TypicalDay, IntelError> {
    if !(1..=60).contains(&step_minutes) {
        return Err(IntelError::Invalid(format!(
            "step must be 1 to 60 minutes, not {step_minutes}"
        )));
    }
    config.validate().map_err(IntelError::Invalid)?;
    let rules = config.rules();
    let loaded = Loaded::load(store, host, day, tz, &rules)?;
    let base = loaded.select_as(day, day_kind(day, &rules.work_week), &rules);
    let bounds = local_day_bounds(day, tz);
    let step_s = step_minutes * 60;
    let slots = ((bounds.seconds() + i64::from(step_s) - 1) / i64::from(step_s)) as usize;
    let mut typical = TypicalDay {
        day,
        step_s,
        slots,
        baseline_days: base.days.len(),
        bytes_in: None,
        bytes_out: None,
    };
    let (Some(first), Some(last)) = (base.days.first(), base.days.last()) else {
        return Ok(typical);
    };
    if !base.enough(&rules) {
        return Ok(typical);
    }
    // In and out apart: the day matrices hold their sum only.
    let mut sums: HashMap<(NaiveDate, u8), (u64, u64)> = HashMap::new();
    for u in store.hourly(&HostFilter::One(host.to_string()), first.day, last.day, tz)? {
        let cell = sums.entry((u.day, u.hour)).or_default();
        cell.0 = cell.0.saturating_add(u.bytes_in);
        cell.1 = cell.1.saturating_add(u.bytes_out);
    }
    // Per local hour, the percentiles over the days that hour was watched.
    let mut hours_in = [[0.0f64; 3]; 24];
    let mut hours_out = [[0.0f64; 3]; 24];
    for hour in 0..24usize {
        let watched: Vec<(u64, u64)> = base
            .days
            .iter()
            .filter(|d| !d.uncollected[hour] && !d.absent[hour])
            .map(|d| sums.get(&(d.day, hour as u8)).copied().unwrap_or_default())
            .collect();
        hours_in[hour] = percentiles(watched.iter().map(|v| v.0 as f64).collect());
        hours_out[hour] = percentiles(watched.iter().map(|v| v.1 as f64).collect());
    }
    let scale = f64::from(step_s) / 3600.0;
    let band = |hours: &[[f64; 3]; 24]| {
        let mut b = Band {
            low: Vec::with_capacity(slots),
            mid: Vec::with_capacity(slots),
            high: Vec::with_capacity(slots),
        };
        for slot in 0..slots {
            let at = bounds.start + Duration::seconds(slot as i64 * i64::from(step_s));
            let (_, hour) = local_day_hour(at, tz);
            let [low, mid, high] = hours[usize::from(hour).min(23)];
            b.low.push((low * scale).round() as u64);
            b.mid.push((mid * scale).round() as u64);
            b.high.push((high * scale).round() as u64);
        }
        b
    };
    typical.bytes_in = Some(band(&hours_in));
    typical.bytes_out = Some(band(&hours_out));
    Ok(typical)
}

/// Low, median and high percentiles (linear between ranks); zeros for none.
fn percentiles(mut values: Vec<f64>) -> [f64; 3] {
    values.sort_by(f64::total_cmp);
    [LOW_QUANTILE, 0.5, HIGH_QUANTILE].map(|q| quantile(&values, q))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intel::verdict::Status;
    use crate::store::sqlite::SqliteStore;
    use crate::store::VerdictRecord;
    use crate::store::{TickWriter, VerdictStore};
    use crate::tick::Tick;
    use chrono::Utc;

    const HOST: &str = "h";

    fn date(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).unwrap()
    }

    fn utc() -> Tz {
        "UTC".parse().unwrap()
    }

    /// A whole day of one-hour ticks: `inb(hour)` bytes in, 100 out, each hour.
    fn write_day(s: &mut SqliteStore, day: NaiveDate, tz: Tz, inb: impl Fn(u32) -> u64) {
        let b = local_day_bounds(day, tz);
        let hours = b.seconds() / 3600;
        let ticks: Vec<Tick> = (0..hours)
            .map(|h| {
                Tick::from_totals(
                    HOST,
                    b.start + Duration::hours(h),
                    3600,
                    [("App".to_string(), (inb(h as u32), 100u64))],
                )
            })
            .collect();
        s.write(&ticks).unwrap();
    }

    fn anomalous(s: &mut SqliteStore, day: NaiveDate) {
        s.put_verdict(&VerdictRecord {
            host: HOST.into(),
            day,
            status: Status::Anomalous,
            judged_at: Utc::now(),
            verdict_json: "{}".into(),
            model: None,
            model_meta: None,
            marked_normal: false,
        })
        .unwrap();
    }

    #[test]
    fn the_band_is_the_baselines_percentiles_scaled_to_the_slot() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
        // 2026-06-01 is a Monday. Workday k (1-based) moves k × 3600 bytes
        // in every hour; weekends move a lot more and must not count.
        let mut k = 0;
        for i in 0..21 {
            let day = date(6, 1) + Duration::days(i);
            if crate::synth::is_workday(day) {
                k += 1;
                let kk = k;
                write_day(&mut s, day, utc(), move |_| kk * 3600);
            } else {
                write_day(&mut s, day, utc(), |_| 1_000_000_000);
            }
        }
        // Mon 22 Jun: 15 workdays before it, the last 14 of them (k = 2..=15) are the baseline.
        let day = date(6, 22);
        let cfg = IntelConfig::default();
        let t = typical_day(&s, HOST, day, utc(), &cfg, 5).unwrap();
        assert_eq!((t.step_s, t.slots, t.baseline_days), (300, 288, 14));
        let band = t.bytes_in.unwrap();
        // Per hour: k × 3600 for k = 2..=15; median 8.5 × 3600; a five-minute slot is 1/12 of it.
        assert_eq!(band.mid[0], (8.5 * 3600.0 / 12.0) as u64);
        assert_eq!(
            band.low[100],
            ((2.0 + 0.1 * 13.0) * 3600.0 / 12.0_f64).round() as u64
        );
        assert_eq!(
            band.high[287],
            ((2.0 + 0.9 * 13.0) * 3600.0 / 12.0_f64).round() as u64
        );
        assert!(band.mid.iter().all(|v| *v == band.mid[0]));
        let out = t.bytes_out.unwrap();
        assert_eq!(out.mid[7], (100.0_f64 / 12.0).round() as u64);
        // One-minute slots: 1440 of them, each a sixtieth of the hour.
        let t1 = typical_day(&s, HOST, day, utc(), &cfg, 1).unwrap();
        assert_eq!(t1.slots, 1440);
        assert_eq!(t1.bytes_in.unwrap().mid[0], (8.5 * 60.0) as u64);

        // The newest baseline day judged anomalous is left out, as the
        // detector leaves it out: an older one takes its place.
        anomalous(&mut s, date(6, 19));
        let t = typical_day(&s, HOST, day, utc(), &cfg, 60).unwrap();
        assert_eq!(t.bytes_in.unwrap().mid[0], (7.5 * 3600.0) as u64);
        assert!(s.mark_normal(HOST, date(6, 19)).unwrap());
        let t = typical_day(&s, HOST, day, utc(), &cfg, 60).unwrap();
        assert_eq!(t.bytes_in.unwrap().mid[0], (8.5 * 3600.0) as u64);
        assert!(typical_day(&s, HOST, day, utc(), &cfg, 0).is_err());
    }

    #[test]
    fn while_learning_there_is_no_band_and_progress_counts_days_of_the_kind() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
        // Mon 1 Jun to Sun 7 Jun: five workdays, two days off.
        for i in 0..7 {
            write_day(&mut s, date(6, 1) + Duration::days(i), utc(), |_| 1000);
        }
        let cfg = IntelConfig::default();
        let t = typical_day(&s, HOST, date(6, 8), utc(), &cfg, 5).unwrap();
        assert_eq!(t.baseline_days, 5);
        assert!(t.bytes_in.is_none() && t.bytes_out.is_none());
        assert_eq!(t.slots, 288);
        let l = learning(&s, HOST, date(6, 8), utc(), &cfg).unwrap();
        assert_eq!(
            l,
            Learning {
                have: 5,
                need: 7,
                day_kind: DayKind::Workday
            }
        );
        let l = learning(&s, HOST, date(6, 13), utc(), &cfg).unwrap();
        assert_eq!((l.have, l.day_kind), (2, DayKind::DayOff));
        // Plenty of days: capped at what is needed.
        for i in 7..28 {
            write_day(&mut s, date(6, 1) + Duration::days(i), utc(), |_| 1000);
        }
        let l = learning(&s, HOST, date(6, 29), utc(), &cfg).unwrap();
        assert_eq!((l.have, l.need), (7, 7));
    }

    #[test]
    fn dst_days_get_their_own_slots_each_on_its_local_hour() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        // The two weeks before the spring change (Sun 29 Mar 2026): hour h
        // moves h × 3600; the baseline is the last two days off.
        let cfg = IntelConfig {
            min_baseline_days: 2,
            baseline_days: 2,
            ..IntelConfig::default()
        };
        for i in 0..15 {
            let d = date(3, 14) + Duration::days(i);
            write_day(&mut s, d, berlin, |h| u64::from(h) * 3600);
        }
        let t = typical_day(&s, HOST, date(3, 29), berlin, &cfg, 60).unwrap();
        assert_eq!(t.slots, 23);
        let mid = t.bytes_in.unwrap().mid;
        // 02:00 does not exist: slot 2 is local 03:00.
        assert_eq!(&mid[..4], &[0, 3600, 3 * 3600, 4 * 3600]);
        assert_eq!(mid[22], 23 * 3600);
    }

    #[test]
    fn percentiles_interpolate_between_ranks() {
        assert_eq!(percentiles(vec![]), [0.0; 3]);
        assert_eq!(percentiles(vec![5.0]), [5.0; 3]);
        let p = percentiles(vec![10.0, 0.0, 20.0, 30.0, 40.0]);
        assert!((p[0] - 4.0).abs() < 1e-9 && p[1] == 20.0 && (p[2] - 36.0).abs() < 1e-9);
    }
}
