//! Local calendar days on the UTC time line.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// A local day as a half-open UTC range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayBounds {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl DayBounds {
    pub fn seconds(&self) -> i64 {
        (self.end - self.start).num_seconds()
    }
}

/// The UTC instant of local midnight starting `day`. Where midnight does not
/// exist (a DST gap at midnight), the day starts at the first instant after it.
fn local_midnight(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let naive = day.and_time(NaiveTime::MIN);
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(a, _) => a.with_timezone(&Utc),
        chrono::LocalResult::None => {
            // Walk forward to the end of the gap (gaps are at most a few hours).
            let mut probe = naive;
            for _ in 0..(4 * 60) {
                probe += Duration::minutes(1);
                if let Some(t) = tz.from_local_datetime(&probe).earliest() {
                    return t.with_timezone(&Utc);
                }
            }
            // Unreachable with real zone data; fall back to the standard offset.
            let offset = tz.offset_from_utc_date(&day).fix();
            DateTime::from_naive_utc_and_offset(naive - offset, Utc)
        }
    }
}

/// The UTC range of local day `day` in `tz` (23, 24 or 25 hours long).
pub fn local_day_bounds(day: NaiveDate, tz: Tz) -> DayBounds {
    let next = day.succ_opt().unwrap_or(day);
    DayBounds {
        start: local_midnight(day, tz),
        end: local_midnight(next, tz),
    }
}

/// The local (day, hour of day) of a UTC instant.
pub fn local_day_hour(at: DateTime<Utc>, tz: Tz) -> (NaiveDate, u8) {
    let local = at.with_timezone(&tz);
    (local.date_naive(), chrono::Timelike::hour(&local) as u8)
}

/// Whether local `secs`-long slots (an hour, five minutes) over `bounds`
/// start on UTC slot boundaries too: false for hours in zones like
/// Asia/Kolkata (+05:30), true for five minutes in every zone in use.
pub fn offsets_aligned(tz: Tz, bounds: DayBounds, secs: i32) -> bool {
    let aligned =
        |t: DateTime<Utc>| t.with_timezone(&tz).offset().fix().local_minus_utc() % secs == 0;
    aligned(bounds.start) && aligned(bounds.end)
}

/// Whether every UTC hour boundary is also a local hour boundary over `bounds`.
pub fn whole_hour_offsets(tz: Tz, bounds: DayBounds) -> bool {
    offsets_aligned(tz, bounds, 3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dst_days_have_23_and_25_hours() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let spring = local_day_bounds(NaiveDate::from_ymd_opt(2026, 3, 29).unwrap(), tz);
        let autumn = local_day_bounds(NaiveDate::from_ymd_opt(2026, 10, 25).unwrap(), tz);
        let plain = local_day_bounds(NaiveDate::from_ymd_opt(2026, 7, 11).unwrap(), tz);
        assert_eq!(spring.seconds(), 23 * 3600);
        assert_eq!(autumn.seconds(), 25 * 3600);
        assert_eq!(plain.seconds(), 24 * 3600);
        assert_eq!(plain.start.to_rfc3339(), "2026-07-10T22:00:00+00:00");
    }

    #[test]
    fn midnight_in_a_gap_starts_the_day_after_the_gap() {
        // Chile/Santiago-style: clocks jump from 00:00 to 01:00 (America/Santiago, 2026-09-06).
        let tz: Tz = "America/Santiago".parse().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 9, 6).unwrap();
        let b = local_day_bounds(day, tz);
        assert_eq!(b.seconds(), 23 * 3600);
        assert_eq!(local_day_hour(b.start, tz), (day, 1));
    }

    #[test]
    fn half_hour_zones_are_detected() {
        let day = NaiveDate::from_ymd_opt(2026, 7, 11).unwrap();
        let kolkata: Tz = "Asia/Kolkata".parse().unwrap();
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        assert!(!whole_hour_offsets(kolkata, local_day_bounds(day, kolkata)));
        assert!(whole_hour_offsets(berlin, local_day_bounds(day, berlin)));
    }
}
