//! A year of a made-up life, judged day by day as nbi judges it: each day's
//! hourly ticks go into a real SQLite store, each day is judged once it has
//! ended and its verdict stored (so flagged days stay out of later
//! baselines and lasting changes are learnt), and every verdict is held
//! against what the day really was.
//!
//! The life ([`LifePlan::year`]): the [`crate::synth`] persona in Berlin
//! (so both DST changes are in it) with weekends, public holidays, sick
//! days, two weeks of vacation (the laptop off, then idle at home), a week
//! of work from New York, a lasting change of work hours, a new video-call
//! app every workday, slow growth of everything, and anomalies of every
//! kind injected on ordinary days.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::intel::detector::ModelKind;
use crate::intel::verdict::{Status, Verdict, ROUTINE_TITLE};
use crate::intel::{judge_and_store, judge_so_far, IntelConfig, IntelError};
use crate::store::sqlite::SqliteStore;
use crate::store::TickWriter;
use crate::synth::{Generator, Scenario};
use crate::tick::{Destinations, Flow, Tick};

const HOST: &str = "life";
const MB: f64 = 1_000_000.0;

/// An anomaly laid over an ordinary day: each must be flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Injection {
    MoviesAtWork,
    WorkAppsEvening,
    StreamingAllNight,
    Burst3am,
    /// 2 GB sent by Dropbox at 02:00, nothing else unusual.
    UploadAtNight,
    /// 1.5 GB sent by Netflix in its busiest evening hour (21:00), where
    /// it downloads ~1.4 GB: the hour's total looks ordinary enough.
    UploadInBusyHour,
    /// 400 MB sent by Google Chrome at 15:00 to [`NEW_DESTINATION`], a
    /// hosting company in a country it never sent to.
    UploadToNewDestination,
}

impl Injection {
    pub const ALL: [Injection; 7] = [
        Injection::MoviesAtWork,
        Injection::WorkAppsEvening,
        Injection::StreamingAllNight,
        Injection::Burst3am,
        Injection::UploadAtNight,
        Injection::UploadInBusyHour,
        Injection::UploadToNewDestination,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Injection::MoviesAtWork => "movies during work hours",
            Injection::WorkAppsEvening => "work apps all evening",
            Injection::StreamingAllNight => "streaming all night",
            Injection::Burst3am => "large burst at 3 AM",
            Injection::UploadAtNight => "upload only, at night (2 GB)",
            Injection::UploadInBusyHour => "upload inside a busy hour (1.5 GB)",
            Injection::UploadToNewDestination => "upload to a new destination (400 MB)",
        }
    }

    fn needs_workday(self) -> bool {
        matches!(self, Injection::MoviesAtWork | Injection::WorkAppsEvening)
    }

    /// The local hour by which the anomaly has happened, for the
    /// same-day check (only the night-time kinds: the others take all day).
    fn done_by(self) -> Option<u32> {
        match self {
            Injection::Burst3am => Some(4),
            Injection::UploadAtNight => Some(3),
            Injection::UploadToNewDestination => Some(NEW_DESTINATION_HOUR as u32 + 1),
            _ => None,
        }
    }
}

/// What one day of the life is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Life {
    Ordinary,
    /// A public holiday on a weekday: a day off.
    Holiday,
    /// Home ill: no work apps, a little browsing.
    Sick,
    /// Away with the laptop off: nothing is watched.
    Away,
    /// On vacation at home: a quiet day off.
    Vacation,
    /// Working from New York (six hours behind): the same day, shifted.
    Travel,
    Injected(Injection),
}

impl Life {
    fn label(self) -> &'static str {
        match self {
            Life::Ordinary => "ordinary days",
            Life::Holiday => "public holidays",
            Life::Sick => "sick days",
            Life::Away => "away, laptop off",
            Life::Vacation => "vacation at home",
            Life::Travel => "working from New York (-6 h)",
            Life::Injected(i) => i.label(),
        }
    }
}

