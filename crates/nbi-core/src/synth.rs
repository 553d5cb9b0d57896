//! Synthetic history for a made-up person, for `nbi demo` and for evaluating
//! the detector: quiet nights, steady work apps on workdays, streaming in the
//! evening, right-skewed multiplicative noise. Seeded, so runs repeat exactly.

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use chrono_tz::Tz;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};

use crate::store::local_day_bounds;
use crate::tick::Tick;

const MB: f64 = 1_000_000.0;

/// When an app is busy, and how much.
#[derive(Debug, Clone)]
pub struct Habit {
    pub app: &'static str,
    /// Typical bytes per hour (in + out) for each local hour, on workdays.
    pub workday: [f64; 24],
    /// The same on days off.
    pub day_off: [f64; 24],
    /// Share of the bytes that are downloads.
    pub in_share: f64,
    /// Spread of the hour-to-hour log-normal noise.
    pub sigma: f64,
}

fn hours(ranges: &[(u32, u32, f64)], base: f64) -> [f64; 24] {
    let mut h = [base; 24];
    for &(from, to, v) in ranges {
        for slot in h.iter_mut().take(to as usize).skip(from as usize) {
            *slot = v;
        }
    }
    h
}

/// The made-up person: a developer who works 9–17 on weekdays, meets on
/// Zoom twice a day, streams in the evening and sleeps at night.
pub fn default_persona() -> Vec<Habit> {
    vec![
        Habit {
            app: "Slack",
            workday: hours(&[(9, 17, 6.0 * MB), (17, 20, 1.0 * MB)], 0.05 * MB),
            day_off: hours(&[(10, 20, 0.4 * MB)], 0.02 * MB),
            in_share: 0.8,
            sigma: 0.35,
        },
        Habit {
            app: "zoom.us",
            workday: hours(&[(10, 11, 350.0 * MB), (14, 15, 300.0 * MB)], 0.0),
            day_off: hours(&[], 0.0),
            in_share: 0.55,
            sigma: 0.25,
        },
        Habit {
            app: "Google Chrome",
            workday: hours(&[(9, 17, 60.0 * MB), (17, 23, 15.0 * MB)], 0.3 * MB),
            day_off: hours(&[(10, 23, 25.0 * MB)], 0.2 * MB),
            in_share: 0.9,
            sigma: 0.5,
        },
        Habit {
            app: "Safari",
            workday: hours(&[(7, 9, 8.0 * MB), (19, 23, 12.0 * MB)], 0.05 * MB),
            day_off: hours(&[(9, 23, 15.0 * MB)], 0.05 * MB),
            in_share: 0.92,
            sigma: 0.5,
        },
        Habit {
            app: "Netflix",
            workday: hours(&[(20, 23, 1_400.0 * MB)], 0.0),
            day_off: hours(&[(15, 17, 900.0 * MB), (20, 24, 1_600.0 * MB)], 0.0),
            in_share: 0.98,
            sigma: 0.2,
        },
        Habit {
            app: "Spotify",
            workday: hours(&[(9, 17, 45.0 * MB)], 0.0),
            day_off: hours(&[(11, 14, 40.0 * MB)], 0.0),
            in_share: 0.97,
            sigma: 0.3,
        },
        Habit {
            app: "Mail",
            workday: hours(&[(8, 19, 2.0 * MB)], 0.2 * MB),
            day_off: hours(&[(9, 21, 0.6 * MB)], 0.1 * MB),
            in_share: 0.7,
            sigma: 0.6,
        },
        Habit {
            app: "Dropbox",
            workday: hours(&[(9, 18, 4.0 * MB)], 0.5 * MB),
            day_off: hours(&[], 0.4 * MB),
            in_share: 0.5,
            sigma: 0.8,
        },
    ]
}

