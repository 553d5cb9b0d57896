//! The envelope of a baseline: the most each app moved in each hour on any
//! of its days. Beyond it by far is unusual whatever a model says (a burst
//! among otherwise typical hours, or any hour of a routine too young for a
//! model); beyond it at all, or beyond every day's total, keeps a day from
//! being let off as another kind of day.

use super::matrix::DayUsage;
use super::stats::median;
use super::verdict::{largest_first, runs_of_hours, Explanation};

/// An app-hour is a burst when it moves more than this many times the most
/// it moved in that hour on any baseline day (and by the byte floor in
/// all): as for uploads, a few days say little about an hour's spread.
pub const ENVELOPE: f64 = 3.0;

/// The most `app` moved in `hour` on any of `days`, and their median.
fn seen(days: &[&DayUsage], app: &str, hour: usize) -> (f64, f64) {
    let values: Vec<f64> = days
        .iter()
        .map(|d| d.apps.get(app).map_or(0.0, |c| c[hour]))
        .collect();
    let most = values.iter().copied().fold(0.0f64, f64::max);
    (most, median(values))
}

/// Hours of `day` that were watched and exist.
fn judged(day: &DayUsage, hour: usize) -> bool {
    !day.uncollected[hour] && !day.absent[hour]
}

/// Runs of hours in which an app of `day` moved more than [`ENVELOPE`] ×
/// the most it moved in that hour on any of `days`, when what is beyond
/// that adds up to `floor` bytes; `bytes` is what it moved, `typical_bytes`
/// the median of `days`. Empty: a usual day. Largest first.
pub fn beyond(day: &DayUsage, days: &[&DayUsage], floor: f64) -> Vec<Explanation> {
    let mut runs: Vec<Explanation> = Vec::new();
    let mut beyond_all = 0.0;
    for (app, cells) in &day.apps {
        runs.extend(runs_of_hours(app, None, |hour| {
            let (most, typical) = seen(days, app, hour);
            let beyond = match judged(day, hour) {
                true => cells[hour] - ENVELOPE * most,
                false => 0.0,
            };
            if beyond > 0.0 {
                beyond_all += beyond;
            }
            // Runs name the hours that matter, not every crumb above it.
            (beyond >= floor / 10.0).then_some((cells[hour], typical))
        }));
    }
    if beyond_all < floor {
        return Vec::new();
    }
    largest_first(&mut runs);
    runs
}