/// A made-up life: what each day is, and the lasting changes in it.
#[derive(Debug, Clone, PartialEq)]
pub struct LifePlan {
    pub start: NaiveDate,
    pub days: u32,
    pub tz: Tz,
    /// Days that are not ordinary (the rest are).
    pub special: BTreeMap<NaiveDate, Life>,
    /// From this day on, work starts and ends three hours later.
    pub later_hours_from: Option<NaiveDate>,
    /// From this day on, a new video-call app every workday.
    pub new_app_from: Option<NaiveDate>,
    /// From this day on, every workday night a backup through the browser
    /// to [`NEW_BACKUP`], which it never sent to before.
    pub new_destination_from: Option<NaiveDate>,
    /// Growth of all traffic over a year (0.3: 30 % more by its end).
    pub growth_per_year: f64,
    pub seed: u64,
}

/// The name of the app the plan brings in.
pub const NEW_APP: &str = "Microsoft Teams";

/// Where the injected uploads go: an address of a hosting company in Russia
/// (LLC Digital Network), which no app of the life ever talks to.
pub const NEW_DESTINATION: &str = "95.163.0.1";

/// Where the nightly backup of the lasting change goes (YANDEX LLC).
pub const NEW_BACKUP: &str = "5.255.255.5";

/// Where each app's bytes go, by share: addresses of the organisations
/// that serve such apps (the shipped address table names them).
fn usual_destinations(app: &str) -> &'static [(&'static str, f64)] {
    match app {
        "Slack" => &[("3.208.0.10", 1.0)],
        "zoom.us" => &[("170.114.10.5", 1.0)],
        "Google Chrome" => &[("142.250.74.110", 0.7), ("185.199.108.153", 0.3)],
        "Safari" => &[("17.253.144.10", 0.6), ("185.199.108.153", 0.4)],
        "Netflix" => &[("45.57.40.1", 1.0)],
        "Spotify" => &[("35.186.224.25", 1.0)],
        "Mail" => &[("17.253.144.10", 1.0)],
        "Dropbox" => &[("162.125.19.131", 1.0)],
        NEW_APP => &[("52.112.0.10", 1.0)],
        _ => &[],
    }
}

impl LifePlan {
    /// The year: 52 weeks from Mon 4 Jan 2027, events placed as a person's
    /// year has them, with three of each injected anomaly on ordinary days
    /// chosen by `seed` (none in the first five weeks, when the baselines
    /// are still learning, and none within three weeks of a change).
    pub fn year(seed: u64) -> LifePlan {
        let start = date(2027, 1, 4);
        let mut special = BTreeMap::new();
        for d in [
            date(2027, 1, 6),   // Epiphany (Wed)
            date(2027, 3, 26),  // Good Friday
            date(2027, 3, 29),  // Easter Monday
            date(2027, 5, 6),   // Ascension (Thu)
            date(2027, 5, 17),  // Whit Monday
            date(2027, 10, 1),  // a bridge day (Fri)
            date(2027, 12, 24), // Christmas Eve (Fri)
            date(2027, 12, 31), // New Year's Eve (Fri)
        ] {
            special.insert(d, Life::Holiday);
        }
        special.insert(date(2027, 2, 24), Life::Sick);
        for d in days_from(date(2027, 11, 9), 3) {
            special.insert(d, Life::Sick);
        }
        // Two weeks off from Sat 31 Jul: five days away, nine at home.
        for (i, d) in days_from(date(2027, 7, 31), 14).into_iter().enumerate() {
            special.insert(d, if i < 5 { Life::Away } else { Life::Vacation });
        }
        for d in days_from(date(2027, 6, 14), 5) {
            special.insert(d, Life::Travel);
        }
        let mut plan = LifePlan {
            start,
            days: 52 * 7,
            tz: chrono_tz::Europe::Berlin,
            special,
            later_hours_from: Some(date(2027, 4, 12)),
            new_app_from: Some(date(2027, 9, 13)),
            new_destination_from: Some(date(2027, 11, 22)),
            growth_per_year: 0.3,
            seed,
        };
        plan.inject(3);
        plan
    }

