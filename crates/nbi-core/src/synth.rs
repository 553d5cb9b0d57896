//! Synthetic history for a made-up person, for `nbi demo` and for evaluating
//! the detector: quiet nights, steady work apps on workdays, streaming in the
//! evening, right-skewed multiplicative noise. Seeded, so runs repeat exactly.

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use chrono_tz::Tz;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};
use serde::{Deserialize, Serialize};

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
        self.hours_as(is_workday(day))
    }

    /// Bytes per app per local hour of a workday (`work`) or a day off,
    /// whatever the date: a holiday is a day off on a weekday.
    pub fn hours_as(&mut self, work: bool) -> Vec<[f64; 24]> {
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

/// Kinds of test days for evaluating the detector: a normal day, four that
/// must be flagged, and two benign variations that must not be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    Normal,
    MoviesAtWork,
    WorkAppsEvening,
    StreamingAllNight,
    Burst3am,
    BrowserSwap,
    SlackLink,
}

impl Scenario {
    pub const ALL: [Scenario; 7] = [
        Scenario::Normal,
        Scenario::MoviesAtWork,
        Scenario::WorkAppsEvening,
        Scenario::StreamingAllNight,
        Scenario::Burst3am,
        Scenario::BrowserSwap,
        Scenario::SlackLink,
    ];

    /// What a person would call it.
    pub fn label(self) -> &'static str {
        match self {
            Scenario::Normal => "normal day",
            Scenario::MoviesAtWork => "movies during work hours",
            Scenario::WorkAppsEvening => "work apps all evening",
            Scenario::StreamingAllNight => "streaming all night",
            Scenario::Burst3am => "large burst at 3 AM",
            Scenario::BrowserSwap => "Chrome instead of Safari for an hour",
            Scenario::SlackLink => "Slack link: 1 MB to 20 MB in an hour",
        }
    }

    /// Whether a good detector flags this kind of day.
    pub fn is_anomaly(self) -> bool {
        matches!(
            self,
            Scenario::MoviesAtWork
                | Scenario::WorkAppsEvening
                | Scenario::StreamingAllNight
                | Scenario::Burst3am
        )
    }

    /// Kinds that only make sense on a workday.
    pub fn needs_workday(self) -> bool {
        matches!(self, Scenario::MoviesAtWork | Scenario::WorkAppsEvening)
    }
}

impl Generator {
    /// Bytes per app per local hour of one day, by app name.
    pub fn named_day_hours(&mut self, day: NaiveDate) -> Vec<(String, [f64; 24])> {
        let hours = self.day_hours(day);
        self.habits
            .iter()
            .map(|h| h.app.to_string())
            .zip(hours)
            .collect()
    }

    /// One day of the given kind: a normal day with the scenario laid over it.
    pub fn scenario_day(&mut self, day: NaiveDate, scenario: Scenario) -> Vec<(String, [f64; 24])> {
        let apps = self.named_day_hours(day);
        self.lay_over(apps, is_workday(day), scenario)
    }

    /// The scenario laid over the bytes of a day (`apps`, per app and local
    /// hour) of a workday (`work`) or a day off.
    pub fn lay_over(
        &mut self,
        mut apps: Vec<(String, [f64; 24])>,
        work: bool,
        scenario: Scenario,
    ) -> Vec<(String, [f64; 24])> {
        let noise = |rng: &mut ChaCha8Rng, sigma: f64| {
            LogNormal::new(0.0, sigma)
                .map(|d| d.sample(rng))
                .unwrap_or(1.0)
        };
        let rng = &mut self.rng;
        let set = |apps: &mut Vec<(String, [f64; 24])>, app: &str, hour: usize, v: f64| match apps
            .iter_mut()
            .find(|(a, _)| a == app)
        {
            Some((_, h)) => h[hour] = v,
            None => {
                let mut h = [0.0; 24];
                h[hour] = v;
                apps.push((app.to_string(), h));
            }
        };
        let get = |apps: &[(String, [f64; 24])], app: &str, hour: usize| {
            apps.iter()
                .find(|(a, _)| a == app)
                .map(|(_, h)| h[hour])
                .unwrap_or(0.0)
        };
        match scenario {
            Scenario::Normal => {}
            Scenario::MoviesAtWork => {
                for hour in 10..16 {
                    let v = get(&apps, "Netflix", hour) + 1_200.0 * MB * noise(rng, 0.2);
                    set(&mut apps, "Netflix", hour, v);
                }
            }
            Scenario::WorkAppsEvening => {
                for hour in 18..24 {
                    set(&mut apps, "Slack", hour, 6.0 * MB * noise(rng, 0.35));
                    set(&mut apps, "zoom.us", hour, 300.0 * MB * noise(rng, 0.25));
                    set(
                        &mut apps,
                        "Google Chrome",
                        hour,
                        60.0 * MB * noise(rng, 0.5),
                    );
                    set(&mut apps, "Netflix", hour, 0.0);
                }
            }
            Scenario::StreamingAllNight => {
                for hour in 0..7 {
                    set(&mut apps, "Netflix", hour, 1_400.0 * MB * noise(rng, 0.2));
                }
            }
            Scenario::Burst3am => {
                let i = rng.random_range(0..apps.len());
                let app = apps[i].0.clone();
                let v = get(&apps, &app, 3) + rng.random_range(2_000.0..6_000.0) * MB;
                set(&mut apps, &app, 3, v);
            }
            Scenario::BrowserSwap => {
                let hour = if work {
                    rng.random_range(19..23)
                } else {
                    rng.random_range(9..23)
                };
                let moved = get(&apps, "Safari", hour);
                let chrome = get(&apps, "Google Chrome", hour);
                set(&mut apps, "Google Chrome", hour, chrome + moved);
                set(&mut apps, "Safari", hour, 0.0);
            }
            Scenario::SlackLink => {
                let hour = if work {
                    rng.random_range(17..20)
                } else {
                    rng.random_range(10..20)
                };
                set(&mut apps, "Slack", hour, 20.0 * MB * noise(rng, 0.1));
            }
        }
        apps
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

    #[test]
    fn scenarios_change_what_they_say() {
        let monday = NaiveDate::from_ymd_opt(2026, 7, 13).unwrap();
        let normal = Generator::new(5).scenario_day(monday, Scenario::Normal);
        let get = |d: &[(String, [f64; 24])], app: &str, h: usize| {
            d.iter().find(|(a, _)| a == app).map(|(_, v)| v[h]).unwrap()
        };
        let night = Generator::new(5).scenario_day(monday, Scenario::StreamingAllNight);
        assert!(get(&night, "Netflix", 3) > 500.0 * MB);
        assert_eq!(get(&normal, "Netflix", 3), 0.0);
        let link = Generator::new(5).scenario_day(monday, Scenario::SlackLink);
        let spiked = (17..20)
            .filter(|h| get(&link, "Slack", *h) > 10.0 * MB)
            .count();
        assert_eq!(spiked, 1);
        let swap = Generator::new(5).scenario_day(monday, Scenario::BrowserSwap);
        let total = |d: &[(String, [f64; 24])]| -> f64 {
            d.iter().map(|(_, h)| h.iter().sum::<f64>()).sum()
        };
        assert!(
            (total(&swap) - total(&normal)).abs() < 1.0,
            "bytes only move"
        );
        assert_eq!(
            (19..23).filter(|h| get(&swap, "Safari", *h) == 0.0).count(),
            1
        );
    }
}
