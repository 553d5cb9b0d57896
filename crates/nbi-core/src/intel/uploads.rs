//! Uploads as a signal of their own. The day matrix adds bytes in and out,
//! so an upload inside an hour that usually downloads a lot (a browser's
//! evening of video) hides in its cell. Here each app's bytes sent in each
//! hour are held against the most it sent in that hour on any baseline
//! day: far more than ever, by at least the byte floor, is unusual.

use super::matrix::DayUsage;
use super::stats::median;
use super::verdict::{largest_first, runs_of_hours, Direction, Explanation};

/// How many times the most an app ever sent in an hour a new hour must send
/// to count (with at least the byte floor more).
pub const TIMES_THE_MOST: f64 = 3.0;

/// Runs of hours in which an app of `day` sent at least
/// [`TIMES_THE_MOST`] × and `floor` bytes more than the most it sent in the
/// same hour on any `baseline` day; `bytes` is what it sent, `typical_bytes`
/// the baseline's median for those hours. Hours not watched are skipped.
/// Largest first.
pub fn unusual_uploads(day: &DayUsage, baseline: &[&DayUsage], floor: f64) -> Vec<Explanation> {
    let mut runs: Vec<Explanation> = Vec::new();
    for (app, sent) in &day.out {
        runs.extend(runs_of_hours(app, Some(Direction::Upload), |hour| {
            let usual: Vec<f64> = baseline
                .iter()
                .map(|b| b.out.get(app).map_or(0.0, |c| c[hour]))
                .collect();
            let most = usual.iter().copied().fold(0.0f64, f64::max);
            let unusual = !day.uncollected[hour]
                && !day.absent[hour]
                && sent[hour] - most >= floor
                && sent[hour] >= TIMES_THE_MOST * most;
            unusual.then(|| (sent[hour], median(usual)))
        }));
    }
    largest_first(&mut runs);
    runs
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    /// A browser that downloads 1.5 GB and sends `sent[h]` in each evening
    /// hour 19-22.
    fn evening(day: u32, sent: [f64; 4]) -> DayUsage {
        let mut all = [1e6; 24];
        let mut out = [1e5; 24];
        for (i, h) in (19..23).enumerate() {
            all[h] = 1.5e9 + sent[i];
            out[h] = sent[i];
        }
        let mut d = DayUsage::complete(
            NaiveDate::from_ymd_opt(2026, 6, day).unwrap(),
            [("Web browsers".to_string(), all)],
        );
        d.out.insert("Web browsers".into(), out);
        d
    }

    #[test]
    fn an_upload_inside_a_busy_hour_is_seen_and_a_usual_one_is_not() {
        let base: Vec<DayUsage> = (1..=14)
            .map(|d| evening(d, [30e6, 25e6 + f64::from(d) * 1e6, 35e6, 20e6]))
            .collect();
        let refs: Vec<&DayUsage> = base.iter().collect();
        let usual = evening(15, [40e6, 30e6, 38e6, 22e6]);
        assert!(unusual_uploads(&usual, &refs, 2e8).is_empty());
        let leak = evening(16, [30e6, 2e9, 35e6, 20e6]);
        let runs = unusual_uploads(&leak, &refs, 2e8);
        assert_eq!(runs.len(), 1, "{runs:?}");
        let r = &runs[0];
        assert_eq!(
            (r.app.as_str(), r.from_hour, r.to_hour),
            ("Web browsers", 20, 21)
        );
        assert_eq!(r.bytes, 2_000_000_000);
        assert_eq!(r.typical_bytes, 32_500_000);
        assert_eq!(
            r.sentence(),
            "Web browsers 20:00–21:00, uploaded 2.0 GB (typically 32 MB)"
        );
        // Below the byte floor it is no signal, however many times more.
        let small = evening(16, [30e6, 150e6, 35e6, 20e6]);
        assert!(unusual_uploads(&small, &refs, 2e8).is_empty());
        // An hour not watched is not judged.
        let mut unwatched = leak.clone();
        unwatched.uncollected[20] = true;
        assert!(unusual_uploads(&unwatched, &refs, 2e8).is_empty());
    }
}