    /// Places `each` days of every [`Injection`] on ordinary days, chosen
    /// by the seed: after the first five weeks, three days apart from any
    /// other special day, and not within three weeks after a change.
    pub fn inject(&mut self, each: usize) {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0x1eaf);
        let end = self.start + Duration::days(i64::from(self.days));
        let changes: Vec<NaiveDate> = [
            self.later_hours_from,
            self.new_app_from,
            self.new_destination_from,
        ]
        .into_iter()
        .flatten()
        .collect();
        for kind in Injection::ALL {
            let mut placed = 0;
            let mut tries = 0;
            while placed < each && tries < 10_000 {
                tries += 1;
                let d = self.start + Duration::days(rng.random_range(35..i64::from(self.days)));
                let free = (-3..=3).all(|k| !self.special.contains_key(&(d + Duration::days(k))));
                let settled = changes
                    .iter()
                    .all(|c| d < *c || d >= *c + Duration::days(21));
                if d < end && free && settled && (!kind.needs_workday() || workday(d)) {
                    self.special.insert(d, Life::Injected(kind));
                    placed += 1;
                }
            }
        }
    }

    /// What day `d` is.
    pub fn life(&self, d: NaiveDate) -> Life {
        self.special.get(&d).copied().unwrap_or(Life::Ordinary)
    }

    /// The day's bytes per app and local hour: (in, out).
    fn day(&self, gen: &mut Generator, d: NaiveDate) -> BTreeMap<String, ([f64; 24], [f64; 24])> {
        let life = self.life(d);
        let work = workday(d) && !matches!(life, Life::Holiday | Life::Sick | Life::Vacation);
        let shares: BTreeMap<&str, f64> = gen.habits.iter().map(|h| (h.app, h.in_share)).collect();
        let names: Vec<String> = gen.habits.iter().map(|h| h.app.to_string()).collect();
        let mut totals: Vec<(String, [f64; 24])> =
            names.into_iter().zip(gen.hours_as(work)).collect();
        let work_apps = [
            "Slack",
            "zoom.us",
            "Google Chrome",
            "Spotify",
            "Mail",
            "Dropbox",
        ];
        if work && self.later_hours_from.is_some_and(|f| d >= f) {
            for (app, cells) in totals.iter_mut() {
                if work_apps.contains(&app.as_str()) {
                    cells.rotate_right(3);
                }
            }
        }
        // Anomalies happen at their own hours, whatever the routine.
        if let Life::Injected(i) = life {
            totals = gen.lay_over(totals, work, scenario_of(i));
        }
        if matches!(life, Life::Sick | Life::Vacation) {
            // At home, little of anything.
            for (app, cells) in totals.iter_mut() {
                let keep = if work_apps.contains(&app.as_str()) {
                    0.05
                } else {
                    0.5
                };
                cells.iter_mut().for_each(|c| *c *= keep);
            }
        }
        if life == Life::Travel {
            // The same local day, six hours behind home.
            for (_, cells) in totals.iter_mut() {
                cells.rotate_right(6);
            }
        }
        let mut day: BTreeMap<String, ([f64; 24], [f64; 24])> = BTreeMap::new();
        for (app, cells) in totals {
            let share = shares.get(app.as_str()).copied().unwrap_or(0.9);
            let entry = day.entry(app).or_insert(([0.0; 24], [0.0; 24]));
            for (h, bytes) in cells.iter().enumerate() {
                entry.0[h] += bytes * share;
                entry.1[h] += bytes * (1.0 - share);
            }
        }
        if work && self.new_app_from.is_some_and(|f| d >= f) {
            let noise = 1.0 + gen_noise(self.seed, d);
            let entry = day
                .entry(NEW_APP.to_string())
                .or_insert(([0.0; 24], [0.0; 24]));
            for (h, mb) in [(11, 500.0), (12, 500.0), (16, 250.0)] {
                entry.0[h] += mb * MB * 0.55 * noise;
                entry.1[h] += mb * MB * 0.45 * noise;
            }
        }
        match life {
            Life::Injected(Injection::UploadAtNight) => {
                day.entry("Dropbox".into())
                    .or_insert(([0.0; 24], [0.0; 24]))
                    .1[2] += 2_000.0 * MB;
            }
            Life::Injected(Injection::UploadInBusyHour) => {
                day.entry("Netflix".into())
                    .or_insert(([0.0; 24], [0.0; 24]))
                    .1[21] += 1_500.0 * MB;
            }
            Life::Injected(Injection::UploadToNewDestination) => {
                day.entry("Google Chrome".into())
                    .or_insert(([0.0; 24], [0.0; 24]))
                    .1[NEW_DESTINATION_HOUR] += 400.0 * MB;
            }
            _ => {}
        }
        if work && self.new_destination_from.is_some_and(|f| d >= f) {
            day.entry("Google Chrome".into())
                .or_insert(([0.0; 24], [0.0; 24]))
                .1[NEW_BACKUP_HOUR] += 250.0 * MB;
        }
        let grown =
            1.0 + self.growth_per_year * f64::from((d - self.start).num_days() as i32) / 365.0;
        for (down, up) in day.values_mut() {
            down.iter_mut()
                .chain(up.iter_mut())
                .for_each(|c| *c *= grown);
        }
        day
    }

    /// The day's hourly ticks in the plan's zone (none while away), each
    /// app's bytes split over its usual destinations; the uploads to a new
    /// destination go there. A local hour that does not exist (spring
    /// forward) has none; the repeated one (fall back) has its first pass.
    fn ticks(&self, gen: &mut Generator, d: NaiveDate) -> Vec<Tick> {
        let day = self.day(gen, d);
        let life = self.life(d);
        if life == Life::Away {
            return Vec::new();
        }
        let grown =
            1.0 + self.growth_per_year * f64::from((d - self.start).num_days() as i32) / 365.0;
        let work = workday(d) && !matches!(life, Life::Holiday | Life::Sick | Life::Vacation);
        // The bytes each hour sends somewhere new: (hour, address, bytes).
        let mut new_places: Vec<(usize, &str, f64)> = Vec::new();
        if life == Life::Injected(Injection::UploadToNewDestination) {
            new_places.push((NEW_DESTINATION_HOUR, NEW_DESTINATION, 400.0 * MB * grown));
        }
        if work && self.new_destination_from.is_some_and(|f| d >= f) {
            new_places.push((NEW_BACKUP_HOUR, NEW_BACKUP, 250.0 * MB * grown));
        }
        (0..24u32)
            .filter_map(|h| {
                let at = self
                    .tz
                    .from_local_datetime(&d.and_hms_opt(h, 0, 0)?)
                    .earliest()?
                    .with_timezone(&Utc);
                let h = h as usize;
                let apps = day.iter().map(|(app, (down, up))| {
                    let (down, mut up) = (down[h], up[h]);
                    let mut to = Destinations::new();
                    for (_, addr, bytes) in new_places
                        .iter()
                        .filter(|(hour, _, _)| *hour == h && app == "Google Chrome")
                    {
                        if let Ok(a) = addr.parse() {
                            to.insert(a, Flow::new(0, *bytes as u64));
                            up = (up - bytes).max(0.0);
                        }
                    }
                    for (addr, share) in usual_destinations(app) {
                        if let Ok(a) = addr.parse() {
                            to.entry(a)
                                .or_default()
                                .add(Flow::new((down * share) as u64, (up * share) as u64));
                        }
                    }
                    let total =
                        Flow::new(down as u64, (up + moved_new(&new_places, app, h)) as u64);
                    (app.clone(), total, to)
                });
                Some(Tick::from_flows(HOST, at, 3600, apps))
            })
            .collect()
    }
}