/// Whether `day` stays inside what `days` moved: its total (the hours
/// `0..hours`) no more than `floor` above the largest of theirs, and its
/// app-hours together no more than `floor` above the most each moved on
/// any of them. This is how close to another baseline a day must be for
/// that baseline to let it off (a public holiday judged as a day off): a
/// day beyond every day of that kind, or with hours none of them had, is
/// not one of them.
pub fn within(day: &DayUsage, days: &[&DayUsage], hours: usize, floor: f64) -> bool {
    let hours = hours.min(24);
    let total = |d: &DayUsage| -> f64 {
        d.apps
            .values()
            .map(|c| c[..hours].iter().sum::<f64>())
            .sum()
    };
    let most_total = days.iter().map(|d| total(d)).fold(0.0f64, f64::max);
    if total(day) > most_total + floor {
        return false;
    }
    let mut beyond_all = 0.0;
    for (app, cells) in &day.apps {
        for (hour, bytes) in cells.iter().enumerate().take(hours) {
            if judged(day, hour) {
                beyond_all += (bytes - seen(days, app, hour).0).max(0.0);
            }
        }
    }
    beyond_all <= floor
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, NaiveDate};

    fn date(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).unwrap_or_default()
    }

    /// A day with `app` busy over `hours` at `mb` MB an hour, times a
    /// small per-day wobble.
    fn day(d: NaiveDate, busy: &[(&str, std::ops::Range<usize>, f64)]) -> DayUsage {
        let wobble = 1.0 + f64::from(chrono::Datelike::ordinal(&d) % 5) / 20.0;
        DayUsage::complete(
            d,
            busy.iter().map(|(app, hours, mb)| {
                let mut cells = [0.0; 24];
                for h in hours.clone() {
                    cells[h] = mb * 1e6 * wobble;
                }
                (app.to_string(), cells)
            }),
        )
    }

    fn late_shift(d: NaiveDate) -> DayUsage {
        day(d, &[("Slack", 14..22, 50.0), ("zoom.us", 15..16, 400.0)])
    }

    #[test]
    fn a_young_routine_flags_only_what_is_far_beyond_its_days() {
        let days: Vec<DayUsage> = (0..3)
            .map(|i| late_shift(date(6, 15) + Duration::days(i)))
            .collect();
        let refs: Vec<&DayUsage> = days.iter().collect();
        assert!(beyond(&late_shift(date(6, 18)), &refs, 2e8).is_empty());
        let mut burst = late_shift(date(6, 18));
        burst.apps.insert("Dropbox".into(), {
            let mut c = [0.0; 24];
            c[3] = 20e9;
            c
        });
        let runs = beyond(&burst, &refs, 2e8);
        assert_eq!(
            (
                runs[0].app.as_str(),
                runs[0].from_hour,
                runs[0].to_hour,
                runs[0].bytes
            ),
            ("Dropbox", 3, 4, 20_000_000_000)
        );
        // Four times the usual Slack: beyond it by about 500 MB in all,
        // which is the floor's business: with a floor of 1 GB it is usual.
        let mut busy = late_shift(date(6, 18));
        if let Some(slack) = busy.apps.get_mut("Slack") {
            slack.iter_mut().for_each(|c| *c *= 4.0);
        }
        assert!(!beyond(&busy, &refs, 1e8).is_empty());
        assert!(beyond(&busy, &refs, 1e9).is_empty());
    }

    #[test]
    fn within_means_no_total_and_no_hours_beyond_every_day() {
        let days: Vec<DayUsage> = (0..7)
            .map(|i| late_shift(date(6, 1) + Duration::days(i)))
            .collect();
        let refs: Vec<&DayUsage> = days.iter().collect();
        assert!(within(&late_shift(date(6, 9)), &refs, 24, 2e8));
        // An hour 2.5× the most that hour ever moved: no burst (under 3×),
        // but not within the envelope either.
        let mut base_with_night: Vec<DayUsage> = days.clone();
        for d in &mut base_with_night {
            if let Some(c) = d.apps.get_mut("Slack") {
                c[0] = 120e6;
            }
        }
        let refs_night: Vec<&DayUsage> = base_with_night.iter().collect();
        let mut burst = late_shift(date(6, 9));
        if let Some(c) = burst.apps.get_mut("Slack") {
            c[0] = 300e6;
        }
        assert!(beyond(&burst, &refs_night, 2e8).is_empty(), "under 3×");
        assert!(
            !within(&burst, &refs_night, 24, 1e8),
            "beyond every day by 180 MB"
        );
        assert!(
            within(&burst, &refs_night, 24, 2e8),
            "by less than the floor"
        );
        // A day whose hours each stay within some day, but whose total is
        // beyond every day's by more than the floor, is not within.
        let mut heavy = late_shift(date(6, 9));
        for h in 14..22 {
            if let Some(c) = heavy.apps.get_mut("Slack") {
                c[h] = 60e6;
            }
        }
        heavy.apps.insert("Mail".into(), [20e6; 24]);
        let mut with_mail = days.clone();
        for (i, d) in with_mail.iter_mut().enumerate() {
            let mut c = [0.0; 24];
            c[(i * 3) % 24] = 20e6;
            c[(i * 3 + 1) % 24] = 20e6;
            c[(i * 3 + 2) % 24] = 20e6;
            c[(i * 3 + 12) % 24] = 20e6;
            d.apps.insert("Mail".into(), c);
        }
        let refs_mail: Vec<&DayUsage> = with_mail.iter().collect();
        assert!(!within(&heavy, &refs_mail, 24, 2e8));
        assert!(within(&heavy, &refs_mail, 6, 2e8), "the hours so far");
    }
}