/// Which days are workdays.
pub fn is_workday(day: NaiveDate) -> bool {
    !matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

/// Generates a person's traffic.
pub struct Generator {
    pub habits: Vec<Habit>,
    rng: ChaCha8Rng,
}

impl Generator {
    pub fn new(seed: u64) -> Generator {
        Generator {
            habits: default_persona(),
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Bytes per app per local hour of one day: `[app][hour]` (in + out).
    pub fn day_hours(&mut self, day: NaiveDate) -> Vec<[f64; 24]> {
        let work = is_workday(day);
        // A day-level mood: some days are busier than others.
        let mood = LogNormal::new(0.0, 0.15)
            .map(|d| d.sample(&mut self.rng))
            .unwrap_or(1.0);
        let habits = self.habits.clone();
        habits
            .iter()
            .map(|h| {
                let profile = if work { &h.workday } else { &h.day_off };
                let noise = LogNormal::new(0.0, h.sigma).ok();
                let mut out = [0.0; 24];
                for (slot, typical) in out.iter_mut().zip(profile) {
                    let n = noise
                        .as_ref()
                        .map(|d| d.sample(&mut self.rng))
                        .unwrap_or(1.0);
                    *slot = typical * mood * n;
                }
                out
            })
            .collect()
    }

    /// Per-minute ticks of one local day (or of its part before `until`),
    /// spreading each hour's bytes unevenly over its minutes.
    pub fn day_ticks(
        &mut self,
        host: &str,
        day: NaiveDate,
        tz: Tz,
        until: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Vec<Tick> {
        let hours = self.day_hours(day);
        let bounds = local_day_bounds(day, tz);
        let minutes = (bounds.seconds() / 60) as usize;
        let mut per_minute: Vec<Vec<(String, (u64, u64))>> = vec![Vec::new(); minutes];
        for (habit, by_hour) in self.habits.clone().iter().zip(&hours) {
            for (m, slot) in per_minute.iter_mut().enumerate() {
                let at = bounds.start + Duration::minutes(m as i64);
                let (_, hour) = crate::store::timeline::local_day_hour(at, tz);
                let hour_bytes = by_hour[hour as usize];
                if hour_bytes < 1.0 {
                    continue;
                }
                // Bursty minutes: exponential weights average to one.
                let w: f64 = -(1.0 - self.rng.random::<f64>()).ln();
                let bytes = hour_bytes / 60.0 * w;
                let i = (bytes * habit.in_share) as u64;
                let o = (bytes * (1.0 - habit.in_share)) as u64;
                if i + o > 0 {
                    slot.push((habit.app.to_string(), (i, o)));
                }
            }
        }
        per_minute
            .into_iter()
            .enumerate()
            .map(|(m, apps)| (bounds.start + Duration::minutes(m as i64), apps))
            .filter(|(at, _)| until.is_none_or(|u| *at + Duration::minutes(1) <= u))
            .map(|(at, apps)| Tick::from_totals(host, at, 60, apps))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_days() {
        let day = NaiveDate::from_ymd_opt(2026, 7, 13).unwrap();
        let a = Generator::new(7).day_hours(day);
        let b = Generator::new(7).day_hours(day);
        let c = Generator::new(8).day_hours(day);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn nights_are_quiet_and_evenings_stream() {
        let mut g = Generator::new(1);
        let monday = NaiveDate::from_ymd_opt(2026, 7, 13).unwrap();
        let h = g.day_hours(monday);
        let total = |hour: usize| h.iter().map(|a| a[hour]).sum::<f64>();
        assert!(total(3) < 5.0 * MB, "3 AM: {}", total(3));
        assert!(total(21) > 500.0 * MB, "9 PM: {}", total(21));
        assert!(total(11) > 20.0 * MB);
    }

    #[test]
    fn ticks_add_up_to_about_the_hourly_bytes() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 10, 25).unwrap();
        let ticks = Generator::new(3).day_ticks("demo", day, tz, None);
        assert_eq!(ticks.len(), 25 * 60, "a 25-hour day has 1500 minutes");
        let total: u64 = ticks.iter().map(|t| t.total_in() + t.total_out()).sum();
        let hours: f64 = Generator::new(3).day_hours(day).iter().flatten().sum();
        // The repeated hour gets bytes twice; allow for it and for noise.
        let ratio = total as f64 / hours;
        assert!((0.8..1.4).contains(&ratio), "ratio {ratio}");
    }
}