/// The local hour of the injected uploads to a new destination.
const NEW_DESTINATION_HOUR: usize = 15;
/// The local hour of the nightly backup of the lasting change.
const NEW_BACKUP_HOUR: usize = 1;

/// Bytes `app` sends to new places in hour `h`.
fn moved_new(places: &[(usize, &str, f64)], app: &str, h: usize) -> f64 {
    if app != "Google Chrome" {
        return 0.0;
    }
    places
        .iter()
        .filter(|(hour, _, _)| *hour == h)
        .map(|(_, _, b)| *b)
        .sum()
}

/// A small day-to-day wobble in [-0.15, 0.15), the same for a (seed, day).
fn gen_noise(seed: u64, d: NaiveDate) -> f64 {
    let mut rng =
        ChaCha8Rng::seed_from_u64(seed ^ (d.num_days_from_ce() as u64).wrapping_mul(0x9e37));
    rng.random_range(-0.15..0.15)
}

fn scenario_of(i: Injection) -> Scenario {
    match i {
        Injection::MoviesAtWork => Scenario::MoviesAtWork,
        Injection::WorkAppsEvening => Scenario::WorkAppsEvening,
        Injection::StreamingAllNight => Scenario::StreamingAllNight,
        Injection::Burst3am => Scenario::Burst3am,
        // Uploads are laid over an ordinary day.
        Injection::UploadAtNight
        | Injection::UploadInBusyHour
        | Injection::UploadToNewDestination => Scenario::Normal,
    }
}

