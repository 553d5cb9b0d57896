//! What every store's answers look like: the same ranges, buckets and
//! orders, whichever database computed them.

use std::collections::HashMap;

use chrono::NaiveDate;
use chrono_tz::Tz;

use super::timeline::{local_day_bounds, DayBounds};
use super::{AppCurve, AppTotal, DailyUsage, DayCurve, HourCoverage, HourlyUsage, StoreError};

/// The UTC range of the local days `from..=to`.
pub(crate) fn range(from: NaiveDate, to: NaiveDate, tz: Tz) -> Result<DayBounds, StoreError> {
    if to < from {
        return Err(StoreError::Query(format!(
            "the range {from}..{to} ends before it starts"
        )));
    }
    Ok(DayBounds {
        start: local_day_bounds(from, tz).start,
        end: local_day_bounds(to, tz).end,
    })
}

/// An empty curve of local `day` at `step_minutes` (1–60) steps: its
/// buckets counted from local midnight, fewer or more on DST days.
pub(crate) fn curve_frame(
    day: NaiveDate,
    tz: Tz,
    step_minutes: u32,
) -> Result<DayCurve, StoreError> {
    if !(1..=60).contains(&step_minutes) {
        return Err(StoreError::Query(format!(
            "step must be 1 to 60 minutes, not {step_minutes}"
        )));
    }
    let bounds = local_day_bounds(day, tz);
    let step = i64::from(step_minutes) * 60;
    Ok(DayCurve {
        day,
        step_minutes,
        start: bounds.start,
        buckets: ((bounds.seconds() + step - 1) / step) as usize,
        apps: Vec::new(),
    })
}

/// Largest total first, ties by name.
pub(crate) fn sort_totals(totals: &mut [AppTotal]) {
    totals.sort_by(|a, b| {
        (b.bytes_in + b.bytes_out)
            .cmp(&(a.bytes_in + a.bytes_out))
            .then_with(|| a.app.cmp(&b.app))
    });
}

/// By day, hour, then app.
pub(crate) fn sort_hourly(rows: &mut [HourlyUsage]) {
    rows.sort_by(|a, b| (a.day, a.hour, &a.app).cmp(&(b.day, b.hour, &b.app)));
}

/// Largest total first, ties by name.
pub(crate) fn sort_curves(apps: &mut [AppCurve]) {
    let total = |c: &AppCurve| {
        c.bytes_in
            .iter()
            .chain(&c.bytes_out)
            .fold(0u64, |t, b| t.saturating_add(*b))
    };
    apps.sort_by(|a, b| total(b).cmp(&total(a)).then_with(|| a.app.cmp(&b.app)));
}

/// Watched seconds per local (day, hour), in order.
pub(crate) fn coverage(seconds: HashMap<(NaiveDate, u8), u64>) -> Vec<HourCoverage> {
    let mut out: Vec<HourCoverage> = seconds
        .into_iter()
        .map(|((day, hour), s)| HourCoverage {
            day,
            hour,
            seconds: u32::try_from(s).unwrap_or(u32::MAX),
        })
        .collect();
    out.sort_by_key(|c| (c.day, c.hour));
    out
}

/// Hourly rows summed per (day, app), by day then app.
pub(crate) fn daily_from_hourly(hourly: Vec<HourlyUsage>) -> Vec<DailyUsage> {
    let mut sums: HashMap<(NaiveDate, String), (u64, u64)> = HashMap::new();
    for h in hourly {
        let e = sums.entry((h.day, h.app)).or_default();
        e.0 = e.0.saturating_add(h.bytes_in);
        e.1 = e.1.saturating_add(h.bytes_out);
    }
    let mut out: Vec<DailyUsage> = sums
        .into_iter()
        .filter(|(_, (i, o))| *i + *o > 0)
        .map(|((day, app), (bytes_in, bytes_out))| DailyUsage {
            day,
            app,
            bytes_in,
            bytes_out,
        })
        .collect();
    sort_daily(&mut out);
    out
}

/// Hourly network rows summed per (day, app, network), in that order.
pub(crate) fn daily_networks_from_hourly(
    hourly: Vec<super::HourlyNetwork>,
) -> Vec<super::DailyNetwork> {
    let mut sums: std::collections::BTreeMap<
        (NaiveDate, String, crate::tick::NetworkId),
        (u64, u64),
    > = std::collections::BTreeMap::new();
    for h in hourly {
        let e = sums.entry((h.day, h.app, h.network)).or_default();
        e.0 = e.0.saturating_add(h.bytes_in);
        e.1 = e.1.saturating_add(h.bytes_out);
    }
    sums.into_iter()
        .filter(|(_, (i, o))| *i > 0 || *o > 0)
        .map(
            |((day, app, network), (bytes_in, bytes_out))| super::DailyNetwork {
                day,
                app,
                network,
                bytes_in,
                bytes_out,
            },
        )
        .collect()
}

/// By day, then app.
pub(crate) fn sort_daily(rows: &mut [DailyUsage]) {
    rows.sort_by(|a, b| (a.day, &a.app).cmp(&(b.day, &b.app)));
}

/// Destinations largest first (both ways together), then by app and address.
pub(crate) fn sort_destinations(rows: &mut [crate::store::DestinationTotal]) {
    rows.sort_by(|a, b| {
        let size = |r: &crate::store::DestinationTotal| r.bytes_in.saturating_add(r.bytes_out);
        size(b)
            .cmp(&size(a))
            .then_with(|| (&a.app, a.address).cmp(&(&b.app, b.address)))
    });
}