fn workday(d: NaiveDate) -> bool {
    !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

fn days_from(first: NaiveDate, n: i64) -> Vec<NaiveDate> {
    (0..n).map(|i| first + Duration::days(i)).collect()
}

/// False alarms of one calendar month of normal life.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonthRow {
    /// "YYYY-MM".
    pub month: String,
    /// Days judged (normal or not) that were normal life.
    pub judged: usize,
    pub false_alarms: usize,
}

/// How the days of one kind of life were judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifeRow {
    pub label: String,
    pub should_flag: bool,
    pub days: usize,
    /// Days of it judged anomalous.
    pub flagged: usize,
    /// Days of it not judged (learning, not watched).
    pub not_judged: usize,
    /// Of the days whose anomaly is over by night (see the same-day
    /// check): how many were notified the same day, within the hour.
    pub same_day: Option<(usize, usize)>,
}

/// What became of a lasting change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeRow {
    pub label: String,
    pub since: NaiveDate,
    /// Alarms on days of the changed kind in the four weeks from `since`
    /// (injected days aside).
    pub alarms: usize,
    /// Days from `since` to the last such alarm (0: on the first day).
    pub last_alarm_after_days: Option<i64>,
    /// "Your routine changed" notices in those four weeks.
    pub notices: usize,
}

/// An alarm on a day of normal life.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FalseAlarm {
    pub day: NaiveDate,
    pub life: Life,
    pub summary: String,
}

/// The result of judging a life.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifeReport {
    pub model: ModelKind,
    pub days: usize,
    pub months: Vec<MonthRow>,
    pub false_alarms: Vec<FalseAlarm>,
    /// The alarms on injected days, as their summaries tell them.
    pub caught: Vec<FalseAlarm>,
    pub rows: Vec<LifeRow>,
    pub changes: Vec<ChangeRow>,
    pub seconds: f64,
}

impl LifeReport {
    /// False alarms on normal-life days, the most in any month.
    pub fn worst_month(&self) -> usize {
        self.months
            .iter()
            .map(|m| m.false_alarms)
            .max()
            .unwrap_or(0)
    }

    pub fn false_alarms(&self) -> usize {
        self.months.iter().map(|m| m.false_alarms).sum()
    }

    /// Recall over every injected kind: (caught, injected).
    pub fn recall(&self) -> (usize, usize) {
        self.rows
            .iter()
            .filter(|r| r.should_flag)
            .fold((0, 0), |(c, n), r| (c + r.flagged, n + r.days))
    }

    /// The goals: every injected day caught, at most one false alarm in
    /// any month, and each change learnt within 7 days with one notice.
    pub fn goal_met(&self) -> bool {
        let (caught, of) = self.recall();
        caught == of
            && self.worst_month() <= 1
            && self
                .changes
                .iter()
                .all(|c| c.notices == 1 && c.last_alarm_after_days.is_none_or(|d| d < 7))
    }

    /// The report as text tables.
    pub fn table(&self) -> String {
        let mut out = format!(
            "model {}: a year of life, {} days, judged in {:.0} s\n",
            self.model, self.days, self.seconds
        );
        out.push_str(&format!(
            "{:<38} {:>6} {:>5} {:>7} {:>10} {:>9}\n",
            "days", "expect", "days", "flagged", "not judged", "same day"
        ));
        for r in &self.rows {
            out.push_str(&format!(
                "{:<38} {:>6} {:>5} {:>7} {:>10} {:>9}\n",
                r.label,
                if r.should_flag { "flag" } else { "pass" },
                r.days,
                r.flagged,
                r.not_judged,
                r.same_day
                    .map(|(a, b)| format!("{a}/{b}"))
                    .unwrap_or_else(|| "-".into()),
            ));
        }
        out.push_str(&format!(
            "{:<38} {:>10} {:>7} {:>17}\n",
            "lasting change", "since", "alarms", "last alarm, notices"
        ));
        for c in &self.changes {
            out.push_str(&format!(
                "{:<38} {:>10} {:>7} {:>10} {:>8}\n",
                c.label,
                c.since,
                c.alarms,
                c.last_alarm_after_days
                    .map(|d| format!("day {d}"))
                    .unwrap_or_else(|| "none".into()),
                c.notices
            ));
        }
        let months: Vec<String> = self
            .months
            .iter()
            .map(|m| format!("{} {}", &m.month[5..], m.false_alarms))
            .collect();
        out.push_str(&format!("false alarms by month: {}\n", months.join(", ")));
        for f in &self.false_alarms {
            out.push_str(&format!(
                "  false alarm ({}): {}\n",
                f.life.label(),
                f.summary
            ));
        }
        for c in &self.caught {
            out.push_str(&format!("  caught ({}): {}\n", c.life.label(), c.summary));
        }
        let (caught, of) = self.recall();
        out.push_str(&format!(
            "recall {caught}/{of}, false alarms {} (at most {} in a month): goal {}\n",
            self.false_alarms(),
            self.worst_month(),
            if self.goal_met() { "met" } else { "NOT met" }
        ));
        out
    }
}

/// Judges the life of `plan` with `config` (its model, epochs and seed),
/// day by day, in a SQLite store under `dir`; `progress(done, of)` after
/// each day.
///
/// # Errors
/// A store or model error, as judging meets it.
pub fn run(
    plan: &LifePlan,
    config: &IntelConfig,
    dir: &std::path::Path,
    mut progress: impl FnMut(usize, usize),
) -> Result<LifeReport, IntelError> {
    let began = Instant::now();
    let path = dir.join(format!("life-{}-{}.sqlite", config.model, plan.seed));
    let _ = std::fs::remove_file(&path);
    let mut store = SqliteStore::open(&path)?;
    let mut gen = Generator::new(plan.seed);
    let total = plan.days as usize;
    let mut verdicts: Vec<(Verdict, Option<bool>)> = Vec::with_capacity(total);
    for i in 0..plan.days {
        let d = plan.start + Duration::days(i64::from(i));
        store.write(&plan.ticks(&mut gen, d))?;
        // The night-time anomalies are also checked the same day, as the
        // running app does: by the hour after they happened.
        let same_day = match plan.life(d) {
            Life::Injected(kind) => match kind.done_by() {
                Some(hour) => {
                    let at = local(plan.tz, d, hour, 10);
                    Some(
                        judge_so_far(&store, HOST, at, plan.tz, config)?
                            .is_some_and(|j| j.verdict.status == Status::Anomalous),
                    )
                }
                None => None,
            },
            _ => None,
        };
        let now = local(plan.tz, d + Duration::days(1), 0, 10);
        let verdict = judge_and_store(&mut store, HOST, d, plan.tz, config, now)?;
        verdicts.push((verdict, same_day));
        progress(i as usize + 1, total);
    }
    let _ = std::fs::remove_file(&path);
    Ok(report(
        plan,
        config.model,
        &verdicts,
        began.elapsed().as_secs_f64(),
    ))
}

fn local(tz: Tz, d: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    d.and_hms_opt(h, m, 0)
        .and_then(|t| tz.from_local_datetime(&t).earliest())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

fn report(
    plan: &LifePlan,
    model: ModelKind,
    verdicts: &[(Verdict, Option<bool>)],
    seconds: f64,
) -> LifeReport {
    let changes: Vec<(&str, NaiveDate)> = [
        ("work three hours later", plan.later_hours_from),
        ("a new video-call app every workday", plan.new_app_from),
        (
            "nightly backups to a new destination",
            plan.new_destination_from,
        ),
    ]
    .into_iter()
    .filter_map(|(l, d)| Some((l, d?)))
    .collect();
    // The days a change may still alarm on: its kind, four weeks from it.
    let in_change = |d: NaiveDate| {
        changes
            .iter()
            .find(|(_, since)| workday(d) && d >= *since && d < *since + Duration::days(28))
    };
    let alarm = |v: &Verdict| v.status == Status::Anomalous;
    let judged = |v: &Verdict| matches!(v.status, Status::Normal | Status::Anomalous);

    let mut months: BTreeMap<String, MonthRow> = BTreeMap::new();
    let mut false_alarms = Vec::new();
    let mut caught = Vec::new();
    let mut rows: BTreeMap<Life, LifeRow> = BTreeMap::new();
    for (v, same_day) in verdicts {
        let life = plan.life(v.day);
        let injected = matches!(life, Life::Injected(_));
        let row = rows.entry(life).or_insert_with(|| LifeRow {
            label: life.label().to_string(),
            should_flag: injected,
            days: 0,
            flagged: 0,
            not_judged: 0,
            same_day: None,
        });
        row.days += 1;
        row.flagged += usize::from(alarm(v));
        row.not_judged += usize::from(!judged(v));
        if let Some(caught) = same_day {
            let (a, b) = row.same_day.unwrap_or((0, 0));
            row.same_day = Some((a + usize::from(*caught), b + 1));
        }
        if injected && alarm(v) {
            caught.push(FalseAlarm {
                day: v.day,
                life,
                summary: v.summary.clone(),
            });
        }
        // Normal life: not injected, not a change still being learnt, not
        // abroad (judged in the home zone, a shifted day is news).
        if injected || in_change(v.day).is_some() || life == Life::Travel {
            continue;
        }
        let month = months
            .entry(v.day.format("%Y-%m").to_string())
            .or_insert_with(|| MonthRow {
                month: v.day.format("%Y-%m").to_string(),
                judged: 0,
                false_alarms: 0,
            });
        month.judged += usize::from(judged(v));
        month.false_alarms += usize::from(alarm(v));
        if alarm(v) {
            false_alarms.push(FalseAlarm {
                day: v.day,
                life,
                summary: v.summary.clone(),
            });
        }
    }
    let changes = changes
        .iter()
        .map(|(label, since)| {
            let window: Vec<&Verdict> = verdicts
                .iter()
                .map(|(v, _)| v)
                .filter(|v| in_change(v.day).is_some_and(|(_, s)| s == since))
                .filter(|v| !matches!(plan.life(v.day), Life::Injected(_)))
                .collect();
            let alarms: Vec<&&Verdict> = window
                .iter()
                .filter(|v| v.status == Status::Anomalous)
                .collect();
            ChangeRow {
                label: label.to_string(),
                since: *since,
                alarms: alarms.len(),
                last_alarm_after_days: alarms.last().map(|v| (v.day - *since).num_days()),
                notices: window
                    .iter()
                    .filter_map(|v| v.notice())
                    .filter(|n| n.title == ROUTINE_TITLE)
                    .count(),
            }
        })
        .collect();
    LifeReport {
        model,
        days: verdicts.len(),
        months: months.into_values().collect(),
        false_alarms,
        caught,
        rows: rows.into_values().collect(),
        changes,
        seconds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_year_holds_every_kind_of_day_and_three_of_each_anomaly() {
        let plan = LifePlan::year(1);
        assert_eq!(plan.days, 364);
        assert_eq!(plan.start.weekday(), Weekday::Mon);
        let count = |l: Life| plan.special.values().filter(|x| **x == l).count();
        for i in Injection::ALL {
            assert_eq!(count(Life::Injected(i)), 3, "{i:?}");
        }
        assert_eq!(count(Life::Away), 5);
        assert_eq!(count(Life::Travel), 5);
        for (d, l) in &plan.special {
            if let Life::Injected(i) = l {
                assert!(*d >= plan.start + Duration::days(35), "{d}");
                assert!(!i.needs_workday() || workday(*d), "{d} {i:?}");
            }
        }
        // Seeded: the same plan every time, another with another seed.
        assert_eq!(plan, LifePlan::year(1));
        assert_ne!(plan.special, LifePlan::year(2).special);
    }

    #[test]
    fn days_carry_what_the_plan_says() {
        let plan = LifePlan::year(1);
        let mut gen = Generator::new(1);
        let total = |day: &BTreeMap<String, ([f64; 24], [f64; 24])>, app: &str, h: usize| {
            day.get(app).map_or(0.0, |(i, o)| i[h] + o[h])
        };
        // Before the change Slack is busy at 09:00; after it, at 12:00 and
        // not at 09:00.
        let before = plan.day(&mut gen, date(2027, 4, 7));
        let after = plan.day(&mut gen, date(2027, 4, 14));
        assert!(total(&before, "Slack", 9) > 1e6 && total(&after, "Slack", 9) < 1e6);
        assert!(total(&after, "Slack", 12) > 1e6);
        let teams = plan.day(&mut gen, date(2027, 9, 14));
        assert!(total(&teams, NEW_APP, 11) > 100e6);
        assert!(plan.ticks(&mut gen, date(2027, 7, 31)).is_empty(), "away");
        // Spring forward: 23 ticks; fall back: 24 (the repeated hour once).
        assert_eq!(plan.ticks(&mut gen, date(2027, 3, 28)).len(), 23);
        assert_eq!(plan.ticks(&mut gen, date(2027, 10, 31)).len(), 24);
    }

    /// Ten weeks: the work hours move three hours later from week 6, one
    /// upload at night in week 9 and a public holiday in week 5.
    #[test]
    fn a_short_life_learns_its_change_and_catches_its_upload() {
        let start = date(2027, 1, 4);
        let mut special = BTreeMap::new();
        special.insert(date(2027, 2, 3), Life::Holiday);
        special.insert(date(2027, 3, 3), Life::Injected(Injection::UploadAtNight));
        let plan = LifePlan {
            start,
            days: 70,
            tz: chrono_tz::Europe::Berlin,
            special,
            later_hours_from: Some(date(2027, 2, 8)),
            new_app_from: None,
            new_destination_from: None,
            growth_per_year: 0.3,
            seed: 3,
        };
        let config = IntelConfig {
            epochs: 40,
            ..IntelConfig::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let mut calls = 0;
        let r = run(&plan, &config, dir.path(), |_, _| calls += 1).unwrap();
        assert_eq!(calls, 70);
        let text = r.table();
        let upload = r.rows.iter().find(|x| x.should_flag).unwrap();
        assert_eq!((upload.flagged, upload.days), (1, 1), "{text}");
        assert_eq!(upload.same_day, Some((1, 1)), "{text}");
        let change = &r.changes[0];
        assert_eq!(change.notices, 1, "{text}");
        assert!(change.last_alarm_after_days.is_none_or(|d| d < 7), "{text}");
        let holiday = r
            .rows
            .iter()
            .find(|x| x.label == "public holidays")
            .unwrap();
        assert_eq!((holiday.days, holiday.flagged), (1, 0), "{text}");
        // The false alarms listed are those counted by month.
        assert_eq!(r.false_alarms.len(), r.false_alarms(), "{text}");
        assert_eq!(r.days, 70);
        assert!(text.contains("upload only, at night (2 GB)"), "{text}");
    }
}
